"""Pooling modules (torch.nn.MaxPool1d/2d, AvgPool2d, AdaptiveAvgPool2d), NLC/NHWC."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.nn import conv_lowering, pool_ops

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "MaxPool1d", "MaxPool2d"]


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


def _too_much_padding(pads, kernel) -> bool:
    return any(2 * p > k for p, k in zip(pads, kernel, strict=True))


class MaxPool1d(nnx.Module):
    """torch's ``nn.MaxPool1d(kernel_size, stride=None, padding=0)`` on NLC input.

    torch pools [N, C, L]; here the input is [N, L, C] (or unbatched [L, C]). Floor
    mode, dilation 1, no indices (other values raise NotImplementedError); at ties
    the gradient goes to the first maximum, as torch.

    Example:
      >>> from jtoolkit.models import MaxPool1d
      >>> MaxPool1d(2)(jnp.array([[[1.0], [3.0], [2.0], [0.0]]])).ravel().tolist()
      [3.0, 2.0]
    """

    def __init__(
        self,
        kernel_size: int,
        stride: int | None = None,
        padding: int = 0,
        dilation: int = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        if dilation != 1 or return_indices or ceil_mode:
            raise NotImplementedError(
                "MaxPool1d supports dilation=1, return_indices=False and "
                f"ceil_mode=False, got dilation={dilation}, return_indices="
                f"{return_indices}, ceil_mode={ceil_mode}"
            )
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        if _too_much_padding((padding,), (kernel_size,)):
            raise RuntimeError(
                "max_pool1d() padding should be at most half of kernel size, but got "
                f"padding={padding} and kernel_size={kernel_size}"
            )

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim not in (2, 3):
            raise RuntimeError(
                f"MaxPool1d expects NLC input [N, L, C] (or [L, C]), but got shape "
                f"{list(x.shape)}"
            )
        batched = x if x.ndim == 3 else x[None]
        y = pool_ops.max_pool2d(
            batched[:, None],
            (1, self.kernel_size),
            (1, self.stride),
            (0, self.padding),
        )[:, 0]
        return y if x.ndim == 3 else y[0]

    def _torch_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation=1, ceil_mode=False"
        )


class AvgPool2d(nnx.Module):
    """torch's ``nn.AvgPool2d`` on NHWC input (floor mode).

    torch: ``torch.nn.AvgPool2d(kernel_size, stride=None, padding=0,
    ceil_mode=False, count_include_pad=True, divisor_override=None)``. The padding is
    zeros; ``count_include_pad=False`` divides by the number of real (unpadded)
    elements in each window. ``ceil_mode=True`` raises NotImplementedError.

    Raises:
      RuntimeError: padding over half the kernel (torch's message); at call, input
        not [N, H, W, C] or [H, W, C].

    Example:
      >>> from jtoolkit.models import AvgPool2d
      >>> AvgPool2d(2)(jnp.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0].tolist()
      [[2.5, 4.5], [10.5, 12.5]]
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        if ceil_mode:
            raise NotImplementedError("AvgPool2d supports ceil_mode=False only")
        if divisor_override is not None and divisor_override <= 0:
            raise RuntimeError("divisor must be not zero")
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override
        kernel = conv_lowering.pair(kernel_size, "kernel_size")
        if _too_much_padding(conv_lowering.pair(padding, ""), kernel):
            raise RuntimeError(
                "pad should be at most half of effective kernel size, but got "
                f"pad={padding}, kernel_size={kernel_size} and dilation=1"
            )

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim not in (3, 4):
            raise RuntimeError(
                "AvgPool2d expects NHWC input [N, H, W, C] (or [H, W, C]), but got "
                f"shape {list(x.shape)}; convert torch's NCHW with "
                "x.transpose(0, 2, 3, 1)"
            )
        batched = x if x.ndim == 4 else x[None]
        y = pool_ops.avg_pool2d(
            batched,
            conv_lowering.pair(self.kernel_size, "kernel_size"),
            conv_lowering.pair(self.stride, "stride"),
            conv_lowering.pair(self.padding, "padding"),
            self.count_include_pad,
            self.divisor_override,
        )
        return y if x.ndim == 4 else y[0]

    def _torch_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}"
        )
