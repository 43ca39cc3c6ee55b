"""Tests of ``jtoolkit/_src/tensor/pointwise.py`` (``abs``, ``add``, ``clamp``,
``div``, ``mul``, ``pow``).

Moved from test_tensor_ops_parity.py when the tests were laid out to mirror the code;
that file's notes:

tensor_ops against torch on random inputs: values, dtypes and gradients,
eagerly and under ``jax.jit``.

Gradients use torch autograd as the oracle: both sides differentiate
``sum(op(inputs) * w)`` for a random ``w``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.tensor_ops as T
from tests.tensor._harness import _inputs, check_op

# name: (ours, torch's, input specs, differentiable inputs, atol)
FLOAT_CASES = {
    "mm": (T.mm, lambda a, b: a.mm(b), [(3, 4), (4, 5)], (0, 1), 1e-6),
    "mv": (T.mv, lambda a, v: a.mv(v), [(3, 4), (4,)], (0, 1), 1e-6),
    "mul": (T.mul, lambda a, b: a.mul(b), [(3, 4), (4,)], (0, 1), 0),
    "mul_scalar": (lambda a: T.mul(a, 2.5), lambda a: a * 2.5, [(3, 4)], (0,), 0),
    "add_alpha": (
        lambda a, b: T.add(a, b, alpha=2.5),
        lambda a, b: a.add(b, alpha=2.5),
        [(3, 4), (3, 4)],
        (0, 1),
        1e-6,
    ),
    "add_broadcast": (T.add, lambda a, b: a + b, [(2, 1, 4), (3, 1)], (0, 1), 0),
    "div": (T.div, lambda a, b: a / b, [(3, 4), ((3, 4), "nonzero")], (0, 1), 0),
    "div_trunc": (
        lambda a, b: T.div(a, b, rounding_mode="trunc"),
        lambda a, b: a.div(b, rounding_mode="trunc"),
        [((3, 4), "wide"), ((3, 4), "nonzero")],
        (0, 1),
        0,
    ),
    "div_floor": (
        lambda a, b: T.div(a, b, rounding_mode="floor"),
        lambda a, b: a.div(b, rounding_mode="floor"),
        [((4, 5), "wide"), ((4, 5), "nonzero")],
        (0, 1),
        0,
    ),
    "abs": (T.abs, lambda a: a.abs(), [(3, 4)], (0,), 0),
    "clamp": (
        lambda a: T.clamp(a, -0.5, 0.5),
        lambda a: a.clamp(-0.5, 0.5),
        [(4, 5)],
        (0,),
        0,
    ),
    "clamp_min": (
        lambda a: T.clamp(a, min=0.1),
        lambda a: a.clamp(min=0.1),
        [(4, 5)],
        (0,),
        0,
    ),
    "clamp_max": (
        lambda a: T.clamp(a, max=0.1),
        lambda a: a.clamp(max=0.1),
        [(4, 5)],
        (0,),
        0,
    ),
    "clamp_tensor_bounds": (
        lambda a, lo, hi: T.clamp(a, lo, hi),
        lambda a, lo, hi: a.clamp(lo, hi),
        [(3, 4), (4,), (3, 1)],
        (0, 1, 2),
        0,
    ),
    "pow_2": (lambda a: T.pow(a, 2), lambda a: a.pow(2), [(3, 4)], (0,), 0),
    "pow_3.0": (lambda a: T.pow(a, 3.0), lambda a: a.pow(3.0), [(3, 4)], (0,), 0),
    "pow_-2": (
        lambda a: T.pow(a, -2),
        lambda a: a.pow(-2),
        [((3, 4), "nonzero")],
        (0,),
        0,
    ),
    "pow_0.5": (
        lambda a: T.pow(a, 0.5),
        lambda a: a.pow(0.5),
        [((3, 4), "pos")],
        (0,),
        0,
    ),
    "pow_-0.5": (
        lambda a: T.pow(a, -0.5),
        lambda a: a.pow(-0.5),
        [((3, 4), "pos")],
        (0,),
        0,
    ),
    "pow_1.7": (
        lambda a: T.pow(a, 1.7),
        lambda a: a.pow(1.7),
        [((3, 4), "pos")],
        (0,),
        0,
    ),
    "pow_tensor": (T.pow, lambda a, b: a.pow(b), [((3, 4), "pos"), (4,)], (0, 1), 0),
    "pow_scalar_base": (
        lambda b: T.pow(2.5, b),
        lambda b: 2.5**b,
        [(3, 4)],
        (0,),
        0,
    ),
    "stack_0": (
        lambda a, b: T.stack((a, b)),
        lambda a, b: __import__("torch").stack((a, b)),
        [(2, 3), (2, 3)],
        (0, 1),
        0,
    ),
    "stack_-1": (
        lambda a, b: T.stack([a, b], dim=-1),
        lambda a, b: __import__("torch").stack([a, b], dim=-1),
        [(2, 3), (2, 3)],
        (0, 1),
        0,
    ),
    "stack_1": (
        lambda a, b, c: T.stack((a, b, c), 1),
        lambda a, b, c: __import__("torch").stack((a, b, c), 1),
        [(2, 3), (2, 3), (2, 3)],
        (0, 2),
        0,
    ),
    "cat_0": (
        lambda a, b: T.cat((a, b)),
        lambda a, b: __import__("torch").cat((a, b)),
        [(2, 3), (4, 3)],
        (0, 1),
        0,
    ),
    "cat_-1": (
        lambda a, b: T.cat((a, b), dim=-1),
        lambda a, b: __import__("torch").cat((a, b), dim=-1),
        [(2, 3), (2, 5)],
        (0, 1),
        0,
    ),
    "diag_vec": (T.diag, lambda a: a.diag(), [(4,)], (0,), 0),
    "diag_vec_k1": (lambda a: T.diag(a, 1), lambda a: a.diag(1), [(3,)], (0,), 0),
    "diag_mat_k-1": (
        lambda a: T.diag(a, -1),
        lambda a: a.diag(-1),
        [(3, 4)],
        (0,),
        0,
    ),
    "diag_mat_k2": (lambda a: T.diag(a, 2), lambda a: a.diag(2), [(3, 4)], (0,), 0),
    "diag_embed": (T.diag_embed, lambda a: a.diag_embed(), [(2, 3)], (0,), 0),
    "diag_embed_offset": (
        lambda a: T.diag_embed(a, offset=-1, dim1=0, dim2=2),
        lambda a: a.diag_embed(offset=-1, dim1=0, dim2=2),
        [(2, 3)],
        (0,),
        0,
    ),
    "unsqueeze_-1": (
        lambda a: T.unsqueeze(a, -1),
        lambda a: a.unsqueeze(-1),
        [(2, 3)],
        (0,),
        0,
    ),
    "unsqueeze_1": (
        lambda a: T.unsqueeze(a, 1),
        lambda a: a.unsqueeze(1),
        [(2, 3)],
        (0,),
        0,
    ),
    "squeeze": (T.squeeze, lambda a: a.squeeze(), [(1, 3, 1)], (0,), 0),
    "squeeze_dims": (
        lambda a: T.squeeze(a, (0, 1)),
        lambda a: a.squeeze((0, 1)),
        [(1, 3, 1)],
        (0,),
        0,
    ),
    "transpose": (
        lambda a: T.transpose(a, 0, -1),
        lambda a: a.transpose(0, -1),
        [(2, 3, 4)],
        (0,),
        0,
    ),
    "view": (
        lambda a: T.view(a, 4, -1),
        lambda a: a.view(4, -1),
        [(2, 3, 4)],
        (0,),
        0,
    ),
    "view_tuple": (
        lambda a: T.view(a, (-1,)),
        lambda a: a.view((-1,)),
        [(2, 3, 4)],
        (0,),
        0,
    ),
}


@pytest.mark.parametrize("name", FLOAT_CASES)
def test_float_op_matches_torch(torch, rng, name):
    jfn, tfn, specs, diff, atol = FLOAT_CASES[name]
    check_op(torch, rng, jfn, tfn, _inputs(rng, specs), diff, atol=atol)


# name: (ours, torch's, int inputs); dtypes and values, no gradients
_A = np.array([[7, -7, 5], [3, -2, 9]], np.int64)
_B = np.array([[2, 2, -2], [-4, 3, 1]], np.int64)
INT_CASES = {
    "mm": (T.mm, lambda a, b: a.mm(b), [_A, _B.T.copy()]),
    "mul": (T.mul, lambda a, b: a * b, [_A, _B]),
    "mul_float_scalar": (lambda a: T.mul(a, 1.5), lambda a: a * 1.5, [_A]),
    "add_alpha": (
        lambda a, b: T.add(a, b, alpha=3),
        lambda a, b: a.add(b, alpha=3),
        [_A, _B],
    ),
    "div": (T.div, lambda a, b: a.div(b), [_A, _B]),
    "div_trunc": (
        lambda a, b: T.div(a, b, rounding_mode="trunc"),
        lambda a, b: a.div(b, rounding_mode="trunc"),
        [_A, _B],
    ),
    "div_floor": (
        lambda a, b: T.div(a, b, rounding_mode="floor"),
        lambda a, b: a.div(b, rounding_mode="floor"),
        [_A, _B],
    ),
    "abs": (T.abs, lambda a: a.abs(), [_A]),
    "clamp_float_bound": (
        lambda a: T.clamp(a, max=2.5),
        lambda a: a.clamp(max=2.5),
        [_A],
    ),
    "clamp_int": (lambda a: T.clamp(a, -3, 4), lambda a: a.clamp(-3, 4), [_A]),
    "pow_2": (lambda a: T.pow(a, 2), lambda a: a.pow(2), [_A]),
    "pow_0.5": (lambda a: T.pow(a, 0.5), lambda a: a.pow(0.5), [np.abs(_A)]),
    "pow_scalar_base": (lambda b: T.pow(2, b), lambda b: 2**b, [np.abs(_B)]),
    "stack_promotes": (
        lambda a, b: T.stack((a, b)),
        lambda a, b: __import__("torch").stack((a, b)),
        [_A, _A.astype(np.float32)],
    ),
    "cat_promotes": (
        lambda a, b: T.cat((a, b)),
        lambda a, b: __import__("torch").cat((a, b)),
        [_A, _B.astype(np.float32)],
    ),
    "bool_add": (T.add, lambda a, b: a + b, [_A > 0, _B > 0]),
    "bool_mul": (T.mul, lambda a, b: a * b, [_A > 0, _B > 0]),
    "bool_pow": (lambda a: T.pow(a, 2), lambda a: a.pow(2), [_A > 0]),
    "uint8_mul": (T.mul, lambda a, b: a * b, [np.abs(_A).astype(np.uint8)] * 2),
}


@pytest.mark.parametrize("name", INT_CASES)
def test_int_op_matches_torch(torch, rng, name):
    jfn, tfn, inputs = INT_CASES[name]
    check_op(torch, rng, jfn, tfn, inputs, jit=False)


def test_int_ops_under_jit(torch, rng):
    for name in ["div", "div_floor", "pow_2", "clamp_float_bound"]:
        jfn, tfn, inputs = INT_CASES[name]
        check_op(torch, rng, jfn, tfn, inputs, jit=True)


# --- gradients at kinks, where jnp differs from torch ---------------------------


def _torch_grad(torch, tfn, x):
    tx = torch.tensor(x, requires_grad=True)
    tfn(tx).sum().backward()
    return tx.grad.numpy()


@pytest.mark.parametrize(
    "jfn, tfn, x",
    [
        (
            lambda x: T.clamp(x, 0.0, 1.0),
            lambda x: x.clamp(0.0, 1.0),
            [0.0, 1.0, 0.5, -1.0, 2.0],
        ),
        (lambda x: T.clamp(x, min=0.0), lambda x: x.clamp(min=0.0), [0.0, -1.0, 1.0]),
        (lambda x: T.clamp(x, max=0.0), lambda x: x.clamp(max=0.0), [0.0, -1.0, 1.0]),
        (
            lambda x: T.clamp(x, 0.5, 0.5),
            lambda x: x.clamp(0.5, 0.5),
            [0.5, 0.2, 0.9],
        ),
        (
            lambda x: T.clamp(x, 1.0, 0.0),
            lambda x: x.clamp(1.0, 0.0),
            [-2.0, 0.5, 3.0, 0.0, 1.0],
        ),
        (T.abs, lambda x: x.abs(), [0.0, -0.0, 1.0, -2.0]),
        (lambda x: T.pow(x, 2), lambda x: x.pow(2), [0.0, -1.0]),
        (lambda x: T.pow(x, 0.5), lambda x: x.pow(0.5), [0.0, 4.0]),
        (lambda x: T.pow(x, 0), lambda x: x.pow(0), [0.0, 3.0]),
        (lambda x: T.div(x, 0.0), lambda x: x / 0.0, [1.0, -1.0]),
    ],
)
def test_kink_gradients_match_torch(torch, jfn, tfn, x):
    x = np.array(x, np.float32)
    expected = _torch_grad(torch, tfn, x)
    got = jax.grad(lambda a: jfn(a).sum())(jnp.asarray(x))
    np.testing.assert_array_equal(np.asarray(got), expected)
    np.testing.assert_array_equal(np.asarray(jfn(x)), tfn(torch.tensor(x)).numpy())


def test_clamp_tensor_bound_gradients_at_ties(torch):
    x = np.array([0.0, 1.0, 0.5, -1.0, 2.0, 0.3], np.float32)
    lo = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.6], np.float32)
    hi = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.2], np.float32)
    tin = [torch.tensor(v, requires_grad=True) for v in (x, lo, hi)]
    torch.clamp(*tin).sum().backward()
    got = jax.grad(lambda *a: T.clamp(*a).sum(), argnums=(0, 1, 2))(x, lo, hi)
    for g, t in zip(got, tin, strict=True):
        np.testing.assert_array_equal(np.asarray(g), t.grad.numpy())


def test_x64_dtypes_equal_torch_exactly(torch):
    """With jax_enable_x64 the dtypes are torch's, int64 and float64 included."""
    key = T.manual_seed(0)
    i = np.array([1, 5], np.int64)
    cases = [
        (lambda: T.tensor([1, 2]), lambda: torch.tensor([1, 2])),
        (lambda: T.tensor(np.array([0.5])), lambda: torch.tensor(np.array([0.5]))),
        (lambda: T.div(i, 2), lambda: torch.div(torch.tensor(i), 2)),
        (lambda: T.mul(i, 1.5), lambda: torch.mul(torch.tensor(i), 1.5)),
        (lambda: T.add(i, 2), lambda: torch.add(torch.tensor(i), 2)),
        (lambda: T.clamp(i, max=2.5), lambda: torch.clamp(torch.tensor(i), max=2.5)),
        (lambda: T.pow(i, 0.5), lambda: torch.pow(torch.tensor(i), 0.5)),
        (lambda: T.randint(key, 0, 3, (2,)), lambda: torch.randint(0, 3, (2,))),
        (lambda: T.randperm(key, 3), lambda: torch.randperm(3)),
        (lambda: T.LongTensor(2), lambda: torch.LongTensor(2)),
        (lambda: T.DoubleTensor(2), lambda: torch.DoubleTensor(2)),
    ]
    with jax.enable_x64(True):
        for ours, theirs in cases:
            expected = theirs()
            got = ours()
            assert got.dtype == np.dtype(str(expected.dtype).removeprefix("torch."))
