"""One table of bad calls across ``jtoolkit/_src/tensor/*``: torch's exception type and
text, also while tracing under ``jax.jit``.

Moved from test_tensor_ops_errors.py when the tests were laid out to mirror the code;
that file's notes:

tensor_ops raises torch's exception type with torch's text (plus hints).

Each case runs the same bad call through torch and jtoolkit: the types must be
equal and torch's message must appear in ours. Errors are raised while tracing,
so ``jax.jit`` callers see them too, never an XLA traceback.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.tensor_ops as T
from tests.tensor._harness import Z23, Z32, Z231

I23 = np.arange(6, dtype=np.int32).reshape(2, 3)


def _t(torch, x):
    return torch.tensor(x)


# id: (ours, torch's) -- both are called with no arguments
CASES = {
    "stack_unequal": (
        lambda: T.stack((Z23, Z32)),
        lambda t: t.stack((_t(t, Z23), _t(t, Z32))),
    ),
    "stack_dim": (
        lambda: T.stack((Z23, Z23), dim=3),
        lambda t: t.stack((_t(t, Z23), _t(t, Z23)), dim=3),
    ),
    "stack_dim_negative": (
        lambda: T.stack((Z23, Z23), dim=-4),
        lambda t: t.stack((_t(t, Z23), _t(t, Z23)), dim=-4),
    ),
    "stack_empty": (lambda: T.stack([]), lambda t: t.stack([])),
    "cat_dim": (
        lambda: T.cat((Z23, Z23), dim=2),
        lambda t: t.cat((_t(t, Z23), _t(t, Z23)), dim=2),
    ),
    "cat_sizes": (
        lambda: T.cat((Z23, Z32)),
        lambda t: t.cat((_t(t, Z23), _t(t, Z32))),
    ),
    "cat_sizes_dim1": (
        lambda: T.cat((Z23, Z32), dim=1),
        lambda t: t.cat((_t(t, Z23), _t(t, Z32)), dim=1),
    ),
    "cat_ndim": (
        lambda: T.cat((Z23, Z231)),
        lambda t: t.cat((_t(t, Z23), _t(t, Z231))),
    ),
    "cat_empty": (lambda: T.cat([]), lambda t: t.cat([])),
    "cat_0d": (
        lambda: T.cat((np.float32(1), np.float32(2))),
        lambda t: t.cat((t.tensor(1.0), t.tensor(2.0))),
    ),
    "mm_shapes": (lambda: T.mm(Z23, Z23), lambda t: t.mm(_t(t, Z23), _t(t, Z23))),
    "mm_self_rank": (
        lambda: T.mm(Z23[0], Z32),
        lambda t: t.mm(_t(t, Z23[0]), _t(t, Z32)),
    ),
    "mm_mat2_rank": (
        lambda: T.mm(Z23, Z32[0]),
        lambda t: t.mm(_t(t, Z23), _t(t, Z32[0])),
    ),
    "mm_dtype": (
        lambda: T.mm(I23, Z32),
        lambda t: t.mm(_t(t, I23), _t(t, Z32)),
    ),
    "mv_size": (
        lambda: T.mv(Z23, np.zeros(4, np.float32)),
        lambda t: t.mv(_t(t, Z23), t.zeros(4)),
    ),
    "mv_rank": (lambda: T.mv(Z23, Z32), lambda t: t.mv(_t(t, Z23), _t(t, Z32))),
    "mul_broadcast": (
        lambda: T.mul(Z23, np.zeros(2, np.float32)),
        lambda t: t.mul(_t(t, Z23), t.zeros(2)),
    ),
    "add_broadcast": (
        lambda: T.add(Z23, Z32),
        lambda t: t.add(_t(t, Z23), _t(t, Z32)),
    ),
    "add_float_alpha_int": (
        lambda: T.add(I23, I23, alpha=1.5),
        lambda t: t.add(_t(t, I23), _t(t, I23), alpha=1.5),
    ),
    "add_bool_alpha": (
        lambda: T.add(Z23, Z23, alpha=True),
        lambda t: t.add(_t(t, Z23), _t(t, Z23), alpha=True),
    ),
    "div_mode": (
        lambda: T.div(Z23, 1.0, rounding_mode="round"),
        lambda t: t.div(_t(t, Z23), 1.0, rounding_mode="round"),
    ),
    "div_int_zero": (
        lambda: T.div(I23, 0, rounding_mode="trunc"),
        lambda t: t.div(_t(t, I23), 0, rounding_mode="trunc"),
    ),
    "div_int_zero_floor": (
        lambda: T.div(I23, I23, rounding_mode="floor"),
        lambda t: t.div(_t(t, I23), _t(t, I23), rounding_mode="floor"),
    ),
    "clamp_no_bounds": (lambda: T.clamp(Z23), lambda t: t.clamp(_t(t, Z23))),
    "pow_int_negative": (lambda: T.pow(I23, -1), lambda t: t.pow(_t(t, I23), -1)),
    "abs_bool": (
        lambda: T.abs(np.array([True])),
        lambda t: t.abs(t.tensor([True])),
    ),
    "diag_3d": (lambda: T.diag(Z231), lambda t: t.diag(_t(t, Z231))),
    "diag_0d": (lambda: T.diag(1.0), lambda t: t.diag(t.tensor(1.0))),
    "diag_embed_same_dims": (
        lambda: T.diag_embed(Z23, 0, 0, 0),
        lambda t: t.diag_embed(_t(t, Z23), 0, 0, 0),
    ),
    "unsqueeze_dim": (
        lambda: T.unsqueeze(np.arange(6), 2),
        lambda t: t.arange(6).unsqueeze(2),
    ),
    "squeeze_dim": (lambda: T.squeeze(Z23, 3), lambda t: _t(t, Z23).squeeze(3)),
    "squeeze_0d": (lambda: T.squeeze(1.0, 1), lambda t: t.tensor(1.0).squeeze(1)),
    "transpose_dim": (
        lambda: T.transpose(Z23, 0, 2),
        lambda t: _t(t, Z23).transpose(0, 2),
    ),
    "size_dim": (lambda: T.size(Z23, 2), lambda t: _t(t, Z23).size(2)),
    "view_invalid": (
        lambda: T.view(np.arange(6.0), 4),
        lambda t: t.arange(6.0).view(4),
    ),
    "view_two_inferred": (
        lambda: T.view(np.arange(6.0), 2, -1, -1),
        lambda t: t.arange(6.0).view(2, -1, -1),
    ),
    "view_negative": (
        lambda: T.view(np.arange(6.0), -2, 3),
        lambda t: t.arange(6.0).view(-2, 3),
    ),
    "view_zero_inferred": (
        lambda: T.view(np.arange(6.0), 0, -1),
        lambda t: t.arange(6.0).view(0, -1),
    ),
    "view_empty_ambiguous": (
        lambda: T.view(np.zeros(0), 0, -1),
        lambda t: t.zeros(0).view(0, -1),
    ),
    "item_many": (lambda: T.item(np.arange(6.0)), lambda t: t.arange(6.0).item()),
    "tensor_ragged": (
        lambda: T.tensor([[1, 2], [3]]),
        lambda t: t.tensor([[1, 2], [3]]),
    ),
    "tensor_str": (lambda: T.tensor("a"), lambda t: t.tensor("a")),
    "tensor_none": (lambda: T.tensor([None]), lambda t: t.tensor([None])),
    "Tensor_float": (lambda: T.Tensor(2.5), lambda t: t.Tensor(2.5)),
    "Tensor_negative": (lambda: T.Tensor(-1), lambda t: t.Tensor(-1)),
    "ByteTensor_overflow": (
        lambda: T.ByteTensor([-1, 256]),
        lambda t: t.ByteTensor([-1, 256]),
    ),
    "index_out_of_bounds": (
        lambda: T.index_put(Z23, 5, 1.0),
        lambda t: _t(t, Z23).__setitem__(5, 1.0),
    ),
    "index_out_of_bounds_dim1": (
        lambda: T.index_put(Z23, (0, 5), 1.0),
        lambda t: _t(t, Z23).__setitem__((0, 5), 1.0),
    ),
    "index_array_out_of_bounds": (
        lambda: T.index_put(Z23, np.array([0, 4]), 1.0),
        lambda t: _t(t, Z23).__setitem__(t.tensor([0, 4]), 1.0),
    ),
    "index_too_many": (
        lambda: T.index_put(Z23, (0, 0, 0), 1.0),
        lambda t: _t(t, Z23).__setitem__((0, 0, 0), 1.0),
    ),
    "index_mask_shape": (
        lambda: T.index_put(Z23, np.array([True, False, True]), 1.0),
        lambda t: _t(t, Z23).__setitem__(t.tensor([True, False, True]), 1.0),
    ),
    "index_value_shape": (
        lambda: T.index_put(Z23, (np.array([0, 1]),), np.zeros((2, 2), np.float32)),
        lambda t: t.index_put(_t(t, Z23), (t.tensor([0, 1]),), t.zeros(2, 2)),
    ),
    "randperm_negative": (
        lambda: T.randperm(T.manual_seed(0), -1),
        lambda t: t.randperm(-1),
    ),
    "randint_bounds": (
        lambda: T.randint(T.manual_seed(0), 5, 5, (2,)),
        lambda t: t.randint(5, 5, (2,)),
    ),
    "randn_negative": (
        lambda: T.randn(T.manual_seed(0), -1),
        lambda t: t.randn(-1),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_error_matches_torch(torch, name):
    ours, theirs = CASES[name]
    with pytest.raises(Exception) as expected:
        theirs(torch)
    message = str(expected.value).splitlines()[0]
    with pytest.raises(type(expected.value), match=re.escape(message)):
        ours()


# torch's message differs in a detail JAX forces (or torch's is unhelpful): type only
TYPE_ONLY = {
    "randn_int_dtype": (
        lambda: T.randn(T.manual_seed(0), 2, dtype=jnp.int32),
        lambda t: t.randn(2, dtype=t.int32),
    ),
    "randn_float_size": (
        lambda: T.randn(T.manual_seed(0), 2.5),
        lambda t: t.randn(2.5),
    ),
    "index_float_array": (
        lambda: T.index_put(Z23, np.array([0.0]), 1.0),
        lambda t: _t(t, Z23).__setitem__(t.tensor([0.0]), 1.0),
    ),
    "manual_seed_overflow": (
        lambda: T.manual_seed(2**64),
        lambda t: t.manual_seed(2**64),
    ),
    "diag_float_diagonal": (
        lambda: T.diag(Z23, 1.5),
        lambda t: t.diag(_t(t, Z23), 1.5),
    ),
    "view_no_shape": (lambda: T.view(Z23), lambda t: _t(t, Z23).view()),
    "device_bad_string": (lambda: T.device("foo"), lambda t: t.device("foo")),
    "device_bad_index": (lambda: T.device("cuda:x"), lambda t: t.device("cuda:x")),
}


@pytest.mark.parametrize("name", TYPE_ONLY)
def test_error_type_matches_torch(torch, name):
    ours, theirs = TYPE_ONLY[name]
    with pytest.raises(Exception) as expected:
        theirs(torch)
    with pytest.raises(type(expected.value)):
        ours()


@pytest.mark.parametrize(
    "fn, exc",
    [
        (lambda a, b: T.mm(a, b), RuntimeError),
        (lambda a, b: T.stack((a, b.T)), RuntimeError),
        (lambda a, b: T.cat((a, b.T)), RuntimeError),
        (lambda a, b: T.view(a, 4), RuntimeError),
        (lambda a, b: T.unsqueeze(a, 5), IndexError),
        (lambda a, b: T.item(a), RuntimeError),
        (lambda a, b: T.numpy(a), RuntimeError),
    ],
)
def test_errors_raise_while_tracing_under_jit(fn, exc):
    with pytest.raises(exc):
        jax.jit(fn)(jnp.zeros((2, 3)), jnp.zeros((2, 3)))
