"""Functional 2-D pooling (max, average, adaptive average) in torch's NCHW layout.

``max_pool2d``/``avg_pool2d``/``adaptive_avg_pool2d`` take torch's NCHW (or
unbatched CHW) input by default, so the same array gives torch's answer; pass
``data_format="NHWC"`` for jtoolkit's image-layer layout (NHWC or HWC). The
layout is never guessed from the shape, so an NCHW batch never gives a silently
wrong result. Windows are folded over strided slices in torch's row-major
window order: max-pool ties send the whole gradient to the first maximum and a
NaN in a window gives NaN, as torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jtoolkit._src.core import arrays, checks, dtypes
from jtoolkit._src.nn import pool_ops

__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "max_pool2d"]


_FORMATS = ("NCHW", "NHWC")


def _pair(value: Any, name: str, fname: str) -> tuple[int, int]:
    items = tuple(value) if isinstance(value, tuple | list) else (value, value)
    if len(items) == 1:
        items = items * 2
    if len(items) != 2:
        raise checks.fail(name, value, "an int or a pair of ints", fn=fname)
    first, second = (checks.torch_int_arg(name, v, fname) for v in items)
    return first, second


def _to_nhwc(input: Any, data_format: str, fname: str):
    """The input as a 4-D NHWC array, and the function that restores its layout."""
    checks.check_choice("data_format", data_format, _FORMATS, fn=fname)
    x = arrays.to_array(input)
    if x.ndim not in (3, 4) or x.size == 0:
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    batched = x.ndim == 4
    x4 = x if batched else x[None]
    if data_format == "NCHW":
        x4 = x4.transpose(0, 2, 3, 1)

    def restore(y: jax.Array) -> jax.Array:
        if data_format == "NCHW":
            y = y.transpose(0, 3, 1, 2)
        return y if batched else y[0]

    return x4, restore


def _out_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """torch's ``pooling_output_shape``."""
    span = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = span // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _fold(x, kernel, stride, dilation, out_hw, combine: Callable) -> jax.Array:
    """Combine the kh*kw strided window slices of padded NHWC ``x``, row-major."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    acc = None
    for i in range(kh):
        for j in range(kw):
            r, c = i * dh, j * dw
            window = x[
                :, r : r + (oh - 1) * sh + 1 : sh, c : c + (ow - 1) * sw + 1 : sw
            ]
            acc = window if acc is None else combine(acc, window)
    return cast(jax.Array, acc)  # kh, kw >= 1 were checked: never None


def _geometry(x, kernel_size, stride, padding, dilation, ceil_mode, fname):
    """Checked kernel, stride, padding, dilation and output size, torch's rules."""
    kernel = _pair(kernel_size, "kernel_size", fname)
    stride = (
        kernel if stride is None or stride == [] else _pair(stride, "stride", fname)
    )
    pads = _pair(padding, "padding", fname)
    dil = _pair(dilation, "dilation", fname)
    if min(kernel) <= 0:
        raise RuntimeError(
            f"kernel size should be greater than zero, but got kH: {kernel[0]} kW: "
            f"{kernel[1]}"
        )
    if min(stride) <= 0:
        raise RuntimeError("stride should not be zero")
    for k, p, d in zip(kernel, pads, dil, strict=True):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                "pad should be at most half of effective kernel size, but got "
                f"pad={p}, kernel_size={k} and dilation={d}"
            )
    if pads[0] > kernel[0] // 2 or pads[1] > kernel[1] // 2:
        raise RuntimeError(
            "pad should be smaller than or equal to half of kernel size, but got "
            f"padW = {pads[1]}, padH = {pads[0]}, kW = {kernel[1]}, kH = {kernel[0]}"
        )
    _, h, w, c = x.shape
    out = tuple(
        _out_size(n, k, s, p, d, ceil_mode)
        for n, k, s, p, d in zip((h, w), kernel, stride, pads, dil, strict=True)
    )
    if min(out) < 1:
        raise RuntimeError(
            f"Given input size: ({c}x{h}x{w}). Calculated output size: "
            f"({c}x{out[0]}x{out[1]}). Output size is too small"
        )
    return kernel, stride, pads, dil, out


def _pad_hw(x, pads, kernel, stride, dil, out, fill) -> jax.Array:
    """Pad H and W by ``pads`` on the left and what the last window needs right."""
    right = [
        max(p, (o - 1) * s + d * (k - 1) + 1 - n - p)
        for n, k, s, p, d, o in zip(
            x.shape[1:3], kernel, stride, pads, dil, out, strict=True
        )
    ]
    config = [(0, 0, 0), (pads[0], right[0], 0), (pads[1], right[1], 0), (0, 0, 0)]
    return lax.pad(x, jnp.asarray(fill, x.dtype), config)


def _keep_max(best: jax.Array, candidate: jax.Array) -> jax.Array:
    """torch's running max: the first maximum wins ties, a NaN sticks."""
    keep = (best >= candidate) | (best != best)
    return lax.select(keep, best, candidate)


def max_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    data_format: str = "NCHW",
) -> jax.Array | tuple[jax.Array, jax.Array]:
    """Max over sliding windows, torch's NCHW layout by default.

    torch counterpart: ``torch.nn.functional.max_pool2d(input, kernel_size,
    stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False)``.

    Args:
        input: ``[N, C, H, W]`` or ``[C, H, W]`` (``[N, H, W, C]`` or ``[H, W, C]``
            with ``data_format="NHWC"``).
        kernel_size, stride (default ``kernel_size``), padding, dilation: ints or
            pairs; padding is -inf, at most half the effective kernel.
        ceil_mode: round the output size up (the last window must start inside
            the input or the left padding, as torch).
        return_indices: also return torch's indices (``h * W + w`` of each
            window's first maximum in its input plane, the default int dtype).
        data_format: "NCHW" (torch's, default) or "NHWC".

    Returns:
        The pooled array in the input's layout (and the indices, with
        ``return_indices``).

    Raises:
        RuntimeError: input that is not 3-D/4-D, a bad geometry (torch's
            messages), an output size below 1. ValueError: an unknown
            ``data_format``.

    Example:
        >>> from jtoolkit.functional import max_pool2d
        >>> x = jnp.arange(16.0).reshape(1, 1, 4, 4)
        >>> max_pool2d(x, 2).tolist()
        [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    x, restore = _to_nhwc(input, data_format, "max_pool2d")
    kernel, stride, pads, dil, out = _geometry(
        x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d"
    )
    low = -jnp.inf if jnp.issubdtype(x.dtype, jnp.floating) else jnp.iinfo(x.dtype).min
    width = x.shape[2]
    x = _pad_hw(x, pads, kernel, stride, dil, out, low)
    best = _fold(x, kernel, stride, dil, out, _keep_max)
    if not return_indices:
        return restore(best)
    index = _argmax_index(x, best, width, kernel, stride, dil, out, pads)
    return restore(best), restore(index)


def _argmax_index(x, best, width, kernel, stride, dil, out, pads) -> jax.Array:
    """torch's flat ``h * W + w`` input index of each window's first maximum."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dil, out
    rows = np.arange(oh)[:, None] * sh - pads[0]
    cols = np.arange(ow)[None, :] * sw - pads[1]
    found = jnp.zeros(best.shape, bool)
    index = jnp.zeros(best.shape, dtypes.default_int())
    for i in range(kh):
        for j in range(kw):
            r, c = i * dh, j * dw
            window = x[
                :, r : r + (oh - 1) * sh + 1 : sh, c : c + (ow - 1) * sw + 1 : sw
            ]
            flat = (rows + r) * width + cols + c
            hit = ~found & ((window == best) | (best != best) & (window != window))
            index = jnp.where(
                hit, jnp.asarray(flat[None, :, :, None], index.dtype), index
            )
            found = found | hit
    return lax.stop_gradient(index)


def _divisor(n: int, k: int, s: int, p: int, out: int, include_pad: bool):
    """torch's per-output window size along one axis (clipped to the padded
    extent, and to the input too unless ``include_pad``)."""
    counts = []
    for o in range(out):
        start = o * s - p
        end = min(start + k, n + p)
        if not include_pad:
            start, end = max(start, 0), min(end, n)
        counts.append(end - start)
    return np.asarray(counts, np.float64)


def avg_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    *,
    data_format: str = "NCHW",
) -> jax.Array:
    """Mean over sliding windows, torch's NCHW layout by default.

    torch counterpart: ``torch.nn.functional.avg_pool2d(input, kernel_size,
    stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None)``, with torch's divisors (zero padding counted unless
    ``count_include_pad=False``; ceil-mode windows clipped to the padded input).

    Args:
        input: ``[N, C, H, W]`` or ``[C, H, W]`` (NHWC/HWC with
            ``data_format="NHWC"``); integers give integer means rounded toward
            zero, as torch.
        kernel_size, stride (default ``kernel_size``), padding: ints or pairs.
        ceil_mode: round the output size up.
        count_include_pad: count zero padding in the divisor.
        divisor_override: divide every window sum by this instead.
        data_format: "NCHW" (default) or "NHWC".

    Returns:
        The pooled array in the input's layout.

    Raises:
        As :func:`max_pool2d`; RuntimeError: ``divisor_override == 0``.

    Example:
        >>> from jtoolkit.functional import avg_pool2d
        >>> avg_pool2d(jnp.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
        [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    x, restore = _to_nhwc(input, data_format, "avg_pool2d")
    kernel, stride, pads, dil, out = _geometry(
        x, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d"
    )
    n_h, n_w = x.shape[1:3]
    padded = _pad_hw(x, pads, kernel, stride, dil, out, 0)
    sums = _fold(padded, kernel, stride, dil, out, jnp.add)
    if divisor_override is not None:
        divisor = jnp.asarray(divisor_override, sums.dtype)
    else:
        rows = _divisor(n_h, kernel[0], stride[0], pads[0], out[0], count_include_pad)
        cols = _divisor(n_w, kernel[1], stride[1], pads[1], out[1], count_include_pad)
        divisor = jnp.asarray(np.outer(rows, cols)[None, :, :, None], sums.dtype)
    if dtypes.is_integral(sums.dtype):
        divisor = jnp.broadcast_to(divisor, sums.shape)
        return restore(lax.div(sums, divisor))  # integers: C division, as torch
    return restore(sums / divisor)


def _output_size(output_size: Any, h: int, w: int) -> tuple[int, int]:
    items = (
        tuple(output_size)
        if isinstance(output_size, tuple | list)
        else (output_size, output_size)
    )
    if len(items) != 2:
        raise checks.fail(
            "output_size", output_size, "an int or a pair", fn="adaptive_avg_pool2d"
        )
    sizes = tuple(n if v is None else v for v, n in zip(items, (h, w), strict=True))
    out_h, out_w = (
        checks.check_int("output_size", v, fn="adaptive_avg_pool2d", minimum=0)
        for v in sizes
    )
    return out_h, out_w


def adaptive_avg_pool2d(
    input: Any, output_size: Any, *, data_format: str = "NCHW"
) -> jax.Array:
    """Average over torch's adaptive bins, torch's NCHW layout by default.

    torch counterpart: ``torch.nn.functional.adaptive_avg_pool2d(input,
    output_size)``; bin ``i`` of ``n`` inputs into ``o`` outputs spans
    ``[floor(i*n/o), ceil((i+1)*n/o))``.

    Args:
        input: ``[N, C, H, W]`` or ``[C, H, W]`` (NHWC/HWC with
            ``data_format="NHWC"``).
        output_size: an int or a pair (None keeps that input size).
        data_format: "NCHW" (default) or "NHWC".

    Returns:
        The pooled array in the input's layout.

    Raises:
        RuntimeError: input that is not 3-D/4-D. ValueError: a bad
            ``output_size`` or ``data_format``. NotImplementedError: integer
            input, as torch.

    Example:
        >>> from jtoolkit.functional import adaptive_avg_pool2d
        >>> adaptive_avg_pool2d(jnp.arange(16.0).reshape(1, 1, 4, 4), 1).tolist()
        [[[[7.5]]]]
    """
    x, restore = _to_nhwc(input, data_format, "adaptive_avg_pool2d")
    if not dtypes.is_float(x.dtype):
        raise NotImplementedError(
            '"adaptive_avg_pool2d" not implemented for '
            f"'{dtypes.scalar_name(x.dtype)}'"
        )
    oh, ow = _output_size(output_size, x.shape[1], x.shape[2])
    if oh == 0 or ow == 0:
        return restore(jnp.zeros((x.shape[0], oh, ow, x.shape[3]), x.dtype))
    return restore(pool_ops.adaptive_avg_pool2d(x, (oh, ow)))
