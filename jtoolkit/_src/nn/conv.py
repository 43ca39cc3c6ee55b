"""``Conv2d`` (torch.nn.Conv2d) on NHWC activations."""

from __future__ import annotations

import math
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.core.checks import check_int
from jtoolkit._src.nn import conv_lowering
from jtoolkit._src.nn.init import _uniform

__all__ = ["Conv2d"]


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
        self.kernel = _uniform(rngs, (kh, kw, in_channels, out_channels), bound)
        self.bias = _uniform(rngs, (out_channels,), bound) if bias else None

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
