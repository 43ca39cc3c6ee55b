"""Tests of ``jtoolkit/_src/tensor/matmul.py`` (``bmm``, ``einsum``, ``matmul``,
``mm``).

Moved from test_tensor_ops_more.py, test_tensor_ops_parity.py when the tests were laid
out to mirror the code; those files' notes:

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

import numpy as np
import pytest

import jtoolkit.tensor_ops as T
from tests.tensor._harness import _inputs, _x, check

# -------------------------------------------------------------------- matmul

MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)),
    ((4,), (2, 4, 3)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
def test_matmul_matches_torch(torch, rng, shapes):
    a, b = (_x(rng, *s) for s in shapes)
    check(torch, rng, T.matmul, torch.matmul, [a, b])


def test_bmm_and_einsum_match_torch(torch, rng):
    a, b = _x(rng, 4, 2, 3), _x(rng, 4, 3, 5)
    check(torch, rng, T.bmm, torch.bmm, [a, b])
    check(
        torch,
        rng,
        lambda p, q: T.einsum("bij,bjk->bik", p, q),
        lambda p, q: torch.einsum("bij,bjk->bik", p, q),
        [a, b],
    )
    check(
        torch,
        rng,
        lambda p, q: T.einsum("...ij,...jk", [p, q]),
        lambda p, q: torch.einsum("...ij,...jk", [p, q]),
        [a, b],
    )
    ints = T.matmul([[1, 2], [3, 4]], [[1], [1]])
    assert ints.tolist() == [[3], [7]] and ints.dtype == T.tensor([1]).dtype


@pytest.mark.parametrize(
    "fn, shapes, text",
    [
        (
            "matmul",
            ((2, 3), (2, 3)),
            r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)",
        ),
        ("matmul", ((3,), (4,)), "inconsistent tensor size"),
        ("matmul", ((2, 2, 3), (2, 4, 5)), "Expected size for first two dimensions"),
        ("matmul", ((), (2, 3)), "at least 1D"),
        ("matmul", ((3, 2, 3), (2, 3, 4)), None),
        ("matmul", ((2, 3), (4,)), None),
        ("bmm", ((2, 3), (2, 3)), "batch1 must be a 3D tensor"),
        ("bmm", ((2, 2, 3), (3, 3, 5)), "Expected size for first two dimensions"),
        ("einsum", ((2, 3), (2, 3)), None),
    ],
)
def test_matmul_errors_follow_torch(torch, fn, shapes, text):
    arrays = [np.ones(s, np.float32) for s in shapes]

    def call(m, xs):
        if fn == "einsum":
            return m.einsum("ij,jk", *xs)
        return getattr(m, fn)(*xs)

    with pytest.raises(RuntimeError, match=text):
        call(torch, [torch.tensor(a) for a in arrays])
    with pytest.raises(RuntimeError, match=text):
        call(T, arrays)


def test_matmul_is_full_precision(torch, rng):
    a, b = _inputs(rng, [(64, 256), (256, 32)])
    ours = np.asarray(T.mm(a, b))
    exact = a.astype(np.float64) @ b.astype(np.float64)
    theirs = torch.tensor(a).mm(torch.tensor(b)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=3e-5)
    assert np.abs(ours - exact).max() < 1e-4
