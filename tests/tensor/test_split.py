"""Tests of ``jtoolkit/_src/tensor/split.py`` (``chunk``, ``split``).

Moved from test_tensor_ops_more.py when the tests were laid out to mirror the code; that
file's notes:

The second wave of tensor_ops (factories, reductions, matmul family, softmax,
selection, shape and split ops) against torch: values, dtypes, gradients (torch
autograd as the oracle, both sides differentiating ``sum(op(x) * w)``), under
``jax.jit``, and torch's exception types.
"""

import jax.numpy as jnp
import numpy as np

import jtoolkit.tensor_ops as T


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
