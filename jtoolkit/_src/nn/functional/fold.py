"""Sliding blocks and sub-pixel rearrangement: torch's ``F.unfold``/``F.fold``
(im2col and its adjoint) and ``F.pixel_shuffle``/``F.pixel_unshuffle``.

Layouts: torch's by default (``data_format="NCHW"``: images ``[N, C, H, W]``,
columns ``[N, C * kh * kw, L]``, unbatched without N); ``data_format="NHWC"`` is
jtoolkit's layer layout, channels last for both (images ``[N, H, W, C]``, columns
``[N, L, C * kh * kw]``). The column order is torch's in both: channel-major, then
the kernel offsets row-major; blocks ``L`` row-major over the output grid.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jtoolkit._src.core import arrays, checks
from jtoolkit._src.core.eager_jit import eager_jit
from jtoolkit._src.nn.functional.conv import expand

__all__ = ["fold", "pixel_shuffle", "pixel_unshuffle", "unfold"]


_FORMATS = ("NCHW", "NHWC")


def _params(kernel_size, dilation, padding, stride, fname: str):
    return tuple(
        expand(value, 2, name, fname)
        for value, name in (
            (kernel_size, "kernel_size"),
            (dilation, "dilation"),
            (padding, "padding"),
            (stride, "stride"),
        )
    )


def _blocks(size, kernel, dilation, padding, stride) -> tuple[int, int]:
    """The sliding-block grid of a (padded) ``size`` image, torch's "L" factors."""
    oh, ow = (
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, d, p, s in zip(size, kernel, dilation, padding, stride, strict=True)
    )
    return oh, ow


def _offsets(kernel, dilation, stride, grid):
    """Per kernel offset (row-major), the strided slice of the padded image."""
    (kh, kw), (dh, dw), (sh, sw), (oh, ow) = kernel, dilation, stride, grid
    for i in range(kh):
        for j in range(kw):
            r, c = i * dh, j * dw
            yield (
                slice(None),
                slice(r, r + (oh - 1) * sh + 1, sh),
                slice(c, c + (ow - 1) * sw + 1, sw),
            )


@eager_jit
def unfold(
    input: Any,
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
    *,
    data_format: str = "NCHW",
) -> jax.Array:
    """Extract sliding local blocks (im2col), torch's ``F.unfold``.

    torch: ``torch.nn.functional.unfold(input, kernel_size, dilation=1, padding=0,
    stride=1)``.

    Args:
        input: ``[N, C, H, W]`` or ``[C, H, W]`` (``"NHWC"``: channels last).
        kernel_size, dilation, padding, stride: int or pair (zero padding).
        data_format: ``"NCHW"`` (torch's) or ``"NHWC"``.

    Returns:
        ``[N, C * kh * kw, L]`` (``"NHWC"``: ``[N, L, C * kh * kw]``), L the number
        of blocks; unbatched without N.

    Raises:
        RuntimeError: a block grid with a zero side (torch's message), bad
            stride/padding/dilation, or input that is not 3-D/4-D.

    Example:
        >>> import jtoolkit.functional as F
        >>> F.unfold(jnp.arange(16.0).reshape(1, 1, 4, 4), 2, stride=2)[0, :, 0]
        Array([0., 1., 4., 5.], dtype=float32)
    """
    checks.check_choice("data_format", data_format, _FORMATS, fn="unfold")
    kernel, dil, pads, stride = _params(
        kernel_size, dilation, padding, stride, "unfold"
    )
    x = arrays.to_array(input)
    if x.ndim not in (3, 4):
        raise RuntimeError(
            f"unfold: expected a 3-D or 4-D (batched) input, got shape {x.shape}"
        )
    batched = x.ndim == 4
    x = x if batched else x[None]
    if data_format == "NCHW":
        x = x.transpose(0, 2, 3, 1)
    _check_geometry(kernel, dil, pads, stride)
    grid = _blocks(x.shape[1:3], kernel, dil, pads, stride)
    if min(grid) < 1:
        raise RuntimeError(
            f"Given input with spatial size {tuple(x.shape[1:3])}, kernel_size="
            f"{kernel}, dilation={dil}, padding={pads}, calculated shape of the array "
            f"of sliding blocks as {grid}, but its components must be at least one."
        )
    xp = jnp.pad(x, ((0, 0), (pads[0],) * 2, (pads[1],) * 2, (0, 0)))
    cols = jnp.stack([xp[index] for index in _offsets(kernel, dil, stride, grid)], -1)
    n, c = x.shape[0], x.shape[-1]
    cols = cols.reshape(n, grid[0] * grid[1], c * kernel[0] * kernel[1])
    if data_format == "NCHW":
        cols = cols.transpose(0, 2, 1)
    return cols if batched else cols[0]


def _check_geometry(kernel, dilation, padding, stride) -> None:
    if min(kernel) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, got {kernel}")
    if min(stride) <= 0:
        raise RuntimeError(f"stride should be greater than zero, got {stride}")
    if min(dilation) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, got {dilation}")
    if min(padding) < 0:
        raise RuntimeError(f"padding should be non-negative, got {padding}")


@eager_jit
def fold(
    input: Any,
    output_size: Any,
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
    *,
    data_format: str = "NCHW",
) -> jax.Array:
    """Sum sliding local blocks back into an image (col2im), torch's ``F.fold``.

    torch: ``torch.nn.functional.fold(input, output_size, kernel_size, dilation=1,
    padding=0, stride=1)``: the adjoint of ``unfold``; overlapping values add up.

    Args:
        input: ``[N, C * kh * kw, L]`` or ``[C * kh * kw, L]`` (``"NHWC"``: ``[N,
            L, C * kh * kw]`` / ``[L, C * kh * kw]``).
        output_size: (H, W) of the image (int or pair).
        kernel_size, dilation, padding, stride: int or pair.
        data_format: ``"NCHW"`` (torch's) or ``"NHWC"``.

    Returns:
        ``[N, C, H, W]`` (``"NHWC"``: ``[N, H, W, C]``), unbatched without N.

    Raises:
        RuntimeError: a column count not divisible by ``kh * kw`` or a block count
            other than the grid's (torch's messages), input not 2-D/3-D.

    Example:
        >>> import jtoolkit.functional as F
        >>> F.fold(jnp.ones((1, 4, 9)), (4, 4), 2)[0, 0].tolist()[1]
        [2.0, 4.0, 4.0, 2.0]
    """
    checks.check_choice("data_format", data_format, _FORMATS, fn="fold")
    size = expand(output_size, 2, "output_size", "fold")
    kernel, dil, pads, stride = _params(kernel_size, dilation, padding, stride, "fold")
    cols = arrays.to_array(input)
    if cols.ndim not in (2, 3):
        raise RuntimeError(
            f"fold: expected a 2-D or 3-D (batched) input, got shape {cols.shape}"
        )
    batched = cols.ndim == 3
    cols = cols if batched else cols[None]
    if data_format == "NCHW":
        cols = cols.transpose(0, 2, 1)
    _check_geometry(kernel, dil, pads, stride)
    k = kernel[0] * kernel[1]
    if cols.shape[2] % k:
        raise RuntimeError(
            "Expected size of input's dimension 1 to be divisible by the product of "
            f"kernel_size, but got input.size(1)={cols.shape[2]} and "
            f"kernel_size={kernel}."
        )
    grid = _blocks(size, kernel, dil, pads, stride)
    if grid[0] * grid[1] != cols.shape[1]:
        raise RuntimeError(
            f"Given output_size={size}, kernel_size={kernel}, dilation={dil}, "
            f"padding={pads}, stride={stride}, expected size of input's dimension 2 "
            f"to match the calculated number of sliding blocks {grid[0]} * {grid[1]} "
            f"= {grid[0] * grid[1]}, but got input.size(2)={cols.shape[1]}."
        )
    n, c = cols.shape[0], cols.shape[2] // k
    blocks = cols.reshape(n, grid[0], grid[1], c, k)
    image = jnp.zeros((n, size[0] + 2 * pads[0], size[1] + 2 * pads[1], c), cols.dtype)
    for idx, index in enumerate(_offsets(kernel, dil, stride, grid)):
        image = image.at[index].add(blocks[..., idx])
    image = image[:, pads[0] : pads[0] + size[0], pads[1] : pads[1] + size[1]]
    if data_format == "NCHW":
        image = image.transpose(0, 3, 1, 2)
    return image if batched else image[0]


def _factor(value: Any, name: str, fname: str) -> int:
    factor = checks.torch_int_arg(name, value, fname)
    if factor <= 0:
        raise RuntimeError(f"{fname} expects a positive {name}, but got {factor}")
    return factor


def _image(input: Any, data_format: str, fname: str):
    """The input as [..., H, W, C] and the undo for the result."""
    checks.check_choice("data_format", data_format, _FORMATS, fn=fname)
    x = arrays.to_array(input)
    if x.ndim < 3:
        raise RuntimeError(
            f"{fname} expects input to have at least 3 dimensions, but got input "
            f"with {x.ndim} dimension(s)"
        )
    if data_format == "NHWC":
        return x, lambda y: y
    return jnp.moveaxis(x, -3, -1), lambda y: jnp.moveaxis(y, -1, -3)


@eager_jit
def pixel_shuffle(
    input: Any, upscale_factor: int, *, data_format: str = "NCHW"
) -> jax.Array:
    """Rearrange ``[*, C * r * r, H, W]`` into ``[*, C, H * r, W * r]``, torch's
    ``F.pixel_shuffle``.

    torch: ``torch.nn.functional.pixel_shuffle(input, upscale_factor)``; channel
    ``c * r * r + i * r + j`` goes to offset ``(i, j)`` of channel ``c``.

    Args:
        input: at least 3-D, ``[*, C * r * r, H, W]`` (``"NHWC"``: ``[*, H, W,
            C * r * r]``).
        upscale_factor: r >= 1.
        data_format: ``"NCHW"`` (torch's) or ``"NHWC"``.

    Returns:
        ``[*, C, H * r, W * r]`` (``"NHWC"``: ``[*, H * r, W * r, C]``).

    Raises:
        RuntimeError: fewer than 3 dims, r <= 0, channels not divisible by r * r
            (torch's messages).

    Example:
        >>> import jtoolkit.functional as F
        >>> F.pixel_shuffle(jnp.arange(4.0).reshape(1, 4, 1, 1), 2)[0, 0].tolist()
        [[0.0, 1.0], [2.0, 3.0]]
    """
    r = _factor(upscale_factor, "upscale_factor", "pixel_shuffle")
    x, restore = _image(input, data_format, "pixel_shuffle")
    *lead, h, w, c = x.shape
    if c % (r * r):
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by "
            f"the square of upscale_factor, but input.size(-3)={c} is not divisible "
            f"by {r * r}"
        )
    y = x.reshape(*lead, h, w, c // (r * r), r, r)
    k = len(lead)
    y = y.transpose(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return restore(y.reshape(*lead, h * r, w * r, c // (r * r)))


@eager_jit
def pixel_unshuffle(
    input: Any, downscale_factor: int, *, data_format: str = "NCHW"
) -> jax.Array:
    """Rearrange ``[*, C, H * r, W * r]`` into ``[*, C * r * r, H, W]``, torch's
    ``F.pixel_unshuffle`` (the inverse of ``pixel_shuffle``).

    torch: ``torch.nn.functional.pixel_unshuffle(input, downscale_factor)``.

    Args:
        input: at least 3-D, ``[*, C, H, W]`` (``"NHWC"``: ``[*, H, W, C]``), H and
            W divisible by r.
        downscale_factor: r >= 1.
        data_format: ``"NCHW"`` (torch's) or ``"NHWC"``.

    Returns:
        ``[*, C * r * r, H / r, W / r]`` (``"NHWC"``: channels last).

    Raises:
        RuntimeError: fewer than 3 dims, r <= 0, H or W not divisible by r
            (torch's messages).

    Example:
        >>> import jtoolkit.functional as F
        >>> F.pixel_unshuffle(jnp.arange(4.0).reshape(1, 1, 2, 2), 2).ravel().tolist()
        [0.0, 1.0, 2.0, 3.0]
    """
    r = _factor(downscale_factor, "downscale_factor", "pixel_unshuffle")
    x, restore = _image(input, data_format, "pixel_unshuffle")
    *lead, h, w, c = x.shape
    for size, name, dim in ((h, "height", -2), (w, "width", -1)):
        if size % r:
            raise RuntimeError(
                f"pixel_unshuffle expects {name} to be divisible by downscale_factor, "
                f"but input.size({dim})={size} is not divisible by {r}"
            )
    y = x.reshape(*lead, h // r, r, w // r, r, c)
    k = len(lead)
    y = y.transpose(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return restore(y.reshape(*lead, h // r, w // r, c * r * r))
