"""The convolution family: ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d`` (torch.nn).

One base per kind, parametrised by ``num_spatial_dims`` (equinox keeps its family
on one ``Conv`` base too). Activations are channels-last: ``[N, L, C]``, ``[N, H,
W, C]``, ``[N, D, H, W, C]`` (unbatched: without N). Kernels are channels-last too,
``[*k, in/groups, out]`` (transposed: ``[*k, in, out/groups]``); torch's
``weight`` ``[out, in/groups, *k]`` (``[in, out/groups, *k]``) is converted by
``load_torch_state_dict`` / ``torch_state_dict`` (layouts "conv" and
"conv_transpose"). The arithmetic is ``functional/conv.py``'s, which the layers
call with ``data_format`` channels-last; a ``padding_mode`` other than "zeros"
pads first with ``F.pad``'s modes, as torch.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtoolkit._src.core.checks import check_int
from jtoolkit._src.nn import conv_lowering
from jtoolkit._src.nn.functional import conv as fconv
from jtoolkit._src.nn.functional.padding import pad as _fpad
from jtoolkit._src.nn.init import place, uniform_array

__all__ = [
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
]


_PAD_MODES = ("zeros", "reflect", "replicate", "circular")


_LAYOUTS = {  # name, spatial dims, torch's layout, its transposition
    1: ("NLC", "L", "NCL", "(0, 2, 1)"),
    2: ("NHWC", "H, W", "NCHW", "(0, 2, 3, 1)"),
    3: ("NDHWC", "D, H, W", "NCDHW", "(0, 2, 3, 4, 1)"),
}


def _ntuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    """torch's ``_ntuple``: an int repeated ``n`` times, or ``n`` ints."""
    items = (value,) * n if isinstance(value, int | np.integer) else tuple(value)
    if len(items) != n or not all(isinstance(v, int | np.integer) for v in items):
        raise ValueError(f"{name} must be an int or a {n}-tuple of ints, got {value!r}")
    return tuple(int(v) for v in items)


class _ConvBase(nnx.Module):
    """torch's ``_ConvNd``: configuration, init, dtype/device and ``extra_repr``."""

    num_spatial_dims: ClassVar[int]
    transposed: ClassVar[bool] = False
    padding: Any  # str ("same"/"valid") or an n-tuple of ints
    _torch_layout: ClassVar = {"weight": ("kernel", "conv"), "bias": ("bias", "same")}

    def _configure(self, in_channels, out_channels, kernel_size, stride, dilation):
        n, name = self.num_spatial_dims, type(self).__name__
        self.in_channels = check_int("in_channels", in_channels, fn=name, minimum=1)
        self.out_channels = check_int("out_channels", out_channels, fn=name, minimum=1)
        self.kernel_size = _ntuple(kernel_size, n, "kernel_size")
        self.stride = _ntuple(stride, n, "stride")
        self.dilation = _ntuple(dilation, n, "dilation")
        if min(self.kernel_size) <= 0:
            raise ValueError(f"{name}: kernel_size must be positive, got {kernel_size}")
        if min(self.stride) <= 0:
            raise RuntimeError("non-positive stride is not supported")
        if min(self.dilation) <= 0:
            raise RuntimeError("non-positive dilation is not supported")

    def _check_groups(self, groups: Any, padding_mode: str) -> None:
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
            raise ValueError("groups must be a positive integer")
        if self.in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if self.out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PAD_MODES:
            raise ValueError(
                f"padding_mode must be one of {set(_PAD_MODES)}, but got "
                f"padding_mode='{padding_mode}'"
            )
        self.groups, self.padding_mode = groups, padding_mode

    def _init_params(self, bias: bool, device: Any, dtype: Any, rngs: nnx.Rngs):
        """torch's ``reset_parameters``: kaiming_uniform(a=sqrt(5)) and its bias
        bound, both U(+-1/sqrt(fan_in)), fan_in = weight.size(1) * prod(k)."""
        k, g = self.kernel_size, self.groups
        if self.transposed:
            shape = (*k, self.in_channels, self.out_channels // g)
        else:
            shape = (*k, self.in_channels // g, self.out_channels)
        bound = 1.0 / math.sqrt(shape[-1 if self.transposed else -2] * math.prod(k))
        self.kernel = nnx.Param(uniform_array(rngs, shape, bound))
        self.bias = (
            nnx.Param(uniform_array(rngs, (self.out_channels,), bound))
            if bias
            else None
        )
        place(self, device, dtype)

    def _batched(self, x: Any) -> tuple[jax.Array, bool]:
        """The input as [N, *S, C] and whether it came unbatched."""
        x = jnp.asarray(x)
        n = self.num_spatial_dims
        if x.ndim not in (n + 1, n + 2) or x.shape[-1] != self.in_channels:
            name, dims, theirs, perm = _LAYOUTS[n]
            raise RuntimeError(
                f"{type(self).__name__} expected {name} input [N, {dims}, "
                f"{self.in_channels}] (or unbatched [{dims}, {self.in_channels}]), "
                f"but got input of shape {tuple(x.shape)}; convert torch's {theirs} "
                f"with x.transpose{perm}"
            )
        return (x, False) if x.ndim == n + 2 else (x[None], True)

    @property
    def _data_format(self) -> str:
        """The functional call's channels-last ``data_format`` of this rank."""
        return fconv.channels_last(self.num_spatial_dims)

    def _operands(self) -> tuple[jax.Array, jax.Array | None]:
        """``(kernel, bias)`` as arrays, the weights of the functional call."""
        return self.kernel[...], None if self.bias is None else self.bias[...]

    def _torch_repr(self) -> str:
        """torch's ``_ConvNd.extra_repr``."""
        n = self.num_spatial_dims
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size="
            f"{self.kernel_size}, stride={self.stride}"
        )
        if self.padding != (0,) * n:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            text += f", dilation={self.dilation}"
        output_padding = getattr(self, "output_padding", (0,) * n)
        if output_padding != (0,) * n:
            text += f", output_padding={output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class _Conv(_ConvBase):
    """torch's ``Conv{n}d`` on channels-last input; ``num_spatial_dims`` = n."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: str | int | tuple[int, ...] = 0,
        dilation: int | tuple[int, ...] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs,
        impl: str = "auto",
    ) -> None:
        n = self.num_spatial_dims
        self._configure(in_channels, out_channels, kernel_size, stride, dilation)
        self._check_groups(groups, padding_mode)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"Invalid padding string {padding!r}, should be one of "
                    "{'valid', 'same'}"
                )
            if padding == "same" and max(self.stride) != 1:
                raise ValueError(
                    "padding='same' is not supported for strided convolutions"
                )
            self.padding = padding
            pads = ((0, 0),) * n
            if padding == "same":
                pads = fconv.same_padding(self.kernel_size, self.dilation)
        else:
            self.padding = _ntuple(padding, n, "padding")
            if min(self.padding) < 0:
                raise RuntimeError("negative padding is not supported")
            pads = tuple((p, p) for p in self.padding)
        self._pads = pads
        conv_lowering.pick_impl(impl)  # a bad impl raises here
        self.impl = impl
        self._init_params(bias, device, dtype, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x, unbatched = self._batched(x)
        padding = self.padding
        if self.padding_mode != "zeros":  # torch: F.pad with the mode, then no pad
            x = _pad_channels_last(x, self._pads, self.padding_mode)
            padding = 0
        conv, fmt = _CONVS[self.num_spatial_dims], self._data_format
        geometry = (self.stride, padding, self.dilation, self.groups)
        y = conv(x, *self._operands(), *geometry, data_format=fmt, impl=self.impl)
        return y[0] if unbatched else y


def _pad_channels_last(x: jax.Array, pads, mode: str) -> jax.Array:
    """``F.pad`` (torch's checks and modes) on the spatial dims of [N, *S, C]."""
    flat = [p for pair in reversed(pads) for p in pair]
    padded = _fpad(jnp.moveaxis(x, -1, 1), flat, mode=mode)
    return jnp.moveaxis(padded, 1, -1)


class Conv1d(_Conv):
    """1-D convolution on ``[N, L, C]`` (or ``[L, C]``) input, torch's ``nn.Conv1d``.

    torch: ``torch.nn.Conv1d(in_channels, out_channels, kernel_size, stride=1,
    padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros', device=None,
    dtype=None)`` on NCL with weight ``[out, in/groups, k]``; here the input is NLC
    (``x.transpose(0, 2, 1)``) and ``kernel`` is ``[k, in/groups, out]``
    (``load_torch_state_dict`` converts). torch's init: U(+-1/sqrt(fan_in)),
    fan_in = in/groups * k, for weight and bias.

    Args:
      in_channels, out_channels: C of input and output (both divisible by groups).
      kernel_size, stride, dilation: int or 1-tuple.
      padding: int, 1-tuple, "valid" or "same" (stride 1; the odd element last).
      groups: channel groups (``groups == in_channels``: depthwise).
      bias: learn a bias.
      padding_mode: "zeros", "reflect", "replicate" or "circular".
      device: where the parameters live (a ``jax.Device``, "cpu", "cuda:0", ...).
      dtype: the parameters' dtype (default: float32; float64 under x64).
      rngs: ``nnx.Rngs`` with a ``params`` stream.
      impl: the lowering ("auto", "xla", "im2col", "hybrid", "looped"; see
        ``Conv2d``).

    Raises:
      ValueError: bad sizes, groups, padding string or padding_mode (torch's
        messages). RuntimeError: non-positive stride/dilation, negative padding;
        at call, input that is not channels-last with ``in_channels`` or smaller
        than the kernel.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Conv1d
      >>> Conv1d(2, 4, 3, padding=1, rngs=nnx.Rngs(0))(jnp.ones((5, 7, 2))).shape
      (5, 7, 4)
    """

    num_spatial_dims = 1


class Conv2d(_Conv):
    """2-D convolution on NHWC input with a HWIO kernel, torch's ``nn.Conv2d``.

    torch: ``torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride=1,
    padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros', device=None,
    dtype=None)`` on NCHW with an OIHW weight; here activations are NHWC and
    ``kernel = weight.transpose(2, 3, 1, 0)`` ([kh, kw, in/groups, out]). Padding is
    torch's (explicit, symmetric; "same" pads the extra element of an even kernel at
    the end), never XLA's "SAME". Init is torch's: U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = in/groups * kh * kw.

    Args:
      in_channels: C of the [N, H, W, C] input.
      out_channels: channels of the [N, Ho, Wo, out_channels] output.
      kernel_size, stride, dilation: int or (h, w).
      padding: int, (ph, pw), "valid" or "same" (stride 1 only).
      groups: channel groups (``groups == in_channels``: depthwise).
      bias: whether to add a learned bias.
      padding_mode: "zeros", "reflect", "replicate" or "circular".
      device, dtype: where the parameters live and their dtype (as ``Conv1d``).
      rngs: ``nnx.Rngs`` with a ``params`` stream.
      impl: "auto" (on CPU "hybrid" for grouped and 1x1 layers and k x k
        ones at stride 1 from 32 in-channels on 28x28 maps, a shifted-slice
        multiply-add for depthwise ones, else "xla": the hybrid compiles
        slower), "xla"
        (``lax.conv_general_dilated`` and autodiff), "im2col" (patches + one
        matmul), "hybrid" (XLA forward, cache-blocked im2col kernel gradient;
        reverse mode only) or "looped" (XLA forward, both gradients as
        convolutions in XLA's CPU kernel layout; reverse mode only; "auto"'s
        choice inside the k-step and accumulation scans of ``jtoolkit.train``,
        where XLA's own gradients ran 25x slower); the last three run once per
        channel group. All give the same numbers to float32 rounding.

    Raises:
      ValueError: bad sizes, groups, padding string, padding_mode or impl.
      RuntimeError: non-positive stride/dilation, negative padding; at call,
        input that is not [N, H, W, in_channels] / [H, W, in_channels] or
        smaller than the kernel.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Conv2d
      >>> layer = Conv2d(1, 4, 3, padding=1, rngs=nnx.Rngs(0))
      >>> layer.kernel.shape, layer(jnp.ones((2, 8, 8, 1))).shape
      ((3, 3, 1, 4), (2, 8, 8, 4))
    """

    num_spatial_dims = 2


class Conv3d(_Conv):
    """3-D convolution on ``[N, D, H, W, C]`` input, torch's ``nn.Conv3d``.

    torch: ``torch.nn.Conv3d(in_channels, out_channels, kernel_size, stride=1,
    padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros', device=None,
    dtype=None)`` on NCDHW with weight ``[out, in/groups, kd, kh, kw]``; here the
    input is NDHWC (``x.transpose(0, 2, 3, 4, 1)``) and ``kernel`` is ``[kd, kh,
    kw, in/groups, out]``.

    Args:
      in_channels, out_channels, groups, bias: as ``Conv2d``.
      padding_mode, device, dtype, rngs, impl: as ``Conv2d``.
      kernel_size, stride, dilation: int or (d, h, w).
      padding: int, triple, "valid" or "same" (stride 1).

    Raises:
      ValueError, RuntimeError: as ``Conv2d``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Conv3d
      >>> Conv3d(2, 4, 3, padding="same", rngs=nnx.Rngs(0))(jnp.ones((4, 4, 4, 2))
      ...                                                  ).shape
      (4, 4, 4, 4)
    """

    num_spatial_dims = 3


class _ConvTranspose(_ConvBase):
    """torch's ``ConvTranspose{n}d`` on channels-last input."""

    _torch_layout: ClassVar = {
        "weight": ("kernel", "conv_transpose"),
        "bias": ("bias", "same"),
    }
    transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] = 0,
        output_padding: int | tuple[int, ...] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, ...] = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        n, name = self.num_spatial_dims, type(self).__name__
        self._configure(in_channels, out_channels, kernel_size, stride, dilation)
        self._check_groups(groups, padding_mode)
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        if isinstance(padding, str):
            raise TypeError(
                f"{name}: padding must be an int or a tuple of ints (a transposed "
                f"convolution has no 'same'/'valid'), got {padding!r}"
            )
        self.padding = _ntuple(padding, n, "padding")
        self.output_padding = _ntuple(output_padding, n, "output_padding")
        if min(self.padding + self.output_padding) < 0:
            raise RuntimeError("negative padding is not supported")
        fconv.check_output_padding(self.output_padding, self.stride, self.dilation)
        self._init_params(bias, device, dtype, rngs)

    def __call__(self, x: jax.Array, output_size: Any = None) -> jax.Array:
        """The transposed convolution of ``x``; ``output_size`` (the spatial sizes,
        or the whole channels-last output shape) picks ``output_padding`` as torch."""
        x, unbatched = self._batched(x)
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding(x, output_size, unbatched)
        conv_t, fmt = _CONV_TS[self.num_spatial_dims], self._data_format
        pads = (self.padding, output_padding)
        geometry = (self.stride, *pads, self.groups, self.dilation)
        y = conv_t(x, *self._operands(), *geometry, data_format=fmt)
        return y[0] if unbatched else y

    def _output_padding(self, x, output_size, unbatched: bool) -> tuple[int, ...]:
        """torch's ``_output_padding``: the padding that yields ``output_size``."""
        n, sizes = self.num_spatial_dims, [int(s) for s in output_size]
        given = n + (1 if unbatched else 2)
        if len(sizes) == given:  # a whole channels-last shape
            sizes = sizes[:-1] if unbatched else sizes[1:-1]
        if len(sizes) != n:
            raise ValueError(
                f"ConvTranspose{n}D: for {x.ndim - unbatched}D input, output_size "
                f"must have {n} or {given} elements (got {len(sizes)})"
            )
        smallest = [
            (size - 1) * s - 2 * p + d * (k - 1) + 1
            for size, s, p, d, k in zip(
                x.shape[1:-1],
                self.stride,
                self.padding,
                self.dilation,
                self.kernel_size,
                strict=True,
            )
        ]
        shown = tuple(sizes) if isinstance(output_size, tuple) else sizes
        largest = [m + s - 1 for m, s in zip(smallest, self.stride, strict=True)]
        if any(
            not lo <= o <= hi
            for o, lo, hi in zip(sizes, smallest, largest, strict=True)
        ):
            raise ValueError(
                f"requested an output size of {shown}, but valid sizes range "
                f"from {smallest} to {largest} (for an input of "
                f"{tuple(x.shape[1:-1])})"
            )
        return tuple(o - m for o, m in zip(sizes, smallest, strict=True))


class ConvTranspose1d(_ConvTranspose):
    """Transposed 1-D convolution on ``[N, L, C]`` input, torch's
    ``nn.ConvTranspose1d``.

    torch: ``torch.nn.ConvTranspose1d(in_channels, out_channels, kernel_size,
    stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1,
    padding_mode='zeros', device=None, dtype=None)`` with weight ``[in,
    out/groups, k]``; here ``kernel`` is ``[k, in, out/groups]``. Output length
    ``(L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``;
    ``layer(x, output_size=...)`` picks output_padding as torch. torch's init:
    U(+-1/sqrt(fan_in)), fan_in = out/groups * k.

    Args:
      in_channels, out_channels: C of input and output (divisible by groups).
      kernel_size, stride, padding, output_padding, dilation: int or 1-tuple.
      groups: channel groups. bias: learn a bias.
      padding_mode: only "zeros" (torch's rule).
      device, dtype: where the parameters live and their dtype.
      rngs: ``nnx.Rngs`` with a ``params`` stream.

    Raises:
      ValueError: bad sizes, groups, padding_mode; at call, an ``output_size``
        out of range. TypeError: a string padding. RuntimeError: output_padding
        not smaller than stride or dilation (torch's message); at call, input not
        channels-last with ``in_channels``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import ConvTranspose1d
      >>> up = ConvTranspose1d(4, 2, 3, stride=2, rngs=nnx.Rngs(0))
      >>> up(jnp.ones((1, 5, 4))).shape, up(jnp.ones((5, 4)), output_size=[12]).shape
      ((1, 11, 2), (12, 2))
    """

    num_spatial_dims = 1


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-D convolution on NHWC input, torch's ``nn.ConvTranspose2d``.

    torch: ``torch.nn.ConvTranspose2d(in_channels, out_channels, kernel_size,
    stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1,
    padding_mode='zeros', device=None, dtype=None)`` with weight [in, out/groups,
    kh, kw] on NCHW; here activations are NHWC and ``kernel =
    weight.transpose(2, 3, 0, 1)`` ([kh, kw, in, out/groups]);
    ``load_torch_state_dict`` converts.

    Args:
      in_channels, out_channels, kernel_size, stride, padding: as
        ``ConvTranspose1d``, with pairs.
      output_padding, groups, bias, dilation, padding_mode, device, dtype, rngs:
        as ``ConvTranspose1d``.

    Raises:
      ValueError, TypeError, RuntimeError: as ``ConvTranspose1d``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import ConvTranspose2d
      >>> up = ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1,
      ...                      rngs=nnx.Rngs(0))
      >>> up(jnp.ones((1, 5, 5, 4))).shape
      (1, 10, 10, 2)
    """

    num_spatial_dims = 2


class ConvTranspose3d(_ConvTranspose):
    """Transposed 3-D convolution on NDHWC input, torch's ``nn.ConvTranspose3d``.

    torch: ``torch.nn.ConvTranspose3d(in_channels, out_channels, kernel_size,
    stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1,
    padding_mode='zeros', device=None, dtype=None)`` with weight [in, out/groups,
    kd, kh, kw]; here ``kernel`` is [kd, kh, kw, in, out/groups].

    Args:
      in_channels, out_channels, kernel_size, stride, padding: as
        ``ConvTranspose1d``, with triples.
      output_padding, groups, bias, dilation, padding_mode, device, dtype, rngs:
        as ``ConvTranspose1d``.

    Raises:
      ValueError, TypeError, RuntimeError: as ``ConvTranspose1d``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import ConvTranspose3d
      >>> ConvTranspose3d(2, 1, 2, stride=2, rngs=nnx.Rngs(0))(
      ...     jnp.ones((1, 2, 2, 2, 2))).shape
      (1, 4, 4, 4, 1)
    """

    num_spatial_dims = 3


_CONVS = {1: fconv.conv1d, 2: fconv.conv2d, 3: fconv.conv3d}
_CONV_TS = {
    1: fconv.conv_transpose1d,
    2: fconv.conv_transpose2d,
    3: fconv.conv_transpose3d,
}
