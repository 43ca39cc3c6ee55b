"""Tests of ``jtoolkit/_src/tensor/shape.py`` (``cat``, ``chunk``, ``flatten``,
``permute``, ``repeat``, ``reshape``, ``split``, ``squeeze``, ``stack``, ``view``;
the split/chunk tests came from test_split.py when split.py was folded in).

Moved from test_tensor_ops.py, test_tensor_ops_errors.py, test_tensor_ops_more.py,
test_tensor_ops_parity.py when the tests were laid out to mirror the code; those files'
notes:

test_tensor_ops.py:
tensor_ops: the tutorial's printed examples, creation and dtype inference.

The seed's numbers are plain tests (no torch needed); dtype inference is also
checked against torch by category (torch's int64/float64 are JAX's default int/
float without ``jax_enable_x64``).

test_tensor_ops_errors.py:
tensor_ops raises torch's exception type with torch's text (plus hints).

Each case runs the same bad call through torch and jtoolkit: the types must be
equal and torch's message must appear in ours. Errors are raised while tracing,
so ``jax.jit`` callers see them too, never an XLA traceback.

test_tensor_ops_more.py:
The second wave of tensor_ops (factories, reductions, matmul family, softmax,
selection, shape and split ops) against torch: values, dtypes, gradients (torch
autograd as the oracle, both sides differentiating ``sum(op(x) * w)``), under
``jax.jit``, and torch's exception types.

test_tensor_ops_parity.py:
tensor_ops against torch on random inputs: values, dtypes and gradients,
eagerly and under ``jax.jit``.

Gradients use torch autograd as the oracle: both sides differentiate
``sum(op(inputs) * w)`` for a random ``w``.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.tensor_ops as T
from tests.tensor._harness import (
    Z23,
    Z32,
    _inputs,
    _x,
    check,
)


def test_seed_stack_dims_0_and_1():
    A = T.tensor([[1, 2], [3, 4]])
    B = T.tensor([[5, 6], [7, 8]])
    C = T.stack((A, B), dim=0)
    assert C.shape == (2, 2, 2)
    assert C.tolist() == [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    D = T.stack((A, B), dim=1)
    assert D.shape == (2, 2, 2)
    assert D.tolist() == [[[1, 2], [5, 6]], [[3, 4], [7, 8]]]


def test_seed_stack_and_cat_use_cases():
    key = T.manual_seed(0)
    k1, k2 = jax.random.split(key)
    A, B = T.randn(k1, 2, 3), T.randn(k2, 2, 3)
    C = T.cat((A, B), dim=0)
    D = T.cat((A, B), dim=1)
    assert C.shape == (4, 3) and D.shape == (2, 6)
    np.testing.assert_array_equal(C, np.concatenate([A, B], 0))
    np.testing.assert_array_equal(D, np.concatenate([A, B], 1))
    # shapes only: zeros (Tensor(*sizes)) avoid compiling a sampler per shape
    img1, img2 = T.Tensor(3, 224, 224), T.Tensor(3, 224, 224)
    assert T.stack((img1, img2), dim=0).shape == (2, 3, 224, 224)
    assert T.stack((T.Tensor(256), T.Tensor(256)), dim=0).shape == (2, 256)
    assert T.cat((T.Tensor(10, 512), T.Tensor(10, 256)), dim=1).shape == (10, 768)
    conv = (T.Tensor(32, 64, 64), T.Tensor(32, 64, 64))
    assert T.cat(conv, dim=0).shape == (64, 64, 64)


def test_seed_stack_errors():
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal"):
        T.stack((jnp.zeros((2, 3)), jnp.zeros((3, 2))))
    with pytest.raises(IndexError, match=r"Dimension out of range"):
        T.stack((jnp.zeros((2, 3)), jnp.zeros((2, 3))), dim=3)


def test_exact_texts_from_the_issue():
    with pytest.raises(
        RuntimeError,
        match=re.escape(
            "stack expects each tensor to be equal size, but got [2, 3] at entry 0 "
            "and [3, 2] at entry 1"
        ),
    ):
        T.stack((Z23, Z32))
    with pytest.raises(
        IndexError,
        match=re.escape(
            "Dimension out of range (expected to be in range of [-3, 2], but got 3)"
        ),
    ):
        T.stack((Z23, Z23), dim=3)
    with pytest.raises(
        RuntimeError,
        match=re.escape("mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)"),
    ):
        T.mm(Z23, Z23)
    with pytest.raises(
        RuntimeError, match=re.escape("shape '[4]' is invalid for input of size 6")
    ):
        T.view(np.arange(6), 4)


SHAPE_CASES = {
    "reshape": (lambda a: T.reshape(a, (4, -1)), lambda a: a.reshape(4, -1)),
    "reshape_ints": (lambda a: T.reshape(a, 2, 30), lambda a: a.reshape(2, 30)),
    "flatten": (lambda a: T.flatten(a), lambda a: a.flatten()),
    "flatten_mid": (lambda a: T.flatten(a, 1, 2), lambda a: a.flatten(1, 2)),
    "flatten_neg": (lambda a: T.flatten(a, -2), lambda a: a.flatten(-2)),
    "permute": (lambda a: T.permute(a, (2, 0, 1)), lambda a: a.permute(2, 0, 1)),
    "permute_ints": (lambda a: T.permute(a, -1, 1, 0), lambda a: a.permute(-1, 1, 0)),
    "repeat": (lambda a: T.repeat(a, 2, 1, 1, 3), lambda a: a.repeat(2, 1, 1, 3)),
    "split": (lambda a: T.split(a, 2, 1), lambda a: a.split(2, 1)),
    "split_sizes": (
        lambda a: T.split(a, [1, 3, 1], -1),
        lambda a: a.split([1, 3, 1], -1),
    ),
    "chunk": (lambda a: T.chunk(a, 3, 1), lambda a: a.chunk(3, 1)),
    "chunk_uneven": (lambda a: T.chunk(a, 4, 2), lambda a: a.chunk(4, 2)),
}


@pytest.mark.parametrize("name", sorted(SHAPE_CASES))
def test_shape_ops_match_torch(torch, rng, name):
    ours, theirs = SHAPE_CASES[name]
    check(torch, rng, ours, theirs, [_x(rng, 3, 4, 5)])


def test_shape_errors_follow_torch(torch):
    x = np.ones((2, 3), np.float32)
    cases = [
        (
            lambda m, a: m.flatten(a, 1, 0),
            RuntimeError,
            "start_dim cannot come after end_dim",
        ),
        (lambda m, a: m.permute(a, (0,)), RuntimeError, "does not match the length"),
        (lambda m, a: m.permute(a, (0, 0)), RuntimeError, "duplicate dims"),
        (lambda m, a: m.split(a, [1, 1], 1), RuntimeError, "sum exactly to 3"),
        (lambda m, a: m.split(a, 0, 1), RuntimeError, "split_size can only be 0"),
        (lambda m, a: m.chunk(a, 0), RuntimeError, "greater than 0"),
        (
            lambda m, a: m.reshape(a, (4, -1)),
            RuntimeError,
            "invalid for input of size 6",
        ),
        (
            lambda m, a: m.squeeze(a, (0, 0)),
            RuntimeError,
            "dim 0 appears multiple times in the list of dims",
        ),
        (lambda m, a: m.mul(a, None), TypeError, "NoneType"),
        (lambda m, a: m.add(None, a), TypeError, "NoneType"),
        (lambda m, a: m.div(a, None), TypeError, "NoneType"),
        (lambda m, a: m.pow(a, None), TypeError, "NoneType"),
        (lambda m, a: m.flatten(a, 2), IndexError, "Dimension out of range"),
    ]
    for fn, exc, text in cases:
        with pytest.raises(exc, match=text):
            fn(torch, torch.tensor(x))
        with pytest.raises(exc, match=text):
            fn(T, x)
    with pytest.raises(RuntimeError, match="can not be smaller"):
        torch.tensor(x).repeat(2)
    with pytest.raises(RuntimeError, match="can not be smaller"):
        T.repeat(x, 2)


def test_ops_under_vmap(rng):
    a, b = _inputs(rng, [(5, 3, 4), (5, 4, 2)])
    out = jax.vmap(T.mm)(a, b)
    np.testing.assert_allclose(out, np.einsum("bij,bjk->bik", a, b), rtol=1e-5)
    out = jax.vmap(lambda x: T.stack((x, x), dim=1))(a)
    assert out.shape == (5, 3, 2, 4)


def test_shape_edge_cases_match_torch(torch):
    assert (
        T.flatten(jnp.float32(3.0)).shape
        == (1,)
        == tuple(torch.tensor(3.0).flatten().shape)
    )
    empty = np.zeros((0, 3), np.float32)
    assert [p.shape for p in T.chunk(empty, 2)] == [
        tuple(p.shape) for p in torch.tensor(empty).chunk(2)
    ]
    assert [p.shape for p in T.split(empty, 2)] == [
        tuple(p.shape) for p in torch.tensor(empty).split(2)
    ]
    assert [p.shape for p in T.chunk(np.zeros(6), 4)] == [(2,), (2,), (2,)]
