"""conv_lowering: the hybrid kernel gradient when its chunks do not divide the batch;
"auto" per layer; the "looped" gradients (explicit layouts, for while bodies)."""

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


@pytest.mark.parametrize(
    "n, stride, padding, dilation",
    [
        (2, (1, 1), ((1, 1), (1, 1)), (1, 1)),
        (2, (2, 3), ((0, 2), (1, 0)), (1, 1)),  # floor mode leaves input unread
        (2, (2, 1), ((2, 1), (0, 0)), (2, 1)),
        (1, (2,), ((1, 0),), (1,)),
        (3, (1, 2, 1), ((1, 1), (0, 1), (1, 0)), (1, 1, 2)),
    ],
)
def test_looped_gradients_equal_xlas(n, stride, padding, dilation):
    x = jax.random.normal(jax.random.key(0), (3, *(7, 9, 6)[:n], 4))
    kernel = jax.random.normal(jax.random.key(1), (*(3, 2, 3)[:n], 4, 5))

    def grads(fn):
        def loss(x, k):
            return jnp.sum(jnp.sin(fn(x, k, stride, padding, dilation)))

        return jax.jit(jax.grad(loss, argnums=(0, 1)))(x, kernel)

    for got, want in zip(
        grads(conv_lowering.conv_looped), grads(conv_lowering.conv_xla), strict=True
    ):
        scale = float(jnp.abs(want).max())
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * scale)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="a CPU compiler fault")
def test_conv_gradients_in_a_scan_stay_batch_major():
    """Inside a while body XLA's CPU compiler leaves a kernel gradient in the
    feature-major form its generic loop runs (37x slower); under ``in_loop()``
    "auto" emits every gradient convolution batch-major."""
    xs = jax.random.normal(jax.random.key(0), (2, 4, 8, 8, 3))
    kernel = jax.random.normal(jax.random.key(1), (3, 3, 3, 8))

    def layouts():
        def steps(kernel, xs):  # a new function: JAX caches traces per function
            def body(k, x):
                auto = conv_lowering.lowering("auto", 2, 1)  # picked at trace time
                grad = jax.grad(
                    lambda k: jnp.sum(auto(x, k, (1, 1), ((1, 1),) * 2, (1, 1), 1) ** 2)
                )
                return k - 0.1 * grad(k), None

            return jax.lax.scan(body, kernel, xs)[0]

        hlo = jax.jit(steps).lower(kernel, xs).compile().as_text()
        return [
            line.split("dim_labels=")[1].split(",")[0]
            for line in hlo.splitlines()
            if " convolution(" in line
        ]

    plain = layouts()
    with conv_lowering.in_loop():
        looped = layouts()
        assert conv_lowering.pick_impl("auto") == "looped"
    assert any(not labels.startswith("b") for labels in plain), plain  # the fault
    assert looped and all(labels.startswith("b01f_01io") for labels in looped), looped
