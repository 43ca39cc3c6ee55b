"""The convolution family: ``Conv2d`` (torch.nn.Conv2d, NHWC), ``Conv1d``
(torch.nn.Conv1d, NLC) and ``ConvTranspose2d`` (torch.nn.ConvTranspose2d, NHWC).

ConvTranspose2d: the transposed convolution is the input-dilated convolution with
the spatially flipped kernel: ``lhs_dilation=stride``, padding ``dilation * (k - 1) -
padding`` on each side (plus ``output_padding`` at the end), input and output
channels swapped per group. Output size: ``(H - 1) * stride - 2 * padding +
dilation * (k - 1) + output_padding + 1``.
"""

from __future__ import annotations

import math
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.core.checks import check_int
from jtoolkit._src.nn import conv_lowering
from jtoolkit._src.nn.init import uniform_param

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d"]


_CONV_IMPLS = {
    "xla": conv_lowering.conv2d_xla,
    "im2col": conv_lowering.conv2d_im2col,
    "hybrid": conv_lowering.conv2d_hybrid,
}


class Conv2d(nnx.Module):
    """2-D convolution on NHWC input with a HWIO kernel, torch's ``nn.Conv2d``.

    torch: ``torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride=1,
    padding=0, bias=True)`` on NCHW with an OIHW weight; here activations are NHWC and
    ``kernel = weight.transpose(2, 3, 1, 0)``. Padding is torch's (explicit, symmetric;
    "same" pads the extra element of an even kernel at the end), never XLA's "SAME".
    Init is torch's: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in*kh*kw.

    Args:
      in_channels: C of the [N, H, W, C] input.
      out_channels: channels of the [N, Ho, Wo, out_channels] output.
      kernel_size: int or (kh, kw).
      stride: int or (sh, sw).
      padding: int, (ph, pw), "valid" or "same" (stride 1 only).
      bias: whether to add a learned bias.
      rngs: ``nnx.Rngs`` with a ``params`` stream.
      impl: "auto" ("hybrid" on CPU, "xla" elsewhere), "xla"
        (``lax.conv_general_dilated`` and autodiff), "im2col" (patches + one
        matmul) or "hybrid" (XLA forward, cache-blocked im2col kernel gradient;
        reverse mode only). All give the same numbers to float32 rounding.

    Raises:
      ValueError: bad sizes, padding or impl. RuntimeError (at call) when the input is
        not [N, H, W, in_channels] or is smaller than the kernel.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Conv2d
      >>> layer = Conv2d(1, 4, 3, padding=1, rngs=nnx.Rngs(0))
      >>> layer.kernel.shape, layer(jnp.ones((2, 8, 8, 1))).shape
      ((3, 3, 1, 4), (2, 8, 8, 4))
    """

    _torch_layout: ClassVar = {"weight": ("kernel", "conv"), "bias": ("bias", "same")}

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        bias: bool = True,
        *,
        rngs: nnx.Rngs,
        impl: str = "auto",
    ) -> None:
        in_channels = check_int("in_channels", in_channels, fn="Conv2d", minimum=1)
        out_channels = check_int("out_channels", out_channels, fn="Conv2d", minimum=1)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = conv_lowering.pair(kernel_size, "kernel_size")
        self.stride = conv_lowering.pair(stride, "stride")
        if min(self.kernel_size) <= 0 or min(self.stride) <= 0:
            raise ValueError(
                f"kernel_size and stride must be positive, but got "
                f"kernel_size={kernel_size}, stride={stride}"
            )
        self.padding = (
            padding if isinstance(padding, str) else conv_lowering.pair(padding, "")
        )
        self._pads = conv_lowering.resolve_padding(
            padding, self.kernel_size, self.stride
        )
        conv_lowering.pick_impl(impl)
        self.impl = impl
        kh, kw = self.kernel_size
        bound = 1.0 / math.sqrt(in_channels * kh * kw)
        self.kernel = uniform_param(rngs, (kh, kw, in_channels, out_channels), bound)
        self.bias = uniform_param(rngs, (out_channels,), bound) if bias else None

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        unbatched = x.ndim == 3
        if unbatched:
            x = x[None]
        self._check_input(x.shape)
        kernel = self.kernel[...]
        lowering = _CONV_IMPLS[conv_lowering.pick_impl(self.impl)]
        y = lowering(x, kernel, self.stride, self._pads)
        if self.bias is not None:
            y = y + self.bias[...]
        return y[0] if unbatched else y

    def _check_input(self, shape: tuple[int, ...]) -> None:
        if len(shape) != 4 or shape[-1] != self.in_channels:
            raise RuntimeError(
                f"Conv2d expected NHWC input [N, H, W, {self.in_channels}] (or "
                f"unbatched [H, W, {self.in_channels}]), but got input of shape "
                f"{tuple(shape)}; convert torch's NCHW with x.transpose(0, 2, 3, 1)"
            )
        for size, k, pads, name in zip(
            shape[1:3], self.kernel_size, self._pads, "HW", strict=True
        ):
            if size + pads[0] + pads[1] < k:
                raise RuntimeError(
                    f"Calculated padded input size per channel: {name}="
                    f"{size + sum(pads)}. Kernel size: {k}. Kernel size can't be "
                    f"greater than actual input size (input shape {tuple(shape)})"
                )

    def _torch_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
            f", stride={self.stride}"
        )
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.bias is None:
            text += ", bias=False"
        return text


_PAD_MODES = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "edge",
    "circular": "wrap",
}


def _conv_repr(layer, zeros: tuple[int, ...]) -> str:
    """torch's ``_ConvNd.extra_repr`` for a jtoolkit conv layer."""
    ones = tuple(1 for _ in zeros)
    text = (
        f"{layer.in_channels}, {layer.out_channels}, kernel_size={layer.kernel_size}"
        f", stride={layer.stride}"
    )
    if layer.padding != zeros:
        text += f", padding={layer.padding}"
    if layer.dilation != ones:
        text += f", dilation={layer.dilation}"
    if getattr(layer, "output_padding", zeros) != zeros:
        text += f", output_padding={layer.output_padding}"
    if layer.groups != 1:
        text += f", groups={layer.groups}"
    if layer.bias is None:
        text += ", bias=False"
    if getattr(layer, "padding_mode", "zeros") != "zeros":
        text += f", padding_mode={layer.padding_mode}"
    return text


def _check_groups(
    in_channels: int, out_channels: int, groups: int, fn: str = "Conv1d"
) -> None:
    check_int("groups", groups, fn=fn, minimum=1)
    if in_channels % groups:
        raise ValueError("in_channels must be divisible by groups")
    if out_channels % groups:
        raise ValueError("out_channels must be divisible by groups")


def _single(value: int | tuple[int], name: str) -> tuple[int]:
    values = (value,) if isinstance(value, int) else tuple(value)
    if len(values) != 1 or not all(isinstance(v, int) for v in values):
        raise ValueError(f"{name} must be an int or a 1-tuple of ints, got {value!r}")
    return (int(values[0]),)


class Conv1d(nnx.Module):
    """1-D convolution on NLC input, torch's ``nn.Conv1d`` (NCL there).

    torch: ``torch.nn.Conv1d(in_channels, out_channels, kernel_size, stride=1,
    padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros')`` with weight
    [out, in/groups, k]; here activations are [N, L, C] (convert torch's with
    ``x.transpose(0, 2, 1)``) and ``kernel = weight.transpose(2, 1, 0)`` ([k,
    in/groups, out]); ``load_torch_state_dict`` converts. torch's init:
    U(+-1/sqrt(fan_in)), fan_in = in/groups * k, for weight and bias.

    Args:
      in_channels, out_channels: C of input and output.
      kernel_size, stride, dilation: ints (or 1-tuples).
      padding: int, "valid" or "same" (stride 1; the odd element goes right).
      groups: channel groups (divides both channel counts).
      bias: learn a bias.
      padding_mode: "zeros", "reflect", "replicate" or "circular".
      rngs: ``nnx.Rngs`` with a ``params`` stream.

    Raises:
      ValueError: bad sizes, groups, padding or padding_mode (torch's messages).
      RuntimeError (at call): input not [N, L, in_channels] / [L, in_channels].

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Conv1d
      >>> Conv1d(2, 4, 3, padding=1, rngs=nnx.Rngs(0))(jnp.ones((5, 7, 2))).shape
      (5, 7, 4)
    """

    _torch_layout: ClassVar = {
        "weight": ("kernel", "conv1d"),
        "bias": ("bias", "same"),
    }

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] | str = 0,
        dilation: int | tuple[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
        rngs: nnx.Rngs,
    ) -> None:
        check_int("in_channels", in_channels, fn="Conv1d", minimum=1)
        check_int("out_channels", out_channels, fn="Conv1d", minimum=1)
        _check_groups(in_channels, out_channels, groups)
        if padding_mode not in _PAD_MODES:
            raise ValueError(
                "padding_mode must be one of {'circular', 'zeros', 'replicate', "
                f"'reflect'}}, but got padding_mode='{padding_mode}'"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _single(kernel_size, "kernel_size")
        self.stride = _single(stride, "stride")
        self.dilation = _single(dilation, "dilation")
        if min(self.kernel_size + self.stride + self.dilation) <= 0:
            raise ValueError(
                "kernel_size, stride and dilation must be positive, but got "
                f"kernel_size={kernel_size}, stride={stride}, dilation={dilation}"
            )
        self.groups, self.padding_mode = groups, padding_mode
        self.padding = padding if isinstance(padding, str) else _single(padding, "")
        self._pads = self._resolve_padding(padding)
        (k,) = self.kernel_size
        bound = 1.0 / math.sqrt(in_channels // groups * k)
        shape = (k, in_channels // groups, out_channels)
        self.kernel = uniform_param(rngs, shape, bound)
        self.bias = uniform_param(rngs, (out_channels,), bound) if bias else None

    def _resolve_padding(self, padding) -> tuple[int, int]:
        if padding == "valid":
            return 0, 0
        if padding == "same":
            if self.stride != (1,):
                raise ValueError(
                    "padding='same' is not supported for strided convolutions"
                )
            total = self.dilation[0] * (self.kernel_size[0] - 1)
            return total // 2, total - total // 2
        if isinstance(padding, str):
            raise ValueError(
                f"Invalid padding string {padding!r}, should be one of "
                "{'valid', 'same'}"
            )
        (p,) = _single(padding, "padding")
        if p < 0:
            raise ValueError(f"negative padding is not supported, got {padding}")
        return p, p

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        unbatched = x.ndim == 2
        if unbatched:
            x = x[None]
        if x.ndim != 3 or x.shape[-1] != self.in_channels:
            raise RuntimeError(
                f"Conv1d expected NLC input [N, L, {self.in_channels}] (or unbatched "
                f"[L, {self.in_channels}]), but got input of shape {list(x.shape)}; "
                "convert torch's NCL with x.transpose(0, 2, 1)"
            )
        pads = self._pads
        padded = x.shape[1] + sum(pads)
        effective = self.dilation[0] * (self.kernel_size[0] - 1) + 1
        if padded < effective:
            raise RuntimeError(
                f"Calculated padded input size per channel: ({padded}). Kernel size: "
                f"({effective}). Kernel size can't be greater than actual input size"
            )
        if self.padding_mode != "zeros" and any(pads):
            x = jnp.pad(x, ((0, 0), pads, (0, 0)), mode=_PAD_MODES[self.padding_mode])
            pads = (0, 0)
        y = jax.lax.conv_general_dilated(
            x,
            self.kernel[...],
            window_strides=self.stride,
            padding=(pads,),
            rhs_dilation=self.dilation,
            dimension_numbers=("NWC", "WIO", "NWC"),
            feature_group_count=self.groups,
        )
        if self.bias is not None:
            y = y + self.bias[...]
        return y[0] if unbatched else y

    def _torch_repr(self) -> str:
        return _conv_repr(self, (0,))


def _forward_kernel(kernel: jax.Array, groups: int) -> jax.Array:
    """[kh, kw, in, out/g] (torch's [in, out/g, kh, kw] moved) -> flipped HWIO."""
    kh, kw, cin, cout_g = kernel.shape
    k = kernel.reshape(kh, kw, groups, cin // groups, cout_g)
    k = k.transpose(0, 1, 3, 2, 4).reshape(kh, kw, cin // groups, groups * cout_g)
    return k[::-1, ::-1]


class ConvTranspose2d(nnx.Module):
    """Transposed 2-D convolution on NHWC input, torch's ``nn.ConvTranspose2d``.

    torch: ``torch.nn.ConvTranspose2d(in_channels, out_channels, kernel_size,
    stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1)`` with
    weight [in, out/groups, kh, kw] on NCHW; here activations are NHWC and
    ``kernel = weight.transpose(2, 3, 0, 1)`` ([kh, kw, in, out/groups]);
    ``load_torch_state_dict`` converts. torch's init: U(+-1/sqrt(fan_in)) with
    fan_in = out/groups * kh * kw (torch computes it from weight.size(1)).

    Args:
      in_channels, out_channels: C of input and output.
      kernel_size, stride, padding, output_padding, dilation: int or pair.
      groups: channel groups.
      bias: learn a bias.
      rngs: ``nnx.Rngs`` with a ``params`` stream.

    Raises:
      ValueError: bad sizes, groups or a string padding. RuntimeError:
        output_padding not smaller than stride or dilation (torch's message), or
        (at call) input not [N, H, W, in_channels] / [H, W, in_channels].

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import ConvTranspose2d
      >>> up = ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1,
      ...                      rngs=nnx.Rngs(0))
      >>> up(jnp.ones((1, 5, 5, 4))).shape
      (1, 10, 10, 2)
    """

    _torch_layout: ClassVar = {
        "weight": ("kernel", "conv_transpose"),
        "bias": ("bias", "same"),
    }

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        check_int("in_channels", in_channels, fn="ConvTranspose2d", minimum=1)
        check_int("out_channels", out_channels, fn="ConvTranspose2d", minimum=1)
        _check_groups(in_channels, out_channels, groups, "ConvTranspose2d")
        if isinstance(padding, str):
            raise ValueError(
                f'padding="{padding}" is not supported for ConvTranspose2d; give ints'
            )
        self.in_channels, self.out_channels, self.groups = (
            in_channels,
            out_channels,
            groups,
        )
        self.kernel_size = conv_lowering.pair(kernel_size, "kernel_size")
        self.stride = conv_lowering.pair(stride, "stride")
        self.padding = conv_lowering.pair(padding, "padding")
        self.output_padding = conv_lowering.pair(output_padding, "output_padding")
        self.dilation = conv_lowering.pair(dilation, "dilation")
        if min(self.kernel_size + self.stride + self.dilation) <= 0:
            raise ValueError(
                "kernel_size, stride and dilation must be positive, but got "
                f"kernel_size={kernel_size}, stride={stride}, dilation={dilation}"
            )
        if min(self.padding + self.output_padding) < 0:
            raise ValueError("negative padding is not supported")
        self._check_output_padding()
        kh, kw = self.kernel_size
        bound = 1.0 / math.sqrt(out_channels // groups * kh * kw)
        shape = (kh, kw, in_channels, out_channels // groups)
        self.kernel = uniform_param(rngs, shape, bound)
        self.bias = uniform_param(rngs, (out_channels,), bound) if bias else None

    def _check_output_padding(self) -> None:
        (oh, ow), (sh, sw), (dh, dw) = self.output_padding, self.stride, self.dilation
        if (oh >= sh and oh >= dh) or (ow >= sw and ow >= dw):
            raise RuntimeError(
                "output padding must be smaller than either stride or dilation, but "
                f"got output_padding_height: {oh} output_padding_width: {ow} "
                f"stride_height: {sh} stride_width: {sw} dilation_height: {dh} "
                f"dilation_width: {dw}"
            )

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        unbatched = x.ndim == 3
        if unbatched:
            x = x[None]
        if x.ndim != 4 or x.shape[-1] != self.in_channels:
            raise RuntimeError(
                f"ConvTranspose2d expected NHWC input [N, H, W, {self.in_channels}] "
                f"(or unbatched [H, W, {self.in_channels}]), but got input of shape "
                f"{list(x.shape)}; convert torch's NCHW with x.transpose(0, 2, 3, 1)"
            )
        pads = [
            (d * (k - 1) - p, d * (k - 1) - p + op)
            for k, p, op, d in zip(
                self.kernel_size,
                self.padding,
                self.output_padding,
                self.dilation,
                strict=True,
            )
        ]
        y = jax.lax.conv_general_dilated(
            x,
            _forward_kernel(self.kernel[...], self.groups),
            window_strides=(1, 1),
            padding=pads,
            lhs_dilation=self.stride,
            rhs_dilation=self.dilation,
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=self.groups,
        )
        if self.bias is not None:
            y = y + self.bias[...]
        return y[0] if unbatched else y

    def _torch_repr(self) -> str:
        return _conv_repr(self, (0, 0))
