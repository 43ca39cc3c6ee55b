"""Pooling modules (torch.nn.MaxPool2d, AdaptiveAvgPool2d), NHWC."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.nn import conv_lowering, pool_ops

__all__ = ["AdaptiveAvgPool2d", "MaxPool2d"]


class MaxPool2d(nnx.Module):
    """torch's ``nn.MaxPool2d(kernel_size, stride=None, padding=0)`` on NHWC input.

    Floor mode, dilation 1; at ties the gradient goes to the first maximum, as torch.

    Example:
      >>> from jtoolkit.models import MaxPool2d
      >>> MaxPool2d(2)(jnp.ones((1, 5, 4, 3))).shape
      (1, 2, 2, 3)
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        kernel, pads = (
            conv_lowering.pair(kernel_size, "kernel_size"),
            conv_lowering.pair(padding, ""),
        )
        if any(2 * p > k for p, k in zip(pads, kernel, strict=True)):
            raise RuntimeError(
                "pad should be at most half of effective kernel size, but got "
                f"pad={padding}, kernel_size={kernel_size}"
            )

    def __call__(self, x: jax.Array) -> jax.Array:
        return pool_ops.max_pool2d(
            jnp.asarray(x),
            conv_lowering.pair(self.kernel_size, "kernel_size"),
            conv_lowering.pair(self.stride, "stride"),
            conv_lowering.pair(self.padding, "padding"),
        )

    def _torch_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation=1, ceil_mode=False"
        )


class AdaptiveAvgPool2d(nnx.Module):
    """torch's ``nn.AdaptiveAvgPool2d(output_size)`` on NHWC input (torch's bins).

    Example:
      >>> from jtoolkit.models import AdaptiveAvgPool2d
      >>> AdaptiveAvgPool2d((4, 4))(jnp.ones((1, 14, 14, 2))).shape
      (1, 4, 4, 2)
    """

    def __init__(self, output_size: int | tuple[int, int]) -> None:
        self.output_size = output_size

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim != 4:
            raise RuntimeError(
                f"AdaptiveAvgPool2d expects NHWC input, but got shape {x.shape}"
            )
        return pool_ops.adaptive_avg_pool2d(
            x, conv_lowering.pair(self.output_size, "output_size")
        )

    def _torch_repr(self) -> str:
        return f"output_size={self.output_size}"
