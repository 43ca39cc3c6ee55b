"""conv_lowering: the hybrid kernel gradient when its chunks do not divide the batch."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit._src.nn import conv_lowering


@pytest.mark.parametrize("n, stride", [(7, (1, 1)), (5, (2, 2))])
def test_hybrid_kernel_grad_with_a_ragged_last_chunk(monkeypatch, n, stride):
    x = jax.random.normal(jax.random.key(0), (n, 6, 6, 3))
    kernel = jax.random.normal(jax.random.key(1), (3, 3, 3, 4))
    padding = ((1, 1), (1, 1))
    rows = ((6 + 2 - 3) // stride[0] + 1) ** 2  # output pixels per image
    # 2 images per chunk: n = 7 and 5 leave one image for a padded last chunk
    monkeypatch.setattr(conv_lowering, "_CHUNK_BYTES", 2 * 4 * rows * 27)

    def loss(impl):
        fn = getattr(conv_lowering, f"conv_{impl}")
        return lambda x, k: jnp.sum(fn(x, k, stride, padding, (1, 1)) ** 2)

    want = jax.grad(loss("xla"), argnums=(0, 1))(x, kernel)
    got = jax.grad(loss("hybrid"), argnums=(0, 1))(x, kernel)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5 * float(jnp.abs(w).max()))
