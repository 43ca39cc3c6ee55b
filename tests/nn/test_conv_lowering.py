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


@pytest.mark.skipif(jax.default_backend() != "cpu", reason='"auto" is CPU-tuned')
@pytest.mark.parametrize(
    "x_shape, k_shape, stride, groups, hybrid",
    [
        ((1, 8, 8, 16), (1, 1, 16, 32), (2, 2), 1, True),  # 1x1: same compile, faster
        ((1, 8, 8, 16), (3, 3, 16, 32), (2, 2), 1, False),  # strided 3x3
        ((1, 28, 28, 1), (3, 3, 1, 32), (1, 1), 1, False),  # few in-channels
        ((1, 8, 8, 64), (3, 3, 64, 64), (1, 1), 1, False),  # small maps
        ((1, 28, 28, 32), (3, 3, 32, 64), (1, 1), 1, True),  # the CNN's second conv
        ((1, 6, 6, 4), (3, 3, 2, 4), (1, 1), 2, True),  # grouped: hybrid per group
    ],
)
def test_auto_picks_the_hybrid_per_layer_where_it_pays(
    x_shape, k_shape, stride, groups, hybrid
):
    """The hybrid compiles 3-6x slower for k x k kernels, so "auto" keeps it for
    the layers where it runs faster (``hybrid_pays``); values match "xla"."""
    x = jax.random.normal(jax.random.key(0), x_shape)
    kernel = jax.random.normal(jax.random.key(1), k_shape)
    pads = ((k_shape[0] // 2,) * 2,) * 2
    auto = conv_lowering.lowering("auto", 2, groups)

    def loss(x, k):
        return jnp.sum(auto(x, k, stride, pads, (1, 1), groups) ** 2)

    assert ("custom_vjp" in str(jax.make_jaxpr(loss)(x, kernel))) == hybrid

    def ref(x, k):
        y = conv_lowering.conv_xla(x, k, stride, pads, (1, 1), groups)
        return jnp.sum(y**2)

    got = jax.grad(loss, argnums=(0, 1))(x, kernel)
    want = jax.grad(ref, argnums=(0, 1))(x, kernel)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4 * float(jnp.abs(w).max()))
