"""``interpolate``: torch's resampling (nearest, nearest-exact, linear, bilinear,
trilinear, bicubic, area) with its index and weight arithmetic.

Each spatial axis is resampled on its own with static indices and weights
computed on the host in torch's float32 ("opmath") arithmetic: nearest modes
gather, (bi/tri)linear modes mix two neighbours, bicubic four (Keys' kernel,
``A = -0.75``, indices clamped at the border), in torch's order (the last axis
first). Input is torch's channels-first ``[N, C, *spatial]`` by default;
``data_format`` ("NLC", "NHWC", "NDHWC") serves jtoolkit's channels-last layers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core import arrays, dtypes
from jtoolkit._src.core.eager_jit import eager_jit
from jtoolkit._src.nn.functional.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
)

__all__ = ["interpolate"]

_FIRST = {3: "NCL", 4: "NCHW", 5: "NCDHW"}
_LAST = {3: "NLC", 4: "NHWC", 5: "NDHWC"}
_NEEDS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area")
_F32 = np.float32


def _spatial_axes(ndim: int, data_format: str | None) -> tuple[list[int], bool]:
    """The spatial axes and whether the layout is channels-last."""
    if data_format is None or data_format == _FIRST.get(ndim):
        return list(range(2, ndim)), False
    if data_format == _LAST.get(ndim):
        return list(range(1, ndim - 1)), True
    raise ValueError(
        f"interpolate: data_format must be None, {_FIRST.get(ndim)!r} or "
        f"{_LAST.get(ndim)!r} for a {ndim}-D input, got {data_format!r}"
    )


def _sizes_and_scales(shape, size, scale_factor, recompute_scale_factor, mode):
    """torch's output size per axis and the scale each kernel receives."""
    dim = len(shape)
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = list(size) if isinstance(size, Sequence) else [size] * dim
        if len(sizes) != dim:
            raise ValueError(
                "Input and output must have the same number of spatial dimensions,"
                f" but got input with spatial dimensions of {list(shape)} and "
                f"output size of {size}. Please provide input tensor in (N, C, d1,"
                " d2, ...,dK) format and output size in (o1, o2, ...,oK) format."
            )
        if recompute_scale_factor:
            raise ValueError(
                "recompute_scale_factor is not meaningful with an explicit size."
            )
        return [int(s) for s in sizes], [None] * dim
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if isinstance(scale_factor, Sequence):
        factors = [float(f) for f in scale_factor]
        if len(factors) != dim:
            raise ValueError(
                "Input and scale_factor must have the same number of spatial "
                f"dimensions, but got input with spatial dimensions of "
                f"{list(shape)} and scale_factor of shape {scale_factor}. Please "
                "provide input tensor in (N, C, d1, d2, ...,dK) format and "
                "scale_factor in (s1, s2, ...,sK) format."
            )
    else:
        factors = [float(scale_factor)] * dim
    sizes = [math.floor(float(n) * f) for n, f in zip(shape, factors, strict=True)]
    if recompute_scale_factor or mode == "area":
        return sizes, [None] * dim
    return sizes, factors


def _scale(n_in: int, n_out: int, align_corners: bool, factor: float | None):
    """torch's ``area_pixel_compute_scale`` in float32."""
    if align_corners:
        return _F32((n_in - 1) / (n_out - 1)) if n_out > 1 else _F32(0)
    if factor is not None and factor > 0:
        return _F32(1.0 / factor)
    return _F32(_F32(n_in) / _F32(n_out))


def _nearest_index(n_in, n_out, factor, exact: bool) -> np.ndarray:
    scale = _scale(n_in, n_out, False, factor)
    i = np.arange(n_out)
    if exact:  # torch: floorf((i + 0.5) * scale), a double product cast to float
        src = np.floor(((i + 0.5) * np.float64(scale)).astype(_F32))
    else:
        src = np.floor(i.astype(_F32) * scale)
    return np.minimum(src.astype(np.int64), n_in - 1)


def _linear_taps(n_in, n_out, align_corners, factor):
    """Two neighbours and torch's lambdas per output (``[2, out]`` each)."""
    i = np.arange(n_out)
    if n_in == n_out:
        return np.stack([i, i]), np.stack([np.ones(n_out, _F32), np.zeros(n_out, _F32)])
    scale = _scale(n_in, n_out, align_corners, factor)
    if align_corners:
        real = scale * i.astype(_F32)
    else:
        real = scale * (i.astype(_F32) + _F32(0.5)) - _F32(0.5)
        real = np.maximum(real, _F32(0))
    index0 = np.minimum(np.floor(real).astype(np.int64), n_in - 1)
    lambda1 = np.clip(real - index0.astype(_F32), _F32(0), _F32(1)).astype(_F32)
    index1 = index0 + (index0 < n_in - 1)
    return np.stack([index0, index1]), np.stack([_F32(1) - lambda1, lambda1])


def _cubic_taps(n_in, n_out, align_corners, factor):
    """Four clamped neighbours and Keys' weights (A = -0.75) per output."""
    scale = _scale(n_in, n_out, align_corners, factor)
    i = np.arange(n_out).astype(_F32)
    real = scale * i if align_corners else scale * (i + _F32(0.5)) - _F32(0.5)
    start = np.floor(real).astype(np.int64)
    t = (real - start.astype(_F32)).astype(_F32)
    a = _F32(-0.75)

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    weights = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)]).astype(_F32)
    index = np.clip(start[None, :] + np.arange(-1, 3)[:, None], 0, n_in - 1)
    return index, weights


def _mix(x: jax.Array, axis: int, index: np.ndarray, weights: np.ndarray):
    """``sum_k weights[k] * x[index[k]]`` along ``axis``, torch's order."""
    shape = [1] * x.ndim
    shape[axis] = index.shape[1]
    terms = [
        jnp.take(x, jnp.asarray(idx), axis=axis)
        * jnp.asarray(w.reshape(shape), x.dtype)
        for idx, w in zip(index, weights, strict=True)
    ]
    out = terms[0]
    for term in terms[1:]:
        out = out + term
    return out


@eager_jit
def interpolate(
    input: Any,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
    *,
    data_format: str | None = None,
) -> jax.Array:
    """Resample the spatial axes to ``size`` or by ``scale_factor``, torch's way.

    torch counterpart: ``torch.nn.functional.interpolate(input, size=None,
    scale_factor=None, mode='nearest', align_corners=None,
    recompute_scale_factor=None, antialias=False)``. The output size is
    ``floor(in * scale_factor)``; unless ``recompute_scale_factor=True``, the
    kernels use ``1 / scale_factor`` as the step (as torch), not ``in / out``.

    Args:
        input: ``[N, C, L]``, ``[N, C, H, W]`` or ``[N, C, D, H, W]`` (torch has
            no unbatched form); channels-last with ``data_format`` "NLC",
            "NHWC" or "NDHWC".
        size: an int or one per spatial axis.
        scale_factor: a float or one per spatial axis.
        mode: "nearest", "nearest-exact", "linear" (3-D), "bilinear" (4-D),
            "bicubic" (4-D), "trilinear" (5-D) or "area" (adaptive average).
        align_corners: for the interpolating modes (default False); corner
            pixels' centres map onto each other.
        recompute_scale_factor: compute the step from the output size.
        antialias: only False (True raises NotImplementedError).
        data_format: None (torch's channels-first) or a layout name above.

    Returns:
        The resampled array, the input's dtype and layout.

    Raises:
        ValueError: both or neither of ``size``/``scale_factor``, lengths that
            do not match the spatial rank, ``align_corners`` with a nearest or
            area mode, ``recompute_scale_factor`` with ``size``.
        NotImplementedError: a mode that does not fit the input's rank (torch's
            words), an unknown mode, ``antialias=True``, integer input to an
            interpolating mode.

    Example:
        >>> from jtoolkit.functional import interpolate
        >>> x = jnp.array([[[1.0, 2.0, 4.0]]])
        >>> interpolate(x, scale_factor=2).tolist()
        [[[1.0, 1.0, 2.0, 2.0, 4.0, 4.0]]]
        >>> interpolate(x, size=5, mode="linear", align_corners=True).tolist()
        [[[1.0, 1.5, 2.0, 3.0, 4.0]]]
    """
    x = arrays.to_array(input)
    exact = mode == "nearest-exact"
    if mode not in _MODES and not exact:
        raise NotImplementedError(
            f"interpolate: mode {mode!r} is not one of nearest | linear | bilinear "
            "| bicubic | trilinear | area | nearest-exact"
        )
    interpolating = mode in _NEEDS
    if not interpolating and align_corners is not None:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: "
            "linear | bilinear | bicubic | trilinear"
        )
    if antialias:
        raise NotImplementedError(
            "interpolate: antialias=True is not supported (torch's antialiased "
            "bilinear/bicubic kernels); pass antialias=False"
        )
    if x.ndim not in (3, 4, 5):
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
            f"{x.ndim}D) for the modes: nearest | linear | bilinear | bicubic | "
            f"trilinear | area | nearest-exact (got {mode})"
        )
    if interpolating and x.ndim != _NEEDS[mode]:
        raise NotImplementedError(
            f"Got {x.ndim}D input, but {mode} mode needs {_NEEDS[mode]}D input"
        )
    if interpolating and not dtypes.is_float(x.dtype):
        raise NotImplementedError(
            f"\"upsample_{mode}\" not implemented for '{dtypes.scalar_name(x.dtype)}'"
        )
    axes, last = _spatial_axes(x.ndim, data_format)
    shape = [x.shape[a] for a in axes]
    sizes, factors = _sizes_and_scales(
        shape, size, scale_factor, recompute_scale_factor, mode
    )
    if mode == "area":
        pool = (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)
        layout = _LAST[x.ndim] if last else _FIRST[x.ndim]
        return pool[x.ndim - 3](x, sizes, data_format=layout)
    corners = bool(align_corners)
    for axis, n_in, n_out, factor in reversed(
        list(zip(axes, shape, sizes, factors, strict=True))
    ):
        if mode in ("nearest", "nearest-exact"):
            x = jnp.take(
                x, jnp.asarray(_nearest_index(n_in, n_out, factor, exact)), axis
            )
        elif mode == "bicubic":
            x = _mix(x, axis, *_cubic_taps(n_in, n_out, corners, factor))
        else:
            x = _mix(x, axis, *_linear_taps(n_in, n_out, corners, factor))
    return x
