"""Tests of ``jtoolkit/_src/tensor/convert.py`` (``item``, ``numpy``, ``size``,
``zero_``).

Moved from test_tensor_ops_parity.py when the tests were laid out to mirror the code;
that file's notes:

tensor_ops against torch on random inputs: values, dtypes and gradients,
eagerly and under ``jax.jit``.

Gradients use torch autograd as the oracle: both sides differentiate
``sum(op(inputs) * w)`` for a random ``w``.
"""

import jax
import numpy as np
import pytest

import jtoolkit.tensor_ops as T
from tests.tensor._harness import _jax_dtype


@pytest.mark.parametrize(
    "x",
    [
        np.array([[2.5]], np.float32),
        np.array([7], np.int64),
        np.array(True),
        np.arange(6, dtype=np.int32).reshape(2, 3),
        np.linspace(-1, 1, 4, dtype=np.float32),
    ],
    ids=lambda x: f"{x.dtype}{x.shape}",
)
def test_host_conversions_match_torch(torch, x):
    t = torch.tensor(x)
    assert T.size(x) == tuple(t.size()) and T.size(x, -1 if x.ndim else None) == (
        t.size(-1) if x.ndim else tuple(t.size())
    )
    zeros = T.zero_(x)
    assert zeros.dtype == _jax_dtype(t.clone().zero_().dtype) and not zeros.any()
    host = T.numpy(T.tensor(x))
    assert host.dtype == jax.dtypes.canonicalize_dtype(t.numpy().dtype)
    np.testing.assert_array_equal(host, t.numpy())
    host[...] = 0  # writable, as torch's .numpy()
    if t.numel() == 1:
        ours, theirs = T.item(x), t.item()
        assert type(ours) is type(theirs) and ours == theirs
