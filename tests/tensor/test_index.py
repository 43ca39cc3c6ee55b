"""Tests of ``jtoolkit/_src/tensor/index.py`` (``gather``, ``where``, ``index_put``).

The gather/where tests came from test_select.py (``select.py`` was folded into
``index.py``).

Moved from test_tensor_ops_errors.py, test_tensor_ops_parity.py when the tests were laid
out to mirror the code; those files' notes:

test_tensor_ops_errors.py:
tensor_ops raises torch's exception type with torch's text (plus hints).

Each case runs the same bad call through torch and jtoolkit: the types must be
equal and torch's message must appear in ours. Errors are raised while tracing,
so ``jax.jit`` callers see them too, never an XLA traceback.

test_tensor_ops_parity.py:
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
from tests.tensor._harness import _dtype, _inputs, _x, check, check_op


def test_out_of_bounds_index_is_not_clamped():
    # JAX would silently drop/clamp this update; torch raises, so do we
    with pytest.raises(IndexError, match="index -3 is out of bounds for dimension 0"):
        T.index_put(np.zeros(2), np.array([-3]), 1.0)


def _put(torch_x, index, value, accumulate=False):
    """torch's ``A[index] = value`` (or ``index_put`` with accumulate), out of place."""
    y = torch_x.clone()
    if accumulate:
        return y.index_put(index, value, accumulate=True)
    y[index] = value
    return y


@pytest.mark.parametrize(
    "index, value_shape, accumulate",
    [
        ((1, 2), (), False),
        ((slice(None), 1), (3,), False),
        ((-1, -1), (), False),
        (np.array([0, 2]), (2, 4), False),
        (np.array([[True, False, True, False]] * 3), (), False),
        ((np.array([0, 0, 2]),), (3, 4), True),
        ((np.array([0, 2]), np.array([1, 3])), (2,), False),
    ],
    ids=str,
)
def test_index_put_matches_torch(torch, rng, index, value_shape, accumulate):
    x, v = _inputs(rng, [(3, 4), value_shape])
    tindex = (
        tuple(torch.tensor(i) if isinstance(i, np.ndarray) else i for i in index)
        if isinstance(index, tuple)
        else torch.tensor(index)
    )
    check_op(
        torch,
        rng,
        lambda x, v: T.index_put(x, index, v, accumulate=accumulate),
        lambda x, v: _put(x, tindex, v, accumulate),
        [x, v],
        diff=(0, 1),
    )


def test_index_put_traced_mask_under_jit(torch, rng):
    x, mask = _inputs(rng, [(3, 4), (3, 4)])
    mask = mask > 0
    ours = jax.jit(lambda x, m: T.index_put(x, m, 7.0))(x, mask)
    theirs = _put(torch.tensor(x), torch.tensor(mask), 7.0)
    np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())


# ----------------------------------------------------------- select and shape


def test_where_matches_torch(torch, rng):
    x, y = _x(rng, 3, 4), _x(rng, 4)
    cond = rng.standard_normal((3, 1)) > 0
    check(
        torch,
        rng,
        lambda a, b: T.where(cond, a, b),
        lambda a, b: torch.where(torch.tensor(cond), a, b),
        [x, y],
    )
    ours = T.where(jnp.array([True, False]), jnp.array([1, 2]), 0.5)
    theirs = torch.where(torch.tensor([True, False]), torch.tensor([1, 2]), 0.5)
    assert ours.dtype == _dtype(theirs.dtype) and ours.tolist() == theirs.tolist()
    rows, cols = T.where(jnp.array([[True, False], [False, True]]))
    assert rows.tolist() == [0, 1] and cols.tolist() == [0, 1]
    with pytest.raises(
        RuntimeError, match="boolean tensor, but got a tensor with dtype Float"
    ):
        T.where(x, x, x)


@pytest.mark.parametrize("dim, shape", [(0, (2, 4)), (1, (3, 2)), (-1, (2, 6))])
def test_gather_matches_torch(torch, rng, dim, shape):
    x = _x(rng, 3, 4)
    size = x.shape[dim]
    index = rng.integers(0, size, shape)
    check(
        torch,
        rng,
        lambda a: T.gather(a, dim, jnp.asarray(index, jnp.int32)),
        lambda a: torch.gather(a, dim, torch.tensor(index)),
        [x],
    )


def test_gather_errors_follow_torch(torch):
    x = np.ones((2, 3), np.float32)
    cases = [
        (np.zeros(2, np.int64), "same number of dimensions"),
        (np.full((2, 3), 5), "index 5 is out of bounds for dimension 0 with size 2"),
        (np.zeros((2, 4), np.int64), "Size does not match at dimension 1"),
    ]
    for index, text in cases:
        with pytest.raises(RuntimeError, match=text):
            torch.gather(torch.tensor(x), 0, torch.tensor(index))
        with pytest.raises(RuntimeError, match=text):
            T.gather(x, 0, index)
