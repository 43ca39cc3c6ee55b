"""Functional pooling (max, average, power-average, adaptive, fractional, unpool),
1-D to 3-D, in torch's channels-first layout by default.

Every function takes torch's layout (``[N, C, *spatial]`` or unbatched
``[C, *spatial]``) by default, so the same array gives torch's answer; pass
``data_format`` ("NLC", "NHWC" or "NDHWC") for jtoolkit's channels-last layers.
The layout is never guessed from the shape. One N-d core serves every rank:
windows are folded over strided slices in torch's row-major window order, so a
max-pool tie sends the whole gradient to the first maximum and a NaN wins (the
last NaN of a window, as torch's CPU kernels); indices are torch's flat
per-channel positions (``(d * H + h) * W + w``). Each 1-D and 3-D function is
its 2-D sibling on another rank: the 2-D docstring explains the arguments once.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jtoolkit._src.core import arrays, checks, dtypes
from jtoolkit._src.core.eager_jit import eager_jit

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "check_pool_padding",
    "fractional_max_pool2d",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "pool_pair",
    "pool_tuple",
]

LAYOUTS = {1: ("NCL", "NLC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}
Restore = Callable[[jax.Array], jax.Array]


# ------------------------------------------------------------------ arguments


def pool_tuple(value: Any, n: int, name: str, fname: str) -> tuple[int, ...]:
    """An int or a 1-/n-sequence as a checked n-tuple of ints (torch's args)."""
    items = tuple(value) if isinstance(value, tuple | list) else (value,)
    if len(items) == 1:
        items = items * n
    if len(items) != n:
        raise checks.fail(name, value, f"an int or a tuple of {n} ints", fn=fname)
    return tuple(checks.torch_int_arg(name, v, fname) for v in items)


def pool_pair(value: Any, name: str, fname: str) -> tuple[int, int]:
    """An int or a 1-/2-sequence as a checked pair of ints (torch's pooling args)."""
    first, second = pool_tuple(value, 2, name, fname)
    return first, second


def check_pool_padding(kernel, pads, dilation, fname: str = "") -> None:
    """torch's padding rule for pooling: at most half the effective kernel.

    Raises:
        RuntimeError: a negative pad or one over half the kernel (torch's words;
            ``max_pool1d``'s own words when ``fname`` is "max_pool1d").
    """
    if fname == "max_pool1d" and pads[0] > kernel[0] // 2:
        raise RuntimeError(
            "max_pool1d() padding should be at most half of kernel size, but got "
            f"padding={pads[0]} and kernel_size={kernel[0]}"
        )
    for k, p, d in zip(kernel, pads, dilation, strict=True):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                "pad should be at most half of effective kernel size, but got "
                f"pad={p}, kernel_size={k} and dilation={d}"
            )
    for k, p in zip(kernel, pads, strict=True):
        if p > k // 2:
            raise RuntimeError(
                "pad should be smaller than or equal to half of kernel size, but "
                f"got pad={p} and kernel_size={k} (padding={tuple(pads)}, "
                f"kernel_size={tuple(kernel)})"
            )


def _stride(stride: Any, kernel: tuple[int, ...], n: int, fname: str):
    if stride is None or (isinstance(stride, tuple | list) and len(stride) == 0):
        return kernel
    return pool_tuple(stride, n, "stride", fname)


# --------------------------------------------------------------------- layout


def _channels_last(
    input: Any, n: int, data_format: str, fname: str, *, empty_ok: bool = False
) -> tuple[jax.Array, Restore]:
    """The input as ``[N, *spatial, C]`` and the function restoring its layout."""
    first, last = LAYOUTS[n]
    checks.check_choice("data_format", data_format, (first, last), fn=fname)
    x = arrays.to_array(input)
    if x.ndim not in (n + 1, n + 2):
        raise RuntimeError(
            f"{fname}: Expected {n + 1}D or {n + 2}D (batch mode) tensor with "
            f"optional 0 dim batch size for input, but got: {list(x.shape)}"
        )
    batched = x.ndim == n + 2
    xb = x if batched else x[None]
    if data_format == first:
        xb = jnp.moveaxis(xb, 1, -1)
    if not empty_ok and 0 in xb.shape[1:]:
        raise RuntimeError(
            f"{fname}: Expected input's non-batch dimensions to have positive "
            f"length, but input has a shape of {list(x.shape)}"
        )

    def restore(y: jax.Array) -> jax.Array:
        if data_format == first:
            y = jnp.moveaxis(y, -1, 1)
        return y if batched else y[0]

    return xb, restore


# ------------------------------------------------------------------- geometry


def _out_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """torch's ``pooling_output_shape``."""
    span = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = span // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


class _Geometry:
    """Checked kernel, stride, padding, dilation and output size (torch's rules)."""

    def __init__(self, x, kernel_size, stride, padding, dilation, ceil_mode, fname):
        n = x.ndim - 2
        self.kernel = pool_tuple(kernel_size, n, "kernel_size", fname)
        self.stride = _stride(stride, self.kernel, n, fname)
        self.pads = pool_tuple(padding, n, "padding", fname)
        self.dilation = pool_tuple(dilation, n, "dilation", fname)
        if min(self.kernel) <= 0:
            raise RuntimeError(
                "kernel size should be greater than zero, but got "
                f"kernel_size={self.kernel}"
            )
        if min(self.stride) <= 0:
            raise RuntimeError(f"stride should not be zero, got stride={self.stride}")
        check_pool_padding(self.kernel, self.pads, self.dilation, fname)
        self.size = tuple(x.shape[1:-1])
        self.out = tuple(
            _out_size(*args, ceil_mode)
            for args in zip(
                self.size,
                self.kernel,
                self.stride,
                self.pads,
                self.dilation,
                strict=True,
            )
        )
        if min(self.out) < 1:
            c = x.shape[-1]
            raise RuntimeError(
                f"Given input size: ({'x'.join(map(str, (c, *self.size)))}). "
                f"Calculated output size: ({'x'.join(map(str, (c, *self.out)))}). "
                "Output size is too small"
            )

    def padded(self, x: jax.Array, fill: Any) -> jax.Array:
        """``x`` padded by ``pads`` on the left and what the last window needs."""
        config = [(0, 0, 0)]
        for n, k, s, p, d, o in zip(
            self.size,
            self.kernel,
            self.stride,
            self.pads,
            self.dilation,
            self.out,
            strict=True,
        ):
            config.append((p, max(p, (o - 1) * s + d * (k - 1) + 1 - n - p), 0))
        config.append((0, 0, 0))
        return lax.pad(x, jnp.asarray(fill, x.dtype), config)

    def offsets(self):
        """Each window offset (row-major) and its strided slice of the padded x."""
        for offset in itertools.product(*(range(k) for k in self.kernel)):
            index = tuple(
                slice(i * d, i * d + (o - 1) * s + 1, s)
                for i, d, s, o in zip(
                    offset, self.dilation, self.stride, self.out, strict=True
                )
            )
            yield offset, (slice(None), *index, slice(None))

    def flat_index(self, offset) -> np.ndarray:
        """torch's flat input position of window offset ``offset`` per output."""
        return _flatten(
            [
                np.arange(o) * s - p + i * d
                for i, d, s, p, o in zip(
                    offset,
                    self.dilation,
                    self.stride,
                    self.pads,
                    self.out,
                    strict=True,
                )
            ],
            self.size,
        )

    def first_inside(self) -> np.ndarray:
        """torch's initial max index: each window's first position inside the
        input (the first dilation step at or after 0 on every axis)."""
        starts = []
        for d, s, p, o in zip(
            self.dilation, self.stride, self.pads, self.out, strict=True
        ):
            start = np.arange(o) * s - p
            starts.append(np.where(start < 0, start + (-start + d - 1) // d * d, start))
        return _flatten(starts, self.size)


def _flatten(positions: Sequence[np.ndarray], size: Sequence[int]) -> np.ndarray:
    """Per-axis positions as torch's flat per-channel index, ``[1, *out, 1]``."""
    flat = np.zeros((), np.int64)
    for axis, (pos, n) in enumerate(zip(positions, size, strict=True)):
        shape = [1] * len(positions)
        shape[axis] = len(pos)
        flat = flat * n + pos.reshape(shape)
    return np.asarray(flat[None, ..., None], dtypes.default_int())


def _lowest(dtype) -> Any:
    return -jnp.inf if dtypes.is_float(dtype) else jnp.iinfo(dtype).min


def _take(best: jax.Array, candidate: jax.Array) -> jax.Array:
    """torch's running max update: a strictly larger value or a NaN replaces."""
    return (candidate > best) | (candidate != candidate)


# ------------------------------------------------------------------ max pools


def _max_pool(n, input, geometry, return_indices, data_format):
    """The max pool of every rank; ``geometry`` is ``(kernel_size, stride,
    padding, dilation, ceil_mode)`` as the public functions take them."""
    fname = f"max_pool{n}d"
    x, restore = _channels_last(input, n, data_format, fname)
    kernel_size, stride, padding, dilation, ceil_mode = geometry
    geo = _Geometry(x, kernel_size, stride, padding, dilation, ceil_mode, fname)
    padded = geo.padded(x, _lowest(x.dtype))
    best: Any = None
    index: Any = None
    for offset, where in geo.offsets():
        window = padded[where]
        if best is None:
            best, index = window, jnp.asarray(geo.first_inside())
            continue
        take = _take(best, window)
        best = lax.select(take, window, best)
        if return_indices:
            index = jnp.where(take, geo.flat_index(offset), index)
    if not return_indices:
        return restore(best)
    index = jnp.broadcast_to(index, best.shape).astype(dtypes.default_int())
    return restore(best), restore(lax.stop_gradient(index))


@eager_jit
def max_pool1d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    data_format: str = "NCL",
) -> Any:
    """Max over sliding windows along L; ``max_pool2d`` in 1-D.

    torch counterpart: ``torch.nn.functional.max_pool1d(input, kernel_size,
    stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False)``.

    Args:
        input: ``[N, C, L]`` or ``[C, L]`` (channels last with
            ``data_format="NLC"``); N may be 0.
        kernel_size, stride, padding, dilation: ints or 1-tuples, as
            ``max_pool2d``.
        ceil_mode, return_indices: as ``max_pool2d`` (the indices feed
            ``max_unpool1d``).
        data_format: "NCL" (torch's, default) or "NLC".

    Returns:
        As ``max_pool2d``.

    Raises:
        RuntimeError: input that is not 2-D/3-D; the rest as ``max_pool2d``.

    Example:
        >>> from jtoolkit.functional import max_pool1d
        >>> max_pool1d(jnp.array([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[3.0, 2.0]]]
    """
    window = (kernel_size, stride, padding, dilation, ceil_mode)
    return _max_pool(1, input, window, return_indices, data_format)


@eager_jit
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
) -> Any:
    """Max over sliding windows, torch's channels-first layout by default.

    torch counterpart: ``torch.nn.functional.max_pool2d(input, kernel_size,
    stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False)``.

    Args:
        input: ``[N, C, H, W]`` or ``[C, H, W]`` (channels last with
            ``data_format="NHWC"``); N may be 0.
        kernel_size, stride (default ``kernel_size``), padding, dilation: ints or
            2-tuples; padding is -inf, at most half the effective kernel.
        ceil_mode: round the output size up (the last window must start inside
            the input or the left padding, as torch).
        return_indices: also return torch's indices (each window's maximum as a
            flat position in its channel's input, the default int dtype), the
            input of ``max_unpool2d``.
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
    window = (kernel_size, stride, padding, dilation, ceil_mode)
    return _max_pool(2, input, window, return_indices, data_format)


@eager_jit
def max_pool3d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    data_format: str = "NCDHW",
) -> Any:
    """Max over sliding windows along D, H, W; ``max_pool2d`` in 3-D.

    torch counterpart: ``torch.nn.functional.max_pool3d(input, kernel_size,
    stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False)``.

    Args:
        input: ``[N, C, D, H, W]`` or ``[C, D, H, W]`` (channels last with
            ``data_format="NDHWC"``); N may be 0.
        kernel_size, stride, padding, dilation: ints or 3-tuples, as
            ``max_pool2d``.
        ceil_mode, return_indices: as ``max_pool2d`` (the indices feed
            ``max_unpool3d``).
        data_format: "NCDHW" (torch's, default) or "NDHWC".

    Returns:
        As ``max_pool2d``.

    Raises:
        RuntimeError: input that is not 4-D/5-D; the rest as ``max_pool2d``.

    Example:
        >>> from jtoolkit.functional import max_pool3d
        >>> max_pool3d(jnp.arange(8.0).reshape(1, 1, 2, 2, 2), 2).ravel().tolist()
        [7.0]
    """
    window = (kernel_size, stride, padding, dilation, ceil_mode)
    return _max_pool(3, input, window, return_indices, data_format)


# ------------------------------------------------------------------ avg pools


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


def _avg_pool(
    n, input, window, count_include_pad, divisor_override, data_format, fname
):
    """The average pool of every rank; ``window`` is ``(kernel_size, stride,
    padding, ceil_mode)`` as the public functions take them."""
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    kernel_size, stride, padding, ceil_mode = window
    x, restore = _channels_last(input, n, data_format, fname)
    geo = _Geometry(x, kernel_size, stride, padding, 1, ceil_mode, fname)
    padded = geo.padded(x, 0)
    sums: Any = None
    for _, where in geo.offsets():
        sums = padded[where] if sums is None else sums + padded[where]
    if divisor_override is not None:
        divisor = jnp.asarray(divisor_override, sums.dtype)
    else:
        counts = np.ones(())
        for args in zip(
            geo.size, geo.kernel, geo.stride, geo.pads, geo.out, strict=True
        ):
            counts = np.multiply.outer(counts, _divisor(*args, count_include_pad))
        divisor = jnp.asarray(counts[None, ..., None], sums.dtype)
    if dtypes.is_integral(sums.dtype):
        divisor = jnp.broadcast_to(divisor, sums.shape)
        return restore(lax.div(sums, divisor))  # integers: C division, as torch
    return restore(sums / divisor)


@eager_jit
def avg_pool1d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    *,
    data_format: str = "NCL",
) -> jax.Array:
    """Mean over sliding windows along L; ``avg_pool2d`` in 1-D.

    torch counterpart: ``torch.nn.functional.avg_pool1d(input, kernel_size,
    stride=None, padding=0, ceil_mode=False, count_include_pad=True)``.

    Args:
        input: ``[N, C, L]`` or ``[C, L]`` (channels last with
            ``data_format="NLC"``); as ``avg_pool2d``.
        kernel_size, stride, padding: ints or 1-tuples, as ``avg_pool2d``.
        ceil_mode, count_include_pad: as ``avg_pool2d``.
        data_format: "NCL" (torch's, default) or "NLC".

    Returns:
        The pooled array in the input's layout.

    Raises:
        RuntimeError: input that is not 2-D/3-D; the rest as ``avg_pool2d``.

    Example:
        >>> from jtoolkit.functional import avg_pool1d
        >>> avg_pool1d(jnp.array([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[2.0, 1.0]]]
    """
    window = (kernel_size, stride, padding, ceil_mode)
    return _avg_pool(
        1, input, window, count_include_pad, None, data_format, "avg_pool1d"
    )


@eager_jit
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
    """Mean over sliding windows, torch's channels-first layout by default.

    torch counterpart: ``torch.nn.functional.avg_pool2d(input, kernel_size,
    stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None)``, with torch's divisors (zero padding counted
    unless ``count_include_pad=False``; ceil-mode windows clipped to the padded
    input).

    Args:
        input: ``[N, C, H, W]`` or ``[C, H, W]`` (channels last with
            ``data_format="NHWC"``); N may be 0; integers give integer means
            rounded toward zero, as torch.
        kernel_size, stride (default ``kernel_size``), padding: ints or
            2-tuples.
        ceil_mode: round the output size up.
        count_include_pad: count zero padding in the divisor.
        divisor_override: divide every window sum by this instead.
        data_format: "NCHW" (torch's, default) or "NHWC".

    Returns:
        The pooled array in the input's layout.

    Raises:
        RuntimeError: input that is not 3-D/4-D, a bad geometry (torch's
            messages); ``divisor_override == 0``. ValueError: an unknown
            ``data_format``.

    Example:
        >>> from jtoolkit.functional import avg_pool2d
        >>> avg_pool2d(jnp.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
        [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    window = (kernel_size, stride, padding, ceil_mode)
    args = (count_include_pad, divisor_override, data_format, "avg_pool2d")
    return _avg_pool(2, input, window, *args)


@eager_jit
def avg_pool3d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    *,
    data_format: str = "NCDHW",
) -> jax.Array:
    """Mean over sliding windows along D, H, W; ``avg_pool2d`` in 3-D.

    torch counterpart: ``torch.nn.functional.avg_pool3d(input, kernel_size,
    stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None)``.

    Args:
        input: ``[N, C, D, H, W]`` or ``[C, D, H, W]`` (channels last with
            ``data_format="NDHWC"``); as ``avg_pool2d``.
        kernel_size, stride, padding: ints or 3-tuples, as ``avg_pool2d``.
        ceil_mode, count_include_pad, divisor_override: as ``avg_pool2d``.
        data_format: "NCDHW" (torch's, default) or "NDHWC".

    Returns:
        The pooled array in the input's layout.

    Raises:
        RuntimeError: input that is not 4-D/5-D; the rest as ``avg_pool2d``.

    Example:
        >>> from jtoolkit.functional import avg_pool3d
        >>> avg_pool3d(jnp.arange(8.0).reshape(1, 1, 2, 2, 2), 2).ravel().tolist()
        [3.5]
    """
    window = (kernel_size, stride, padding, ceil_mode)
    args = (count_include_pad, divisor_override, data_format, "avg_pool3d")
    return _avg_pool(3, input, window, *args)


# ------------------------------------------------------------------- lp pools


def _lp_pool(n, input, norm_type, kernel_size, stride, ceil_mode, data_format):
    """torch's formula: the mean of ``x ** p`` times the window size, then the
    ``1/p`` power of its positive part (sign-restored)."""
    fname = f"lp_pool{n}d"
    x = arrays.to_array(input)
    kernel = pool_tuple(kernel_size, n, "kernel_size", fname)
    p = float(norm_type)
    window = (kernel, stride, 0, ceil_mode)
    mean = _avg_pool(n, x**p, window, True, None, data_format, fname)
    size = float(math.prod(kernel))
    return (jnp.sign(mean) * jax.nn.relu(jnp.abs(mean)) * size) ** (1.0 / p)


@eager_jit
def lp_pool1d(
    input: Any,
    norm_type: float,
    kernel_size: Any,
    stride: Any = None,
    ceil_mode: bool = False,
    *,
    data_format: str = "NCL",
) -> jax.Array:
    """Power-average pooling along L; ``lp_pool2d`` in 1-D.

    torch counterpart: ``torch.nn.functional.lp_pool1d(input, norm_type,
    kernel_size, stride=None, ceil_mode=False)``.

    Args:
        input: ``[N, C, L]`` or ``[C, L]`` (channels last with
            ``data_format="NLC"``).
        norm_type: the power ``p``, as ``lp_pool2d``.
        kernel_size, stride (default ``kernel_size``): ints or 1-tuples.
        ceil_mode: round the output size up.
        data_format: "NCL" (torch's, default) or "NLC".

    Returns:
        The pooled array in the input's layout.

    Raises:
        RuntimeError: as ``avg_pool1d``.

    Example:
        >>> from jtoolkit.functional import lp_pool1d
        >>> lp_pool1d(jnp.array([[[3.0, 4.0]]]), 2, 2).tolist()
        [[[5.0]]]
    """
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode, data_format)


@eager_jit
def lp_pool2d(
    input: Any,
    norm_type: float,
    kernel_size: Any,
    stride: Any = None,
    ceil_mode: bool = False,
    *,
    data_format: str = "NCHW",
) -> jax.Array:
    """Power-average pooling, torch's channels-first layout by default.

    torch counterpart: ``torch.nn.functional.lp_pool2d(input, norm_type,
    kernel_size, stride=None, ceil_mode=False)``: ``(sum over the window of
    x ** p) ** (1 / p)`` (torch's formula through ``avg_pool2d``, so a
    ceil-mode window clipped at the edge is rescaled as torch does).

    Args:
        input: ``[N, C, H, W]`` or ``[C, H, W]`` (channels last with
            ``data_format="NHWC"``).
        norm_type: the power ``p`` (``inf`` is max pooling in torch's words; here
            it overflows as torch's formula does).
        kernel_size, stride (default ``kernel_size``): ints or 2-tuples.
        ceil_mode: round the output size up.
        data_format: "NCHW" (torch's, default) or "NHWC".

    Returns:
        The pooled array in the input's layout.

    Raises:
        RuntimeError: as ``avg_pool2d``.

    Example:
        >>> from jtoolkit.functional import lp_pool2d
        >>> lp_pool2d(jnp.ones((1, 1, 2, 2)), 2, 2).tolist()
        [[[[2.0]]]]
    """
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode, data_format)


@eager_jit
def lp_pool3d(
    input: Any,
    norm_type: float,
    kernel_size: Any,
    stride: Any = None,
    ceil_mode: bool = False,
    *,
    data_format: str = "NCDHW",
) -> jax.Array:
    """Power-average pooling along D, H, W; ``lp_pool2d`` in 3-D.

    torch counterpart: ``torch.nn.functional.lp_pool3d(input, norm_type,
    kernel_size, stride=None, ceil_mode=False)``.

    Args:
        input: ``[N, C, D, H, W]`` or ``[C, D, H, W]`` (channels last with
            ``data_format="NDHWC"``).
        norm_type: the power ``p``, as ``lp_pool2d``.
        kernel_size, stride (default ``kernel_size``): ints or 3-tuples.
        ceil_mode: round the output size up.
        data_format: "NCDHW" (torch's, default) or "NDHWC".

    Returns:
        The pooled array in the input's layout.

    Raises:
        RuntimeError: as ``avg_pool3d``.

    Example:
        >>> from jtoolkit.functional import lp_pool3d
        >>> lp_pool3d(jnp.ones((1, 1, 2, 2, 2)), 1, 2).ravel().tolist()
        [8.0]
    """
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode, data_format)


# ------------------------------------------------------------- adaptive pools


def _output_size(output_size: Any, size: Sequence[int], fname: str):
    n = len(size)
    items = (
        tuple(output_size) if isinstance(output_size, tuple | list) else (output_size,)
    )
    if len(items) == 1:
        items = items * n
    if len(items) != n:
        raise checks.fail(
            "output_size", output_size, f"an int or a tuple of {n}", fn=fname
        )
    return tuple(
        checks.check_int("output_size", s if v is None else v, fn=fname, minimum=0)
        for v, s in zip(items, size, strict=True)
    )


def _adaptive_bins(size: int, out: int):
    """torch's adaptive bins of ``size`` into ``out``: a static [out, width] gather
    index, its validity mask and each bin's element count."""
    starts = [(i * size) // out for i in range(out)]
    ends = [math.ceil((i + 1) * size / out) for i in range(out)]
    width = max(e - s for s, e in zip(starts, ends, strict=True))
    offsets = np.arange(width)[None, :]
    index = np.asarray(starts)[:, None] + offsets
    valid = index < np.asarray(ends)[:, None]
    counts = np.asarray(ends) - np.asarray(starts)
    return np.minimum(index, size - 1), valid, counts


def _adaptive_mean(x: jax.Array, axis: int, out: int) -> jax.Array:
    """Mean over torch's adaptive bins along ``axis`` of channels-last ``x``: each
    bin sums only its own elements (a weight matrix would give 0 * inf = nan
    beside an inf, where torch gives the finite mean of the other bins)."""
    size = x.shape[axis]
    if size % out == 0:
        shape = (*x.shape[:axis], out, size // out, *x.shape[axis + 1 :])
        return x.reshape(shape).mean(axis=axis + 1)
    index, valid, counts = _adaptive_bins(size, out)
    gathered = jnp.take(x, jnp.asarray(index), axis=axis)  # [.., out, width, ..]
    tail = (1,) * (x.ndim - axis - 1)
    mask = jnp.asarray(valid.reshape(*valid.shape, *tail))
    sums = jnp.where(mask, gathered, jnp.zeros((), x.dtype)).sum(axis=axis + 1)
    return sums / jnp.asarray(counts.reshape(out, *tail), x.dtype)


def _float_only(x: jax.Array, fname: str) -> None:
    if not dtypes.is_float(x.dtype):
        raise NotImplementedError(
            f"\"{fname}\" not implemented for '{dtypes.scalar_name(x.dtype)}'"
        )


def _adaptive_avg(n, input, output_size, data_format):
    fname = f"adaptive_avg_pool{n}d"
    x, restore = _channels_last(input, n, data_format, fname, empty_ok=True)
    _float_only(x, fname)
    out = _output_size(output_size, x.shape[1:-1], fname)
    if 0 in out or x.size == 0:
        return restore(jnp.zeros((x.shape[0], *out, x.shape[-1]), x.dtype))
    for axis, o in enumerate(out, start=1):
        x = _adaptive_mean(x, axis, o)
    return restore(x)


@eager_jit
def adaptive_avg_pool1d(
    input: Any, output_size: Any, *, data_format: str = "NCL"
) -> jax.Array:
    """Average over torch's adaptive bins along L; ``adaptive_avg_pool2d`` in 1-D.

    torch counterpart: ``torch.nn.functional.adaptive_avg_pool1d(input,
    output_size)``.

    Args:
        input: ``[N, C, L]`` or ``[C, L]`` (channels last with
            ``data_format="NLC"``).
        output_size: an int or a 1-tuple (None keeps that input size).
        data_format: "NCL" (torch's, default) or "NLC".

    Returns:
        The pooled array in the input's layout.

    Raises:
        RuntimeError: input that is not 2-D/3-D; the rest as
            ``adaptive_avg_pool2d``.

    Example:
        >>> from jtoolkit.functional import adaptive_avg_pool1d
        >>> adaptive_avg_pool1d(jnp.array([[[1.0, 2.0, 3.0]]]), 2).tolist()
        [[[1.5, 2.5]]]
    """
    return _adaptive_avg(1, input, output_size, data_format)


@eager_jit
def adaptive_avg_pool2d(
    input: Any, output_size: Any, *, data_format: str = "NCHW"
) -> jax.Array:
    """Average over torch's adaptive bins, channels-first by default.

    torch counterpart: ``torch.nn.functional.adaptive_avg_pool2d(input,
    output_size)``; bin ``i`` of ``n`` inputs into ``o`` outputs spans ``[floor(i*n/o),
    ceil((i+1)*n/o))``.

    Args:
        input: ``[N, C, H, W]`` or ``[C, H, W]`` (channels last with
            ``data_format="NHWC"``).
        output_size: an int or a 2-tuple (None keeps that input size).
        data_format: "NCHW" (torch's, default) or "NHWC".

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
    return _adaptive_avg(2, input, output_size, data_format)


@eager_jit
def adaptive_avg_pool3d(
    input: Any, output_size: Any, *, data_format: str = "NCDHW"
) -> jax.Array:
    """Average over torch's adaptive bins along D, H, W; ``adaptive_avg_pool2d``
    in 3-D.

    torch counterpart: ``torch.nn.functional.adaptive_avg_pool3d(input,
    output_size)``.

    Args:
        input: ``[N, C, D, H, W]`` or ``[C, D, H, W]`` (channels last with
            ``data_format="NDHWC"``).
        output_size: an int or a 3-tuple (None keeps that input size).
        data_format: "NCDHW" (torch's, default) or "NDHWC".

    Returns:
        The pooled array in the input's layout.

    Raises:
        RuntimeError: input that is not 4-D/5-D; the rest as
            ``adaptive_avg_pool2d``.

    Example:
        >>> from jtoolkit.functional import adaptive_avg_pool3d
        >>> adaptive_avg_pool3d(jnp.ones((2, 3, 4, 4, 4)), (1, 2, None)).shape
        (2, 3, 1, 2, 4)
    """
    return _adaptive_avg(3, input, output_size, data_format)


def _adaptive_max(n, input, output_size, return_indices, data_format):
    fname = f"adaptive_max_pool{n}d"
    x, restore = _channels_last(input, n, data_format, fname)
    _float_only(x, fname)
    size = x.shape[1:-1]
    out = _output_size(output_size, size, fname)
    if 0 in out or x.size == 0:
        empty = jnp.zeros((x.shape[0], *out, x.shape[-1]), x.dtype)
        idx = jnp.zeros(empty.shape, dtypes.default_int())
        return (restore(empty), restore(idx)) if return_indices else restore(empty)
    bins = [_adaptive_bins(s, o) for s, o in zip(size, out, strict=True)]
    for k, (index, valid, _) in enumerate(bins):  # [N, o1, w1, ..., C]
        axis = 1 + 2 * k
        x = jnp.take(x, jnp.asarray(index), axis=axis)
        shape = [1] * x.ndim
        shape[axis : axis + 2] = valid.shape
        x = jnp.where(jnp.asarray(valid.reshape(shape)), x, _lowest(x.dtype))
    best: Any = None
    flat: Any = None
    for offset in itertools.product(*(range(b[0].shape[1]) for b in bins)):
        where = [slice(None)]
        for j in offset:
            where += [slice(None), j]
        window = x[(*where, slice(None))]
        position = _flatten(
            [b[0][:, j] for b, j in zip(bins, offset, strict=True)], size
        )
        if best is None:
            best, flat = window, jnp.asarray(position)
            continue
        take = _take(best, window)
        best = lax.select(take, window, best)
        if return_indices:
            flat = jnp.where(take, position, flat)
    if not return_indices:
        return restore(best)
    flat = jnp.broadcast_to(flat, best.shape).astype(dtypes.default_int())
    return restore(best), restore(lax.stop_gradient(flat))


@eager_jit
def adaptive_max_pool1d(
    input: Any,
    output_size: Any,
    return_indices: bool = False,
    *,
    data_format: str = "NCL",
) -> Any:
    """Max over torch's adaptive bins along L; ``adaptive_max_pool2d`` in 1-D.

    torch counterpart: ``torch.nn.functional.adaptive_max_pool1d(input, output_size,
    return_indices=False)``.

    Args:
        input: ``[N, C, L]`` or ``[C, L]`` (channels last with
            ``data_format="NLC"``).
        output_size: an int or a 1-tuple (None keeps that input size).
        return_indices: also return torch's flat per-channel indices.
        data_format: "NCL" (torch's, default) or "NLC".

    Returns:
        The pooled array in the input's layout (and the indices).

    Raises:
        RuntimeError: input that is not 2-D/3-D; the rest as
            ``adaptive_max_pool2d``.

    Example:
        >>> from jtoolkit.functional import adaptive_max_pool1d
        >>> y, i = adaptive_max_pool1d(jnp.array([[1.0, 3.0, 2.0]]), 2, True)
        >>> y.tolist(), i.tolist()
        ([[3.0, 3.0]], [[1, 1]])
    """
    return _adaptive_max(1, input, output_size, return_indices, data_format)


@eager_jit
def adaptive_max_pool2d(
    input: Any,
    output_size: Any,
    return_indices: bool = False,
    *,
    data_format: str = "NCHW",
) -> Any:
    """Max over torch's adaptive bins, channels-first by default.

    torch counterpart: ``torch.nn.functional.adaptive_max_pool2d(input, output_size,
    return_indices=False)``; torch's bins (``[floor(i*n/o), ceil((i+1)*n/o))``),
    the first maximum wins a tie and a NaN wins, as torch.

    Args:
        input: ``[N, C, H, W]`` or ``[C, H, W]`` (channels last with
            ``data_format="NHWC"``).
        output_size: an int or a 2-tuple (None keeps that input size).
        return_indices: also return torch's flat per-channel indices.
        data_format: "NCHW" (torch's, default) or "NHWC".

    Returns:
        The pooled array in the input's layout (and the indices).

    Raises:
        RuntimeError: input that is not 3-D/4-D or with an empty
            non-batch dim. ValueError: a bad ``output_size`` or ``data_format``.
            NotImplementedError: integer input, as torch.

    Example:
        >>> from jtoolkit.functional import adaptive_max_pool2d
        >>> adaptive_max_pool2d(jnp.arange(9.0).reshape(1, 3, 3), 2).tolist()
        [[[4.0, 5.0], [7.0, 8.0]]]
    """
    return _adaptive_max(2, input, output_size, return_indices, data_format)


@eager_jit
def adaptive_max_pool3d(
    input: Any,
    output_size: Any,
    return_indices: bool = False,
    *,
    data_format: str = "NCDHW",
) -> Any:
    """Max over torch's adaptive bins along D, H, W; ``adaptive_max_pool2d`` in
    3-D.

    torch counterpart: ``torch.nn.functional.adaptive_max_pool3d(input, output_size,
    return_indices=False)``.

    Args:
        input: ``[N, C, D, H, W]`` or ``[C, D, H, W]`` (channels last with
            ``data_format="NDHWC"``).
        output_size: an int or a 3-tuple (None keeps that input size).
        return_indices: also return torch's flat per-channel indices.
        data_format: "NCDHW" (torch's, default) or "NDHWC".

    Returns:
        The pooled array in the input's layout (and the indices).

    Raises:
        RuntimeError: input that is not 4-D/5-D; the rest as
            ``adaptive_max_pool2d``.

    Example:
        >>> from jtoolkit.functional import adaptive_max_pool3d
        >>> adaptive_max_pool3d(jnp.ones((1, 2, 3, 3, 3)), 1).shape
        (1, 2, 1, 1, 1)
    """
    return _adaptive_max(3, input, output_size, return_indices, data_format)


# ----------------------------------------------------------------- fractional


def _intervals(sample: jax.Array, size: int, out: int, k: int) -> jax.Array:
    """torch's pseudo-random window starts from one uniform ``sample`` per plane
    (``[...]`` -> ``[..., out]``), in the sample's dtype as torch's kernel."""
    if out == 1:
        return jnp.full((*sample.shape, 1), size - k, jnp.int32)
    alpha = jnp.asarray(size - k, sample.dtype) / jnp.asarray(out - 1, sample.dtype)
    i = jnp.arange(out - 1, dtype=sample.dtype)
    s = sample[..., None]
    starts = ((i + s) * alpha).astype(jnp.int32) - (s * alpha).astype(jnp.int32)
    last = jnp.full((*sample.shape, 1), size - k, jnp.int32)
    return jnp.concatenate([starts, last], axis=-1)


@eager_jit
def fractional_max_pool2d(
    input: Any,
    kernel_size: Any,
    output_size: Any = None,
    output_ratio: Any = None,
    return_indices: bool = False,
    _random_samples: Any = None,
    *,
    key: jax.Array | None = None,
    data_format: str = "NCHW",
) -> Any:
    """Fractional max pooling (Graham, 2014) with torch's window sequence.

    torch counterpart: ``torch.nn.functional.fractional_max_pool2d(input,
    kernel_size, output_size=None, output_ratio=None, return_indices=False,
    _random_samples=None)``. Given the same ``_random_samples`` the result and
    the indices equal torch's; without them, pass a PRNG ``key`` (JAX has no
    global RNG: ``jax.random.uniform(key, (N, C, 2))`` draws the samples, a
    different stream from torch's).

    Args:
        input: ``[N, C, H, W]`` or ``[C, H, W]`` (NHWC/HWC with
            ``data_format="NHWC"``).
        kernel_size: an int or a pair.
        output_size: an int or a pair; or ``output_ratio`` (floats in (0, 1)),
            giving ``int(size * ratio)``.
        return_indices: also return torch's flat ``h * W + w`` indices.
        _random_samples: ``[N, C, 2]`` (``[1, C, 2]`` unbatched) floats in
            [0, 1): per plane, the width's sample then the height's, torch's.
        key: a PRNG key, used when ``_random_samples`` is None.
        data_format: "NCHW" (torch's, default) or "NHWC".

    Returns:
        The pooled array in the input's layout (and the indices).

    Raises:
        ValueError: neither or both of ``output_size``/``output_ratio``, a ratio
            outside (0, 1), or neither samples nor key. RuntimeError: an output
            whose windows would leave the input, or samples of the wrong shape.

    Example:
        >>> from jtoolkit.functional import fractional_max_pool2d
        >>> x = jnp.arange(25.0).reshape(1, 1, 5, 5)
        >>> s = jnp.full((1, 1, 2), 0.5)
        >>> fractional_max_pool2d(x, 2, output_size=2, _random_samples=s).tolist()
        [[[[6.0, 9.0], [21.0, 24.0]]]]
    """
    fname = "fractional_max_pool2d"
    x, restore = _channels_last(input, 2, data_format, fname)
    n, h, w, c = x.shape
    kh, kw = pool_pair(kernel_size, "kernel_size", fname)
    oh, ow = _fractional_output(output_size, output_ratio, (h, w), fname)
    if oh + kh - 1 > h or ow + kw - 1 > w:
        raise RuntimeError(
            f"{fname}(): pool height/width ({kh}, {kw}) too large relative to "
            f"input size ({h}, {w}) and output size ({oh}, {ow}): need "
            "output + kernel - 1 <= input"
        )
    if _random_samples is None:
        if key is None:
            raise ValueError(
                f"{fname}: pass key= (a PRNG key) or _random_samples= (torch draws "
                "them from its global RNG; JAX needs an explicit key)"
            )
        dtype = x.dtype if dtypes.is_float(x.dtype) else jnp.float32
        samples = jax.random.uniform(key, (n, c, 2), dtype)
    else:
        samples = arrays.to_array(_random_samples)
        if samples.shape != (n, c, 2):
            raise RuntimeError(
                f"{fname}(): expected _random_samples of shape {[n, c, 2]}, got "
                f"{list(samples.shape)}"
            )
    rows = jnp.swapaxes(_intervals(samples[..., 1], h, oh, kh), 1, 2)  # [N, oh, C]
    cols = jnp.swapaxes(_intervals(samples[..., 0], w, ow, kw), 1, 2)  # [N, ow, C]
    best: Any = None
    index: Any = None
    for i in range(kh):
        picked = jnp.take_along_axis(x, (rows + i)[:, :, None, :], axis=1)
        for j in range(kw):
            window = jnp.take_along_axis(picked, (cols + j)[:, None, :, :], axis=2)
            flat = (rows + i)[:, :, None, :] * w + (cols + j)[:, None, :, :]
            if best is None:
                best, index = window, flat
                continue
            take = _take(best, window)
            best = lax.select(take, window, best)
            index = jnp.where(take, flat, index)
    if not return_indices:
        return restore(best)
    index = lax.stop_gradient(index).astype(dtypes.default_int())
    return restore(best), restore(index)


def _fractional_output(output_size, output_ratio, size, fname):
    if (output_size is None) == (output_ratio is None):
        raise ValueError(
            f"{fname} requires specifying either an output_size or an output_ratio"
            ", and not both"
        )
    if output_size is not None:
        return pool_pair(output_size, "output_size", fname)
    ratios = (
        tuple(output_ratio)
        if isinstance(output_ratio, tuple | list)
        else (output_ratio,) * 2
    )
    if len(ratios) != 2 or not all(0 < float(r) < 1 for r in ratios):
        raise ValueError(
            f"{fname}: output_ratio must be a float or a pair of floats in (0, 1), "
            f"got {output_ratio}"
        )
    return tuple(int(s * float(r)) for s, r in zip(size, ratios, strict=True))


# -------------------------------------------------------------------- unpool


def _max_unpool(n, input, indices, window, output_size, data_format):
    """The max unpool of every rank; ``window`` is ``(kernel_size, stride,
    padding)`` as the public functions take them."""
    fname = f"max_unpool{n}d"
    kernel_size, stride, padding = window
    x, restore = _channels_last(input, n, data_format, fname, empty_ok=True)
    idx, _ = _channels_last(indices, n, data_format, fname, empty_ok=True)
    if idx.shape != x.shape:
        raise RuntimeError(
            f"{fname}: Expected shape of indices to be same as that of the input "
            f"tensor ({list(x.shape)}) but got indices tensor with shape: "
            f"{list(idx.shape)}"
        )
    kernel = pool_tuple(kernel_size, n, "kernel_size", fname)
    strides = _stride(stride, kernel, n, fname)
    pads = pool_tuple(padding, n, "padding", fname)
    size = x.shape[1:-1]
    default = tuple(
        (i - 1) * s - 2 * p + k
        for i, s, p, k in zip(size, strides, pads, kernel, strict=True)
    )
    out = default if output_size is None else _unpool_size(output_size, n, default)
    planes = math.prod(out)
    flat_x = x.reshape(x.shape[0], -1, x.shape[-1])
    flat_i = idx.reshape(flat_x.shape).astype(jnp.int32)
    batch = jnp.arange(x.shape[0])[:, None, None]
    chan = jnp.arange(x.shape[-1])[None, None, :]
    y = jnp.zeros((x.shape[0], planes, x.shape[-1]), x.dtype)
    y = y.at[batch, flat_i, chan].set(flat_x, mode="drop")
    return restore(y.reshape(x.shape[0], *out, x.shape[-1]))


def _unpool_size(output_size, n: int, default: tuple[int, ...]) -> tuple[int, ...]:
    sizes = tuple(int(s) for s in output_size)
    if len(sizes) in (n + 1, n + 2):
        sizes = sizes[-n:]
    if len(sizes) != n:
        raise ValueError(
            f"output_size should be a sequence containing {n} or {n + 2} elements, "
            f"but it has a length of '{len(sizes)}'"
        )
    return sizes


@eager_jit
def max_unpool1d(
    input: Any,
    indices: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
    *,
    data_format: str = "NCL",
) -> jax.Array:
    """The inverse of ``max_pool1d``; ``max_unpool2d`` in 1-D.

    torch counterpart: ``torch.nn.functional.max_unpool1d(input, indices,
    kernel_size, stride=None, padding=0, output_size=None)``.

    Args:
        input, indices: ``[N, C, L]`` or ``[C, L]`` (channels last with
            ``data_format="NLC"``), the values and indices ``max_pool1d``
            returned.
        kernel_size, stride, padding, output_size: as ``max_unpool2d``.
        data_format: "NCL" (torch's, default) or "NLC".

    Returns:
        As ``max_unpool2d``.

    Raises:
        RuntimeError: indices of another shape than the input.

    Example:
        >>> from jtoolkit.functional import max_pool1d, max_unpool1d
        >>> x = jnp.array([[[1.0, 3.0, 2.0, 0.0]]])
        >>> y, i = max_pool1d(x, 2, return_indices=True)
        >>> max_unpool1d(y, i, 2).tolist()
        [[[0.0, 3.0, 2.0, 0.0]]]
    """
    window = (kernel_size, stride, padding)
    return _max_unpool(1, input, indices, window, output_size, data_format)


@eager_jit
def max_unpool2d(
    input: Any,
    indices: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
    *,
    data_format: str = "NCHW",
) -> jax.Array:
    """The inverse of ``max_pool2d``: each value placed at its index,
    zeros elsewhere, channels-first by default.

    torch counterpart: ``torch.nn.functional.max_unpool2d(input, indices,
    kernel_size, stride=None, padding=0, output_size=None)``; the default
    output size is ``(in - 1) * stride - 2 * padding + kernel_size`` per axis.

    Args:
        input, indices: ``[N, C, H, W]`` or ``[C, H, W]`` (channels last with
            ``data_format="NHWC"``), the values and indices ``max_pool2d``
            returned.
        kernel_size, stride (default ``kernel_size``), padding: as the pool's.
        output_size: the spatial size to restore (or with N and C in front).
        data_format: "NCHW" (torch's, default) or "NHWC".

    Returns:
        The unpooled array in the input's layout; indices out of range are
        dropped (torch raises).

    Raises:
        RuntimeError: indices of another shape than the input.

    Example:
        >>> from jtoolkit.functional import max_pool2d, max_unpool2d
        >>> y, i = max_pool2d(jnp.arange(4.0).reshape(1, 2, 2), 2, return_indices=True)
        >>> max_unpool2d(y, i, 2).tolist()
        [[[0.0, 0.0], [0.0, 3.0]]]
    """
    window = (kernel_size, stride, padding)
    return _max_unpool(2, input, indices, window, output_size, data_format)


@eager_jit
def max_unpool3d(
    input: Any,
    indices: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
    *,
    data_format: str = "NCDHW",
) -> jax.Array:
    """The inverse of ``max_pool3d``; ``max_unpool2d`` in 3-D.

    torch counterpart: ``torch.nn.functional.max_unpool3d(input, indices,
    kernel_size, stride=None, padding=0, output_size=None)``.

    Args:
        input, indices: ``[N, C, D, H, W]`` or ``[C, D, H, W]`` (channels last with
            ``data_format="NDHWC"``), the values and indices ``max_pool3d``
            returned.
        kernel_size, stride, padding, output_size: as ``max_unpool2d``.
        data_format: "NCDHW" (torch's, default) or "NDHWC".

    Returns:
        As ``max_unpool2d``.

    Raises:
        RuntimeError: indices of another shape than the input.

    Example:
        >>> from jtoolkit.functional import max_pool3d, max_unpool3d
        >>> x = jnp.arange(8.0).reshape(1, 2, 2, 2)
        >>> y, i = max_pool3d(x, 2, return_indices=True)
        >>> max_unpool3d(y, i, 2).ravel().tolist()
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 7.0]
    """
    window = (kernel_size, stride, padding)
    return _max_unpool(3, input, indices, window, output_size, data_format)
