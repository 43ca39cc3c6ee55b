"""Pooling kernels on NHWC arrays with torch's output sizes and tie gradients."""

from __future__ import annotations

import math
from typing import cast

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jtoolkit._src.nn.conv_lowering import Pair

__all__: list[str] = []


def max_pool2d(x: jax.Array, kernel_size: Pair, stride: Pair, padding: Pair):
    """torch's ``max_pool2d`` (floor mode, dilation 1) on NHWC input.

    A fold of ``select(best >= candidate, best, candidate)`` over the kh*kw strided
    window slices, in torch's row-major window order: ties send the whole gradient to
    the first maximum, exactly as torch, and on CPU it is faster than
    ``reduce_window``'s select-and-scatter or a reshape + max.
    """
    ph, pw = padding
    if ph or pw:
        low = (
            -jnp.inf
            if jnp.issubdtype(x.dtype, jnp.floating)
            else jnp.iinfo(x.dtype).min
        )
        x = jnp.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=low)
    return _window_fold(x, kernel_size, stride, _first_max)


def _first_max(best: jax.Array, window: jax.Array) -> jax.Array:
    return lax.select(best >= window, best, window)


def _window_fold(
    x: jax.Array | np.ndarray, kernel_size: Pair, stride: Pair, combine
) -> jax.Array:
    """``combine`` folded over the kh*kw strided window slices of NHWC ``x``."""
    (kh, kw), (sh, sw) = kernel_size, stride
    _, h, w, _ = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    best = None
    for i in range(kh):
        for j in range(kw):
            window = x[
                :, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw
            ]
            best = window if best is None else combine(best, window)
    return cast(jax.Array, best)  # kh, kw >= 1 were checked: never None


def avg_pool2d(
    x: jax.Array,
    kernel_size: Pair,
    stride: Pair,
    padding: Pair,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> jax.Array:
    """torch's ``avg_pool2d`` (floor mode) on NHWC input: window sums / divisor."""
    (ph, pw) = padding
    pads = ((0, 0), (ph, ph), (pw, pw), (0, 0))
    total = _window_fold(jnp.pad(x, pads), kernel_size, stride, jnp.add)
    if divisor_override:
        return total / divisor_override
    if count_include_pad or not (ph or pw):
        return total / (kernel_size[0] * kernel_size[1])
    ones = np.pad(np.ones((1, *x.shape[1:3], 1), np.float32), pads)
    counts = _window_fold(ones, kernel_size, stride, np.add)  # static, on the host
    return total / jnp.asarray(counts, x.dtype)


def adaptive_pool_matrix(size: int, out: int) -> np.ndarray:
    """[out, size] averaging weights of torch's adaptive pooling bins."""
    weights = np.zeros((out, size), np.float32)
    for i in range(out):
        start = (i * size) // out
        end = math.ceil((i + 1) * size / out)
        weights[i, start:end] = 1.0 / (end - start)
    return weights


def adaptive_avg_pool2d(x: jax.Array, output_size: Pair) -> jax.Array:
    """torch's ``adaptive_avg_pool2d`` on NHWC input (static bins)."""
    n, h, w, c = x.shape
    oh, ow = output_size
    if h % oh == 0 and w % ow == 0:
        return x.reshape(n, oh, h // oh, ow, w // ow, c).mean(axis=(2, 4))
    rows = jnp.asarray(adaptive_pool_matrix(h, oh))
    cols = jnp.asarray(adaptive_pool_matrix(w, ow))
    return jnp.einsum("nhwc,ih,jw->nijc", x, rows, cols)
