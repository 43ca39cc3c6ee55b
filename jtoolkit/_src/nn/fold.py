"""``Fold``/``Unfold`` and ``PixelShuffle``/``PixelUnshuffle`` (torch.nn) on
jtoolkit's channels-last layout.

Each holds torch's configuration and calls its function in
``nn/functional/fold.py`` with ``data_format="NHWC"``: images ``[N, H, W, C]``,
columns ``[N, L, C * kh * kw]`` (torch's ``[N, C * kh * kw, L]`` transposed, the
same column order), unbatched without N.
"""

from __future__ import annotations

from typing import Any

import jax
from flax import nnx

from jtoolkit._src.nn.functional.fold import (
    fold,
    pixel_shuffle,
    pixel_unshuffle,
    unfold,
)

__all__ = ["Fold", "PixelShuffle", "PixelUnshuffle", "Unfold"]


class Unfold(nnx.Module):
    """Sliding local blocks of ``[N, H, W, C]`` images, torch's ``nn.Unfold``.

    torch: ``torch.nn.Unfold(kernel_size, dilation=1, padding=0, stride=1)`` maps
    ``[N, C, H, W]`` to ``[N, C * kh * kw, L]``; here ``[N, H, W, C]`` (or ``[H, W,
    C]``) maps to ``[N, L, C * kh * kw]`` (``F.unfold(..., data_format="NHWC")``).

    Args:
      kernel_size, dilation, padding, stride: int or pair.

    Example:
      >>> from jtoolkit.models import Unfold
      >>> Unfold(2, stride=2)(jnp.ones((1, 4, 6, 3))).shape
      (1, 6, 12)
    """

    def __init__(
        self, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
    ) -> None:
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def __call__(self, x: jax.Array) -> jax.Array:
        window = (self.kernel_size, self.dilation, self.padding, self.stride)
        return unfold(x, *window, data_format="NHWC")

    def _torch_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
            f"padding={self.padding}, stride={self.stride}"
        )


class Fold(nnx.Module):
    """Sum sliding local blocks into ``[N, H, W, C]`` images, torch's ``nn.Fold``.

    torch: ``torch.nn.Fold(output_size, kernel_size, dilation=1, padding=0,
    stride=1)`` maps ``[N, C * kh * kw, L]`` to ``[N, C, H, W]``; here ``[N, L, C *
    kh * kw]`` (or ``[L, C * kh * kw]``) maps to ``[N, H, W, C]``.

    Args:
      output_size: (H, W). kernel_size, dilation, padding, stride: int or pair.

    Example:
      >>> from jtoolkit.models import Fold, Unfold
      >>> x = jnp.arange(24.0).reshape(1, 4, 2, 3)
      >>> bool((Fold((4, 2), 2, stride=2)(Unfold(2, stride=2)(x)) == x).all())
      True
    """

    def __init__(
        self,
        output_size: Any,
        kernel_size: Any,
        dilation: Any = 1,
        padding: Any = 0,
        stride: Any = 1,
    ) -> None:
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def __call__(self, x: jax.Array) -> jax.Array:
        window = (self.kernel_size, self.dilation, self.padding, self.stride)
        return fold(x, self.output_size, *window, data_format="NHWC")

    def _torch_repr(self) -> str:
        return (
            f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
            f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}"
        )


class PixelShuffle(nnx.Module):
    """``[*, H, W, C * r * r]`` -> ``[*, H * r, W * r, C]``, torch's
    ``nn.PixelShuffle`` on channels-last input (torch's channel order).

    torch: ``torch.nn.PixelShuffle(upscale_factor)`` on ``[*, C * r * r, H, W]``.

    Args:
      upscale_factor: r.

    Example:
      >>> from jtoolkit.models import PixelShuffle
      >>> PixelShuffle(2)(jnp.ones((1, 3, 3, 8))).shape
      (1, 6, 6, 2)
    """

    def __init__(self, upscale_factor: int) -> None:
        self.upscale_factor = upscale_factor

    def __call__(self, x: jax.Array) -> jax.Array:
        return pixel_shuffle(x, self.upscale_factor, data_format="NHWC")

    def _torch_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(nnx.Module):
    """``[*, H * r, W * r, C]`` -> ``[*, H, W, C * r * r]``, torch's
    ``nn.PixelUnshuffle`` on channels-last input.

    torch: ``torch.nn.PixelUnshuffle(downscale_factor)`` on ``[*, C, H, W]``.

    Args:
      downscale_factor: r.

    Example:
      >>> from jtoolkit.models import PixelUnshuffle
      >>> PixelUnshuffle(2)(jnp.ones((1, 6, 6, 2))).shape
      (1, 3, 3, 8)
    """

    def __init__(self, downscale_factor: int) -> None:
        self.downscale_factor = downscale_factor

    def __call__(self, x: jax.Array) -> jax.Array:
        return pixel_unshuffle(x, self.downscale_factor, data_format="NHWC")

    def _torch_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
