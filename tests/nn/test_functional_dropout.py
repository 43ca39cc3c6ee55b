"""Tests of ``jtoolkit/_src/nn/functional/dropout.py`` (``dropout``).

Moved from test_functional.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.functional against torch.nn.functional: values, gradients (torch
autograd as the oracle on ``sum(f(x) * w)``), under ``jax.jit``, layouts and
torch's exception types.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.functional as F
from tests.nn._harness import RTOL

# ------------------------------------------------------------------- dropout


def test_dropout_scales_kept_elements_and_needs_a_key():
    x = jnp.arange(1.0, 4001.0)
    key = jax.random.key(0)
    y = F.dropout(x, 0.25, True, key)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.75, rtol=RTOL)
    assert 0.70 < float(kept.mean()) < 0.80
    grad = jax.grad(lambda v: F.dropout(v, 0.25, True, key).sum())(x)
    np.testing.assert_allclose(grad, kept / 0.75, rtol=RTOL)
    jitted = jax.jit(lambda v, k: F.dropout(v, 0.25, True, k))(x, key)
    np.testing.assert_array_equal(jitted, y)
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False), x)
    np.testing.assert_array_equal(F.dropout(x, 0.0, True), x)
    np.testing.assert_array_equal(F.dropout(x, 1.0, True), jnp.zeros_like(x))
    with pytest.raises(TypeError, match="needs a PRNG key"):
        F.dropout(x, 0.5)
    with pytest.raises(TypeError, match="inplace"):
        F.dropout(x, 0.5, True, False)
    with pytest.raises(ValueError, match=r"between 0 and 1, but got 1\.5"):
        F.dropout(x, 1.5, True, key)
