"""Upsampling modules (torch.nn.Upsample, UpsamplingNearest2d,
UpsamplingBilinear2d) on channels-last input, calling ``F.interpolate``."""

from __future__ import annotations

from typing import Any

import jax
from flax import nnx

from jtoolkit._src.core import arrays
from jtoolkit._src.nn.functional.upsampling import interpolate

__all__ = ["Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]

_LAST = {3: "NLC", 4: "NHWC", 5: "NDHWC"}


class Upsample(nnx.Module):
    """torch's ``nn.Upsample`` on channels-last input: ``F.interpolate(x, ...,
    data_format="NLC"|"NHWC"|"NDHWC")``.

    torch: ``torch.nn.Upsample(size=None, scale_factor=None, mode='nearest',
    align_corners=None, recompute_scale_factor=None)`` resamples [N, C, *spatial];
    here the input is [N, L, C], [N, H, W, C] or [N, D, H, W, C] (batched, as
    torch), with torch's sizes, indices and weights.

    Raises:
      ValueError: at call, as ``F.interpolate`` (size, scale_factor, modes).
      NotImplementedError: at call, a mode that does not fit the input rank.

    Example:
      >>> from jtoolkit.models import Upsample
      >>> up = Upsample(scale_factor=2, mode="bilinear", align_corners=True)
      >>> up(jnp.ones((1, 2, 3, 4))).shape
      (1, 4, 6, 4)
    """

    def __init__(
        self,
        size: Any = None,
        scale_factor: Any = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        self.size = size
        if isinstance(scale_factor, tuple | list):
            self.scale_factor: Any = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def __call__(self, x: jax.Array) -> jax.Array:
        x = arrays.to_array(x)
        return interpolate(
            x,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            self.recompute_scale_factor,
            data_format=_LAST.get(x.ndim),
        )

    def _torch_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """torch's ``nn.UpsamplingNearest2d(size=None, scale_factor=None)``:
    ``Upsample(size, scale_factor, mode="nearest")`` on NHWC input.

    Example:
      >>> from jtoolkit.models import UpsamplingNearest2d
      >>> UpsamplingNearest2d(scale_factor=2)(jnp.ones((1, 2, 3, 4))).shape
      (1, 4, 6, 4)
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """torch's ``nn.UpsamplingBilinear2d(size=None, scale_factor=None)``:
    ``Upsample(size, scale_factor, mode="bilinear", align_corners=True)`` on
    NHWC input.

    Example:
      >>> from jtoolkit.models import UpsamplingBilinear2d
      >>> UpsamplingBilinear2d(size=(3, 5))(jnp.ones((1, 2, 3, 4))).shape
      (1, 3, 5, 4)
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
