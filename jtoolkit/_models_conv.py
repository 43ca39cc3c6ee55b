"""Pure convolution and pooling kernels behind ``jtoolkit.models`` (NHWC, HWIO).

Two lowerings of the same 2-D convolution give the same numbers (to float32 rounding):

* ``"xla"``: ``lax.conv_general_dilated`` (cuDNN on GPU, XLA's own kernel on CPU);
* ``"im2col"``: the kh*kw shifted strided slices of the padded input concatenated along
  channels, then one ``[N*Ho*Wo, kh*kw*C] @ [kh*kw*C, O]`` matmul (BLAS speed on CPU,
  where XLA's CPU convolution is several times slower than torch's oneDNN kernels).

``"auto"`` picks im2col on the CPU backend and XLA elsewhere, at trace time.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__: list[str] = []

Pair = tuple[int, int]
Padding = tuple[Pair, Pair]

_IMPLS = ("auto", "xla", "im2col")


def pair(value: int | tuple[int, ...], name: str) -> Pair:
    """Return ``(v, v)`` for an int, the pair itself for a 2-tuple; validate > 0 use."""
    if isinstance(value, int | np.integer):
        return int(value), int(value)
    values = tuple(int(v) for v in value)
    if len(values) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, but got {value!r}")
    return values[0], values[1]


def resolve_padding(
    padding: int | tuple[int, int] | str, kernel_size: Pair, stride: Pair
) -> Padding:
    """torch's ``padding`` argument as explicit ((top, bottom), (left, right))."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding != "same":
            raise ValueError(
                f"Invalid padding string {padding!r}, should be one of "
                "{'valid', 'same'}"
            )
        if stride != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        # torch puts the extra element of an even kernel on the right/bottom.
        return tuple(
            (  # type: ignore[return-value]
                (k - 1) // 2,
                (k - 1) - (k - 1) // 2,
            )
            for k in kernel_size
        )
    ph, pw = pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(
            f"negative padding is not supported, but got padding={padding}"
        )
    return (ph, ph), (pw, pw)


def pick_impl(impl: str) -> str:
    """The lowering to trace: ``impl`` itself, or for "auto" the backend's best."""
    if impl not in _IMPLS:
        raise ValueError(f"impl must be one of {_IMPLS}, but got impl={impl!r}")
    if impl != "auto":
        return impl
    return "im2col" if jax.default_backend() == "cpu" else "xla"


def conv2d_xla(x: jax.Array, kernel: jax.Array, stride: Pair, padding: Padding):
    """NHWC x HWIO convolution through ``lax.conv_general_dilated``."""
    return lax.conv_general_dilated(
        x,
        kernel,
        window_strides=stride,
        padding=padding,
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )


def conv2d_im2col(x: jax.Array, kernel: jax.Array, stride: Pair, padding: Padding):
    """NHWC x HWIO convolution as strided-slice patches and one matmul."""
    kh, kw, cin, cout = kernel.shape
    sh, sw = stride
    if any(p for pads in padding for p in pads):
        x = jnp.pad(x, ((0, 0), *padding, (0, 0)))
    n, h, w, _ = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    if (kh, kw) == (1, 1):
        patches = x[:, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw, :]
    else:
        slices = [
            x[:, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw, :]
            for i in range(kh)
            for j in range(kw)
        ]
        patches = jnp.concatenate(slices, axis=-1)
    out = patches.reshape(n * ho * wo, kh * kw * cin) @ kernel.reshape(-1, cout)
    return out.reshape(n, ho, wo, cout)


def conv_output_size(size: int, k: int, s: int, pads: Pair) -> int:
    """Spatial output length of a convolution or pooling window (floor mode)."""
    return (size + pads[0] + pads[1] - k) // s + 1


def max_pool2d(x: jax.Array, kernel_size: Pair, stride: Pair, padding: Pair):
    """torch's ``max_pool2d`` (floor mode, dilation 1) on NHWC input."""
    kh, kw = kernel_size
    sh, sw = stride
    if (kh, kw) == (sh, sw) and padding == (0, 0):
        # Non-overlapping windows: reshape + max is much faster than reduce_window's
        # select-and-scatter gradient on CPU.
        n, h, w, c = x.shape
        ho, wo = h // kh, w // kw
        x = x[:, : ho * kh, : wo * kw, :].reshape(n, ho, kh, wo, kw, c)
        return x.max(axis=(2, 4))
    pads = ((0, 0), (padding[0], padding[0]), (padding[1], padding[1]), (0, 0))
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, kh, kw, 1), (1, sh, sw, 1), pads)


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
