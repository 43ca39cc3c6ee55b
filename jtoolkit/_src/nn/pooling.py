"""Pooling modules (torch.nn's max, average, power-average, adaptive, fractional
pools and max unpooling, 1-D to 3-D) on channels-last input.

Each module holds torch's configuration and calls its function in
``nn/functional/pooling.py`` with the channels-last ``data_format`` ("NLC",
"NHWC", "NDHWC"; unbatched "LC", "HWC", "DHWC" too), so module and function are
one implementation (ties, NaN, padding, ceil mode, indices).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import jax
from flax import nnx

from jtoolkit._src.core import arrays
from jtoolkit._src.nn.functional import pooling as P
from jtoolkit._src.nn.init import Buffer

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "FractionalMaxPool2d",
    "LPPool1d",
    "LPPool2d",
    "LPPool3d",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
]


class _Pool(nnx.Module):
    """The rank ``_n`` and function ``_fn`` of a pooling module, called with the
    channels-last layout."""

    _n: ClassVar[int] = 2
    _fn: ClassVar[Callable[..., Any]]

    def _pool(self, x: Any, *args: Any) -> Any:
        return type(self)._fn(x, *args, data_format=P.LAYOUTS[self._n][1])


class _MaxPool(_Pool):
    """torch's ``_MaxPoolNd``: kernel, stride, padding, dilation, return_indices,
    ceil_mode (the padding rule checked at construction, torch's words)."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode
        name, n = type(self).__name__, self._n
        P.check_pool_padding(
            P.pool_tuple(kernel_size, n, "kernel_size", name),
            P.pool_tuple(padding, n, "padding", name),
            P.pool_tuple(dilation, n, "dilation", name),
            "max_pool1d" if n == 1 else name,
        )

    def __call__(self, x: jax.Array) -> Any:
        window = (self.kernel_size, self.stride, self.padding, self.dilation)
        return self._pool(x, *window, self.ceil_mode, self.return_indices)

    def _torch_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, "
            f"ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPool):
    """torch's ``nn.MaxPool1d`` on NLC input: ``F.max_pool1d(x, ...,
    data_format="NLC")``.

    torch: ``torch.nn.MaxPool1d(kernel_size, stride=None, padding=0, dilation=1,
    return_indices=False, ceil_mode=False)`` pools [N, C, L]; here the input is
    [N, L, C] (or unbatched [L, C]).

    Raises:
      RuntimeError: padding over half the kernel; at call, a bad geometry or
        input rank, torch's messages.

    Example:
      >>> from jtoolkit.models import MaxPool1d
      >>> MaxPool1d(2)(jnp.array([[[1.0], [3.0], [2.0], [0.0]]])).ravel().tolist()
      [3.0, 2.0]
    """

    _n = 1
    _fn = P.max_pool1d


class MaxPool2d(_MaxPool):
    """torch's ``nn.MaxPool2d`` on NHWC input: ``F.max_pool2d(x, ...,
    data_format="NHWC")``.

    torch: ``torch.nn.MaxPool2d(kernel_size, stride=None, padding=0, dilation=1,
    return_indices=False, ceil_mode=False)``, same order and defaults; at ties the
    gradient goes to the first maximum and a NaN propagates, as torch.

    Raises:
      RuntimeError: padding over half the kernel; at call, a bad geometry or
        input rank, torch's messages.

    Example:
      >>> from jtoolkit.models import MaxPool2d
      >>> MaxPool2d(2)(jnp.ones((1, 5, 4, 3))).shape
      (1, 2, 2, 3)
    """

    _n = 2
    _fn = P.max_pool2d


class MaxPool3d(_MaxPool):
    """torch's ``nn.MaxPool3d`` on NDHWC input: ``F.max_pool3d(x, ...,
    data_format="NDHWC")``.

    torch: ``torch.nn.MaxPool3d(kernel_size, stride=None, padding=0, dilation=1,
    return_indices=False, ceil_mode=False)`` pools [N, C, D, H, W]; here
    [N, D, H, W, C] (or unbatched [D, H, W, C]); indices are torch's flat
    ``(d * H + h) * W + w``.

    Raises:
      RuntimeError: padding over half the kernel; at call, a bad geometry or
        input rank, torch's messages.

    Example:
      >>> from jtoolkit.models import MaxPool3d
      >>> MaxPool3d(2)(jnp.ones((1, 4, 5, 4, 3))).shape
      (1, 2, 2, 2, 3)
    """

    _n = 3
    _fn = P.max_pool3d


class _AvgPool(_Pool):
    """torch's ``_AvgPoolNd`` configuration (checked at construction)."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
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
        name, n = type(self).__name__, self._n
        P.check_pool_padding(
            P.pool_tuple(kernel_size, n, "kernel_size", name),
            P.pool_tuple(padding, n, "padding", name),
            (1,) * n,
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        extra = () if self._n == 1 else (self.divisor_override,)
        window = (self.kernel_size, self.stride, self.padding, self.ceil_mode)
        return self._pool(x, *window, self.count_include_pad, *extra)

    def _torch_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}"
        )


class AvgPool1d(_AvgPool):
    """torch's ``nn.AvgPool1d`` on NLC input: ``F.avg_pool1d(x, ...,
    data_format="NLC")``.

    torch: ``torch.nn.AvgPool1d(kernel_size, stride=None, padding=0,
    ceil_mode=False, count_include_pad=True)``, same order, defaults and divisors
    (torch's repr shows 1-tuples; so does ``summary`` when given them).

    Raises:
      RuntimeError: padding over half the kernel; at call, a bad geometry.

    Example:
      >>> from jtoolkit.models import AvgPool1d
      >>> AvgPool1d(2)(jnp.array([[1.0], [3.0], [2.0], [0.0]])).ravel().tolist()
      [2.0, 1.0]
    """

    _n = 1
    _fn = P.avg_pool1d

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        single = [_single(v) for v in (kernel_size, stride, padding)]
        super().__init__(
            single[0],
            single[0] if stride is None else single[1],
            single[2],
            ceil_mode,
            count_include_pad,
        )


def _single(value: Any) -> Any:
    """torch's ``_single``: an int as a 1-tuple (AvgPool1d keeps tuples)."""
    return value if value is None or isinstance(value, tuple | list) else (value,)


class AvgPool2d(_AvgPool):
    """torch's ``nn.AvgPool2d`` on NHWC input: ``F.avg_pool2d(x, ...,
    data_format="NHWC")``.

    torch: ``torch.nn.AvgPool2d(kernel_size, stride=None, padding=0,
    ceil_mode=False, count_include_pad=True, divisor_override=None)``, same order,
    defaults and divisors.

    Raises:
      RuntimeError: ``divisor_override`` 0, padding over half the kernel; at
        call, a bad geometry or input rank.

    Example:
      >>> from jtoolkit.models import AvgPool2d
      >>> AvgPool2d(2)(jnp.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0].tolist()
      [[2.5, 4.5], [10.5, 12.5]]
    """

    _n = 2
    _fn = P.avg_pool2d


class AvgPool3d(_AvgPool):
    """torch's ``nn.AvgPool3d`` on NDHWC input: ``F.avg_pool3d(x, ...,
    data_format="NDHWC")``.

    torch: ``torch.nn.AvgPool3d(kernel_size, stride=None, padding=0,
    ceil_mode=False, count_include_pad=True, divisor_override=None)``.

    Raises:
      RuntimeError: ``divisor_override`` 0, padding over half the kernel; at
        call, a bad geometry or input rank.

    Example:
      >>> from jtoolkit.models import AvgPool3d
      >>> AvgPool3d(2)(jnp.ones((2, 2, 2, 1))).ravel().tolist()
      [1.0]
    """

    _n = 3
    _fn = P.avg_pool3d


class _LPPool(_Pool):
    """torch's ``_LPPoolNd``: norm_type, kernel_size, stride, ceil_mode."""

    def __init__(
        self,
        norm_type: float,
        kernel_size: Any,
        stride: Any = None,
        ceil_mode: bool = False,
    ) -> None:
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode
        P.pool_tuple(kernel_size, self._n, "kernel_size", type(self).__name__)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self._pool(
            x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode
        )

    def _torch_repr(self) -> str:
        return (
            f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, ceil_mode={self.ceil_mode}"
        )


class LPPool1d(_LPPool):
    """torch's ``nn.LPPool1d(norm_type, kernel_size, stride=None,
    ceil_mode=False)`` on NLC input (``F.lp_pool1d``, torch's formula).

    Example:
      >>> from jtoolkit.models import LPPool1d
      >>> LPPool1d(2, 2)(jnp.array([[3.0], [4.0]])).ravel().tolist()
      [5.0]
    """

    _n = 1
    _fn = P.lp_pool1d


class LPPool2d(_LPPool):
    """torch's ``nn.LPPool2d(norm_type, kernel_size, stride=None,
    ceil_mode=False)`` on NHWC input (``F.lp_pool2d``, torch's formula).

    Example:
      >>> from jtoolkit.models import LPPool2d
      >>> LPPool2d(1, 2)(jnp.ones((1, 4, 4, 3))).shape
      (1, 2, 2, 3)
    """

    _n = 2
    _fn = P.lp_pool2d


class LPPool3d(_LPPool):
    """torch's ``nn.LPPool3d(norm_type, kernel_size, stride=None,
    ceil_mode=False)`` on NDHWC input (``F.lp_pool3d``, torch's formula).

    Example:
      >>> from jtoolkit.models import LPPool3d
      >>> LPPool3d(1, 2)(jnp.ones((2, 2, 2, 1))).ravel().tolist()
      [8.0]
    """

    _n = 3
    _fn = P.lp_pool3d


class _AdaptiveAvgPool(_Pool):
    def __init__(self, output_size: Any) -> None:
        self.output_size = output_size

    def __call__(self, x: jax.Array) -> jax.Array:
        return self._pool(x, self.output_size)

    def _torch_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPool):
    """torch's ``nn.AdaptiveAvgPool1d(output_size)`` on NLC input
    (``F.adaptive_avg_pool1d``, torch's bins).

    Example:
      >>> from jtoolkit.models import AdaptiveAvgPool1d
      >>> AdaptiveAvgPool1d(2)(jnp.array([[1.0], [2.0], [3.0]])).ravel().tolist()
      [1.5, 2.5]
    """

    _n = 1
    _fn = P.adaptive_avg_pool1d


class AdaptiveAvgPool2d(_AdaptiveAvgPool):
    """torch's ``nn.AdaptiveAvgPool2d(output_size)`` on NHWC input:
    ``F.adaptive_avg_pool2d(x, output_size, data_format="NHWC")`` (torch's bins).

    Example:
      >>> from jtoolkit.models import AdaptiveAvgPool2d
      >>> AdaptiveAvgPool2d((4, 4))(jnp.ones((1, 14, 14, 2))).shape
      (1, 4, 4, 2)
    """

    _n = 2
    _fn = P.adaptive_avg_pool2d


class AdaptiveAvgPool3d(_AdaptiveAvgPool):
    """torch's ``nn.AdaptiveAvgPool3d(output_size)`` on NDHWC input
    (``F.adaptive_avg_pool3d``, torch's bins).

    Example:
      >>> from jtoolkit.models import AdaptiveAvgPool3d
      >>> AdaptiveAvgPool3d((1, 2, None))(jnp.ones((3, 4, 5, 2))).shape
      (1, 2, 5, 2)
    """

    _n = 3
    _fn = P.adaptive_avg_pool3d


class _AdaptiveMaxPool(_Pool):
    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        self.output_size = output_size
        self.return_indices = return_indices

    def __call__(self, x: jax.Array) -> Any:
        return self._pool(x, self.output_size, self.return_indices)

    def _torch_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """torch's ``nn.AdaptiveMaxPool1d(output_size, return_indices=False)`` on NLC
    input (``F.adaptive_max_pool1d``: torch's bins, ties, NaN and indices).

    Example:
      >>> from jtoolkit.models import AdaptiveMaxPool1d
      >>> AdaptiveMaxPool1d(2)(jnp.array([[1.0], [3.0], [2.0]])).ravel().tolist()
      [3.0, 3.0]
    """

    _n = 1
    _fn = P.adaptive_max_pool1d


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """torch's ``nn.AdaptiveMaxPool2d(output_size, return_indices=False)`` on NHWC
    input (``F.adaptive_max_pool2d``: torch's bins, ties, NaN and indices).

    Example:
      >>> from jtoolkit.models import AdaptiveMaxPool2d
      >>> AdaptiveMaxPool2d((2, 1))(jnp.ones((1, 5, 4, 3))).shape
      (1, 2, 1, 3)
    """

    _n = 2
    _fn = P.adaptive_max_pool2d


class AdaptiveMaxPool3d(_AdaptiveMaxPool):
    """torch's ``nn.AdaptiveMaxPool3d(output_size, return_indices=False)`` on
    NDHWC input (``F.adaptive_max_pool3d``: torch's bins, ties, NaN, indices).

    Example:
      >>> from jtoolkit.models import AdaptiveMaxPool3d
      >>> AdaptiveMaxPool3d(1)(jnp.ones((3, 4, 5, 2))).shape
      (1, 1, 1, 2)
    """

    _n = 3
    _fn = P.adaptive_max_pool3d


class FractionalMaxPool2d(_Pool):
    """torch's ``nn.FractionalMaxPool2d`` on NHWC input (``F.fractional_max_pool2d``).

    torch: ``torch.nn.FractionalMaxPool2d(kernel_size, output_size=None,
    output_ratio=None, return_indices=False, _random_samples=None)``. Given the
    same ``_random_samples`` (``[N, C, 2]``, torch's layout) the output equals
    torch's; otherwise each call draws them from the ``default`` stream of
    ``rngs`` (the layer keeps its own fork, as Dropout): JAX's RNG, not torch's.

    Args:
      kernel_size, output_size, output_ratio, return_indices, _random_samples:
        as torch (the samples are a ``Buffer``, in the state dict as torch's).
      rngs: ``nnx.Rngs`` used when ``_random_samples`` is None.

    Raises:
      ValueError: neither or both of ``output_size``/``output_ratio``; at call,
        no samples and no rngs.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import FractionalMaxPool2d
      >>> pool = FractionalMaxPool2d(2, output_size=3, rngs=nnx.Rngs(0))
      >>> pool(jnp.ones((2, 6, 6, 4))).shape
      (2, 3, 3, 4)
    """

    def __init__(
        self,
        kernel_size: Any,
        output_size: Any = None,
        output_ratio: Any = None,
        return_indices: bool = False,
        _random_samples: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        if (output_size is None) == (output_ratio is None):
            raise ValueError(
                "FractionalMaxPool2d requires specifying either an output size, or "
                "a pooling ratio"
            )
        self.kernel_size = kernel_size
        self.output_size = output_size
        self.output_ratio = output_ratio
        self.return_indices = return_indices
        samples = None if _random_samples is None else arrays.to_array(_random_samples)
        # torch's buffer of the same name (in its state_dict when given)
        self._random_samples = nnx.data(None if samples is None else Buffer(samples))
        self.rngs = rngs["default"].fork() if rngs is not None else nnx.data(None)

    def __call__(self, x: jax.Array) -> Any:
        key, samples = None, self._random_samples
        if samples is None and self.rngs is not None:
            key = self.rngs()
        sizes = (self.kernel_size, self.output_size, self.output_ratio)
        samples = None if samples is None else samples[...]
        args = (*sizes, self.return_indices, samples)
        return P.fractional_max_pool2d(x, *args, key=key, data_format="NHWC")


class _MaxUnpool(_Pool):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0):
        n, name = self._n, type(self).__name__
        self.kernel_size = P.pool_tuple(kernel_size, n, "kernel_size", name)
        self.stride = (
            self.kernel_size
            if stride is None
            else P.pool_tuple(stride, n, "stride", name)
        )
        self.padding = P.pool_tuple(padding, n, "padding", name)

    def __call__(
        self, input: jax.Array, indices: jax.Array, output_size: Any = None
    ) -> jax.Array:
        return self._pool(
            input, indices, self.kernel_size, self.stride, self.padding, output_size
        )

    def _torch_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}"
        )


class MaxUnpool1d(_MaxUnpool):
    """torch's ``nn.MaxUnpool1d(kernel_size, stride=None, padding=0)`` on NLC
    input: ``module(input, indices, output_size=None)`` (``F.max_unpool1d``).

    Example:
      >>> from jtoolkit.models import MaxPool1d, MaxUnpool1d
      >>> y, i = MaxPool1d(2, return_indices=True)(jnp.array([[1.0], [3.0]]))
      >>> MaxUnpool1d(2)(y, i).ravel().tolist()
      [0.0, 3.0]
    """

    _n = 1
    _fn = P.max_unpool1d


class MaxUnpool2d(_MaxUnpool):
    """torch's ``nn.MaxUnpool2d(kernel_size, stride=None, padding=0)`` on NHWC
    input: ``module(input, indices, output_size=None)`` (``F.max_unpool2d``).

    Example:
      >>> from jtoolkit.models import MaxPool2d, MaxUnpool2d
      >>> y, i = MaxPool2d(2, return_indices=True)(jnp.ones((1, 4, 4, 3)))
      >>> MaxUnpool2d(2)(y, i).shape
      (1, 4, 4, 3)
    """

    _n = 2
    _fn = P.max_unpool2d


class MaxUnpool3d(_MaxUnpool):
    """torch's ``nn.MaxUnpool3d(kernel_size, stride=None, padding=0)`` on NDHWC
    input: ``module(input, indices, output_size=None)`` (``F.max_unpool3d``).

    Example:
      >>> from jtoolkit.models import MaxPool3d, MaxUnpool3d
      >>> y, i = MaxPool3d(2, return_indices=True)(jnp.ones((4, 4, 4, 1)))
      >>> MaxUnpool3d(2)(y, i).shape
      (4, 4, 4, 1)
    """

    _n = 3
    _fn = P.max_unpool3d
