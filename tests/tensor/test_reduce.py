"""Tests of ``jtoolkit/_src/tensor/reduce.py`` (``ValuesIndices``, ``argmax``,
``argmin``, ``max``, ``mean``, ``min``, ``std``, ``sum``, ...).

Moved from test_tensor_ops_more.py when the tests were laid out to mirror the code; that
file's notes:

The second wave of tensor_ops (factories, reductions, matmul family, softmax,
selection, shape and split ops) against torch: values, dtypes, gradients (torch
autograd as the oracle, both sides differentiating ``sum(op(x) * w)``), under
``jax.jit``, and torch's exception types.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.tensor_ops as T
from tests.tensor._harness import RTOL, _dtype, _x, check, check_op

# ---------------------------------------------------------------- reductions

REDUCTIONS = {
    "sum": (lambda x: T.sum(x), lambda x: x.sum()),
    "sum_dim": (lambda x: T.sum(x, 1), lambda x: x.sum(1)),
    "sum_dims_keep": (
        lambda x: T.sum(x, (0, -1), True),
        lambda x: x.sum((0, -1), True),
    ),
    "mean": (lambda x: T.mean(x), lambda x: x.mean()),
    "mean_dims": (lambda x: T.mean(x, [0, 2]), lambda x: x.mean([0, 2])),
    "var": (lambda x: T.var(x), lambda x: x.var()),
    "var_dim_biased": (lambda x: T.var(x, 1, False), lambda x: x.var(1, False)),
    "var_positional_bool": (lambda x: T.var(x, False), lambda x: torch_var_b(x)),
    "var_correction": (
        lambda x: T.var(x, (1, 2), keepdim=True, correction=2),
        lambda x: x.var((1, 2), keepdim=True, correction=2),
    ),
    "std": (lambda x: T.std(x, 0), lambda x: x.std(0)),
    "std_correction0": (
        lambda x: T.std(x, correction=0),
        lambda x: x.std(correction=0),
    ),
    "max": (lambda x: T.max(x), lambda x: x.max()),
    "min": (lambda x: T.min(x), lambda x: x.min()),
    "max_dim": (lambda x: tuple(T.max(x, 1)), lambda x: tuple(x.max(1))),
    "min_dim_keep": (
        lambda x: tuple(T.min(x, -1, True)),
        lambda x: tuple(x.min(-1, True)),
    ),
    "argmax": (lambda x: T.argmax(x), lambda x: x.argmax()),
    "argmax_dim": (lambda x: T.argmax(x, 2, True), lambda x: x.argmax(2, True)),
    "argmin_dim": (lambda x: T.argmin(x, 0), lambda x: x.argmin(0)),
}


def torch_var_b(x):
    return x.var(False)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reductions_match_torch(torch, rng, name):
    ours, theirs = REDUCTIONS[name]
    check(torch, rng, ours, theirs, [_x(rng, 3, 4, 5)])


def test_max_gradients_on_ties_follow_torch(torch, rng):
    """Full max splits the gradient among ties; max(x, dim) sends it to the index."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], np.float32)
    check(torch, rng, lambda a: T.max(a), lambda a: a.max(), [x])
    check(torch, rng, lambda a: tuple(T.max(a, 1)), lambda a: tuple(a.max(1)), [x])
    check(torch, rng, lambda a: tuple(T.min(a, 0)), lambda a: tuple(a.min(0)), [x])


def test_max_result_is_a_named_pytree():
    out = T.max(jnp.array([[1.0, 5.0], [7.0, 2.0]]), dim=1)
    assert out.values.tolist() == [5.0, 7.0] and out.indices.tolist() == [1, 0]
    assert isinstance(out, T.ValuesIndices)
    assert len(jax.tree_util.tree_leaves(out)) == 2
    # max(x, other) is the element-wise maximum, as torch
    assert T.max(jnp.array([1.0, 4.0]), jnp.array([3.0, 2.0])).tolist() == [3.0, 4.0]


@pytest.mark.parametrize("data", [[[1, 2], [3, 4]], [[True, False], [True, True]]])
def test_sum_of_integers_and_bools_is_default_int(torch, data):
    ours, theirs = T.sum(data, 0), torch.tensor(data).sum(0)
    assert ours.dtype == _dtype(theirs.dtype)
    np.testing.assert_array_equal(ours, theirs.numpy())
    assert T.sum(np.array(data), dtype="float32").dtype == jnp.float32


def test_reduction_errors_follow_torch(torch):
    xi, x = [[1, 2], [3, 4]], np.ones((2, 3), np.float32)
    cases = [
        (lambda m: m.mean(m.tensor(xi)), RuntimeError, "could not infer output dtype"),
        (lambda m: m.std(m.tensor(xi)), RuntimeError, "only support floating point"),
        (lambda m: m.sum(m.tensor(x), (0, 0)), RuntimeError, "appears multiple times"),
        (lambda m: m.mean(m.tensor(x), (1, -1)), RuntimeError, "appears multiple"),
        (lambda m: m.sum(m.tensor(x), 2), IndexError, "Dimension out of range"),
        (lambda m: m.max(m.tensor(x), 5), IndexError, "Dimension out of range"),
        (lambda m: m.argmax(m.tensor(x), -3), IndexError, "Dimension out of range"),
        (lambda m: m.max(m.tensor(np.zeros(0, np.float32))), RuntimeError, "numel"),
        (lambda m: m.argmax(m.tensor(np.zeros((2, 0)))), IndexError, "numel"),
        (lambda m: m.argmax(m.tensor([True, False])), RuntimeError, "bool"),
    ]
    for fn, exc, text in cases:
        with pytest.raises(exc, match=text):
            fn(torch)
        with pytest.raises(exc, match=text):
            fn(T)


def test_max_min_argmax_with_nan_follow_torch(torch):
    x = np.array([[1.0, np.nan, 3.0, np.nan], [np.nan, 0.0, 5.0, 1.0]], np.float32)
    for name in ("max", "min"):
        ours, theirs = getattr(T, name)(x, 1), getattr(torch, name)(torch.tensor(x), 1)
        np.testing.assert_array_equal(ours.values, theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices, theirs.indices.numpy())
        assert np.isnan(getattr(T, name)(x))
    for name in ("argmax", "argmin"):
        assert (
            getattr(T, name)(x).item() == getattr(torch, name)(torch.tensor(x)).item()
        )


def test_tutorial_mean_and_its_gradient():
    """The tutorial's autograd cell: out = (3 * (x + 2) ** 2).mean() and x.grad."""
    x = jnp.array([[-0.5736, -0.2012], [1.3563, 0.5499]])

    def out(v):
        y = v + 2
        return T.mean(y * y * 3)

    # the printed x is rounded to 4 decimals: allow that rounding's effect
    assert abs(float(out(x)) - 17.2779) < 3e-4
    np.testing.assert_allclose(
        jax.grad(out)(x), [[2.1396, 2.6982], [5.0345, 3.8248]], atol=1e-4
    )


def test_tensor_ops_under_vmap_equal_the_batched_call(rng):
    x = _x(rng, 4, 3, 5)
    idx = jnp.asarray(rng.integers(0, 3, (4, 2, 5)), jnp.int32)
    got = jax.vmap(lambda s, i: T.gather(s, 0, i))(x, idx)
    np.testing.assert_array_equal(got, T.gather(x, 1, idx))
    got = jax.vmap(lambda s: T.max(s, 0))(x)
    want = T.max(x, 1)
    np.testing.assert_array_equal(got.values, want.values)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_allclose(
        jax.vmap(lambda s: T.var(s, 1))(x), T.var(x, 2), rtol=RTOL
    )
    got = jax.vmap(lambda s: T.matmul(s, s.T))(x)
    np.testing.assert_allclose(got, T.bmm(x, jnp.swapaxes(x, 1, 2)), rtol=RTOL)


@pytest.mark.parametrize(
    ("dim", "keepdim"), [(None, False), (1, True), ((0, 2), False), ((), False)]
)
@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_split_gradients_among_ties(torch, rng, name, dim, keepdim):
    x = np.round(rng.standard_normal((3, 4, 2))).astype(np.float32)  # many ties
    args = () if dim is None else (dim, keepdim)
    check_op(
        torch,
        rng,
        lambda a: getattr(T, name)(a, *args),
        lambda a: getattr(torch, name)(a, *args),
        [x],
        diff=(0,),
    )


def test_amax_amin_edge_cases_as_torch(torch):
    x = np.array([[1.0, np.nan], [2.0, 0.0]], np.float32)
    np.testing.assert_array_equal(T.amax(x, 1), torch.amax(torch.tensor(x), 1))
    empty = np.zeros((0, 3), np.float32)
    assert T.amin(empty, 1).shape == tuple(torch.amin(torch.tensor(empty), 1).shape)
    for call in (lambda: torch.amax(torch.tensor(empty), 0), lambda: T.amax(empty, 0)):
        with pytest.raises(IndexError, match="Expected reduction dim 0 to have non"):
            call()
