"""``ConvTranspose2d`` (torch.nn.ConvTranspose2d) on NHWC activations.

The transposed convolution is the input-dilated convolution with the spatially flipped
kernel: ``lhs_dilation=stride``, padding ``dilation * (k - 1) - padding`` on each side
(plus ``output_padding`` at the end), input and output channels swapped per group.
Output size: ``(H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding
+ 1``.
"""

from __future__ import annotations

import math
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.core.checks import check_int
from jtoolkit._src.nn.conv import _check_groups, _conv_repr
from jtoolkit._src.nn.conv_lowering import pair
from jtoolkit._src.nn.init import uniform_param

__all__ = ["ConvTranspose2d"]


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
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = pair(padding, "padding")
        self.output_padding = pair(output_padding, "output_padding")
        self.dilation = pair(dilation, "dilation")
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
