"""Tests of ``jtoolkit/_src/tensor/softmax.py`` (``log_softmax``, ``softmax``).

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
from tests.tensor._harness import RTOL, _x, check

# ------------------------------------------------------------------- softmax


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax_match_torch(torch, rng, dim):
    x = _x(rng, 3, 4, 5) * 3
    check(torch, rng, lambda a: T.softmax(a, dim), lambda a: a.softmax(dim), [x])
    check(
        torch, rng, lambda a: T.log_softmax(a, dim), lambda a: a.log_softmax(dim), [x]
    )


def test_softmax_dtype_rules(torch):
    with pytest.raises(NotImplementedError):
        T.softmax([1, 2], 0)
    with pytest.raises(NotImplementedError):
        torch.softmax(torch.tensor([1, 2]), 0)
    ours = T.softmax([1, 2], 0, dtype="float32")
    np.testing.assert_allclose(
        ours, torch.softmax(torch.tensor([1, 2]), 0, dtype=torch.float32), rtol=RTOL
    )
    assert T.softmax(jnp.float32(2.0), 0).tolist() == 1.0
    with pytest.raises(IndexError):
        T.softmax(np.ones((2, 3), np.float32), 2)
