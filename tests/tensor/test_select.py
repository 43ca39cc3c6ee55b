"""Tests of ``jtoolkit/_src/tensor/select.py`` (``gather``, ``where``).

Moved from test_tensor_ops_more.py when the tests were laid out to mirror the code; that
file's notes:

The second wave of tensor_ops (factories, reductions, matmul family, softmax,
selection, shape and split ops) against torch: values, dtypes, gradients (torch
autograd as the oracle, both sides differentiating ``sum(op(x) * w)``), under
``jax.jit``, and torch's exception types.
"""

import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.tensor_ops as T
from tests.tensor._harness import _dtype, _x, check

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
