"""Pooling modules (torch.nn.MaxPool1d/2d, AvgPool2d, AdaptiveAvgPool2d), NLC/NHWC.

Each holds torch's configuration and calls its function in
``nn/functional/pooling.py`` with ``data_format="NHWC"`` (``"NLC"`` for 1-D), so
module and function are one implementation (ties, NaN, padding, ceil mode, indices).
"""

from __future__ import annotations

import jax
from flax import nnx

from jtoolkit._src.nn.functional.pooling import (
    adaptive_avg_pool2d,
    avg_pool2d,
    check_pool_padding,
    max_pool1d,
    max_pool2d,
    pool_pair,
)

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "MaxPool1d", "MaxPool2d"]


class _MaxPool(nnx.Module):
    """torch's ``_MaxPoolNd`` configuration: kernel, stride, padding, dilation,
    return_indices, ceil_mode (the padding rule checked at construction)."""

    _1d = False

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        dilation=1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode
        name = type(self).__name__
        k, p, d = (
            pool_pair(value, arg, name)
            for value, arg in (
                (kernel_size, "kernel_size"),
                (padding, "padding"),
                (dilation, "dilation"),
            )
        )
        if self._1d:  # pooled as a unit-height 2-D window
            k, p, d = (1, k[1]), (0, p[1]), (1, d[1])
        check_pool_padding(k, p, d)

    def _args(self) -> tuple:
        return (
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )

    def _torch_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, "
            f"ceil_mode={self.ceil_mode}"
        )


class MaxPool2d(_MaxPool):
    """torch's ``nn.MaxPool2d`` on NHWC input: ``F.max_pool2d(x, ...,
    data_format="NHWC")``.

    torch: ``torch.nn.MaxPool2d(kernel_size, stride=None, padding=0, dilation=1,
    return_indices=False, ceil_mode=False)``, same order and defaults; at ties the
    gradient goes to the first maximum and a NaN propagates, as torch.

    Raises:
      RuntimeError (at call): a bad geometry or input rank, torch's messages.

    Example:
      >>> from jtoolkit.models import MaxPool2d
      >>> MaxPool2d(2)(jnp.ones((1, 5, 4, 3))).shape
      (1, 2, 2, 3)
    """

    def __call__(self, x: jax.Array) -> jax.Array | tuple[jax.Array, jax.Array]:
        return max_pool2d(x, *self._args(), data_format="NHWC")


class MaxPool1d(_MaxPool):
    """torch's ``nn.MaxPool1d`` on NLC input: ``F.max_pool1d(x, ...,
    data_format="NLC")``.

    torch: ``torch.nn.MaxPool1d(kernel_size, stride=None, padding=0, dilation=1,
    return_indices=False, ceil_mode=False)`` pools [N, C, L]; here the input is
    [N, L, C] (or unbatched [L, C]).

    Raises:
      RuntimeError (at call): a bad geometry or input rank, torch's messages.

    Example:
      >>> from jtoolkit.models import MaxPool1d
      >>> MaxPool1d(2)(jnp.array([[[1.0], [3.0], [2.0], [0.0]]])).ravel().tolist()
      [3.0, 2.0]
    """

    _1d = True

    def __call__(self, x: jax.Array) -> jax.Array | tuple[jax.Array, jax.Array]:
        return max_pool1d(x, *self._args(), data_format="NLC")


class AvgPool2d(nnx.Module):
    """torch's ``nn.AvgPool2d`` on NHWC input: ``F.avg_pool2d(x, ...,
    data_format="NHWC")``.

    torch: ``torch.nn.AvgPool2d(kernel_size, stride=None, padding=0,
    ceil_mode=False, count_include_pad=True, divisor_override=None)``, same order,
    defaults and divisors.

    Raises:
      RuntimeError: ``divisor_override`` 0; at call, a bad geometry or input rank.

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
        if divisor_override is not None and divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override
        check_pool_padding(
            pool_pair(kernel_size, "kernel_size", "AvgPool2d"),
            pool_pair(padding, "padding", "AvgPool2d"),
            (1, 1),
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        return avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
            data_format="NHWC",
        )

    def _torch_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}"
        )


class AdaptiveAvgPool2d(nnx.Module):
    """torch's ``nn.AdaptiveAvgPool2d(output_size)`` on NHWC input:
    ``F.adaptive_avg_pool2d(x, output_size, data_format="NHWC")`` (torch's bins).

    Example:
      >>> from jtoolkit.models import AdaptiveAvgPool2d
      >>> AdaptiveAvgPool2d((4, 4))(jnp.ones((1, 14, 14, 2))).shape
      (1, 4, 4, 2)
    """

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        self.output_size = output_size

    def __call__(self, x: jax.Array) -> jax.Array:
        return adaptive_avg_pool2d(x, self.output_size, data_format="NHWC")

    def _torch_repr(self) -> str:
        return f"output_size={self.output_size}"
