"""Layers with parameters: Linear, Conv2d, Embedding (torch's arguments, init, reprs).

Parameter-free blocks (Sequential, activations, pooling, Flatten) live in
``_models_blocks.py``; normalisation and dropout in ``_models_norm.py``; LSTM in
``_models_lstm.py``. Each layer's ``_torch_repr()`` is torch's
``extra_repr()`` text and ``_torch_layout`` maps torch state_dict names to attributes.
"""

from __future__ import annotations

import math
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit import _models_conv as conv

__all__ = ["Conv2d", "Embedding", "Linear"]


def _uniform(rngs: nnx.Rngs, shape: tuple[int, ...], bound: float) -> nnx.Param:
    """An ``nnx.Param`` drawn from U(-bound, bound), torch's default layer init."""
    key = rngs.params()
    return nnx.Param(jax.random.uniform(key, shape, jnp.float32, -bound, bound))


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, but got {name}={value!r}")


_CONV_IMPLS = {
    "xla": conv.conv2d_xla,
    "im2col": conv.conv2d_im2col,
    "hybrid": conv.conv2d_hybrid,
}


class Linear(nnx.Module):
    """y = x @ kernel + bias, torch's ``nn.Linear`` with a [in, out] kernel.

    torch: ``torch.nn.Linear(in_features, out_features, bias=True)``. The kernel is the
    transpose of torch's ``weight`` ([out, in]); both are drawn from torch's
    kaiming-uniform(a=sqrt(5)) init, U(-1/sqrt(in_features), 1/sqrt(in_features)).

    Args:
      in_features: size of the last input dimension.
      out_features: size of the last output dimension.
      bias: whether to add a learned bias.
      rngs: ``nnx.Rngs`` with a ``params`` stream.

    Returns:
      A module mapping float32 [..., in_features] to [..., out_features].

    Raises:
      ValueError: for non-positive sizes. RuntimeError (at call) when the input's
        last dimension is not ``in_features``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Linear
      >>> layer = Linear(3, 2, rngs=nnx.Rngs(0))
      >>> layer.kernel.shape, layer(jnp.ones((4, 3))).shape
      ((3, 2), (4, 2))
    """

    _torch_layout: ClassVar = {"weight": ("kernel", "linear"), "bias": ("bias", "same")}

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, *, rngs: nnx.Rngs
    ) -> None:
        _check_positive("in_features", in_features)
        _check_positive("out_features", out_features)
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / math.sqrt(in_features)
        self.kernel = _uniform(rngs, (in_features, out_features), bound)
        self.bias = _uniform(rngs, (out_features,), bound) if bias else None

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            rows = math.prod(x.shape[:-1]) if x.ndim else 1
            cols = x.shape[-1] if x.ndim else 1
            raise RuntimeError(
                f"mat1 and mat2 shapes cannot be multiplied ({rows}x{cols} and "
                f"{self.in_features}x{self.out_features}); Linear expects the last "
                f"input dimension to be in_features={self.in_features}"
            )
        y = x @ self.kernel[...]
        return y if self.bias is None else y + self.bias[...]

    def _torch_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


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
        _check_positive("in_channels", in_channels)
        _check_positive("out_channels", out_channels)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = conv.pair(kernel_size, "kernel_size")
        self.stride = conv.pair(stride, "stride")
        if min(self.kernel_size) <= 0 or min(self.stride) <= 0:
            raise ValueError(
                f"kernel_size and stride must be positive, but got "
                f"kernel_size={kernel_size}, stride={stride}"
            )
        self.padding = padding if isinstance(padding, str) else conv.pair(padding, "")
        self._pads = conv.resolve_padding(padding, self.kernel_size, self.stride)
        conv.pick_impl(impl)
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
        lowering = _CONV_IMPLS[conv.pick_impl(self.impl)]
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


class Embedding(nnx.Module):
    """A lookup table ``weight[num_embeddings, embedding_dim]``, torch's N(0, 1) init.

    torch: ``torch.nn.Embedding(num_embeddings, embedding_dim)``; same weight layout.

    Args:
      num_embeddings: number of rows (valid ids are 0 .. num_embeddings - 1).
      embedding_dim: width of each row.
      rngs: ``nnx.Rngs`` with a ``params`` stream.

    Raises:
      IndexError (at call, on concrete input): an id outside [0, num_embeddings).

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Embedding
      >>> Embedding(10, 3, rngs=nnx.Rngs(0))(jnp.array([[1, 2]])).shape
      (1, 2, 3)
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, *, rngs: nnx.Rngs
    ) -> None:
        _check_positive("num_embeddings", num_embeddings)
        _check_positive("embedding_dim", embedding_dim)
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        shape = (num_embeddings, embedding_dim)
        self.weight = nnx.Param(jax.random.normal(rngs.params(), shape, jnp.float32))

    def __call__(self, ids: jax.Array) -> jax.Array:
        ids = jnp.asarray(ids)
        if not jnp.issubdtype(ids.dtype, jnp.integer):
            raise RuntimeError(
                f"Embedding expects integer ids, but got dtype {ids.dtype}; cast with "
                ".astype(jnp.int32)"
            )
        if not isinstance(ids, jax.core.Tracer) and ids.size:
            low, high = int(ids.min()), int(ids.max())
            if low < 0 or high >= self.num_embeddings:
                raise IndexError(
                    f"index out of range in self: ids span [{low}, {high}] but "
                    f"num_embeddings={self.num_embeddings}"
                )
        return jnp.take(self.weight[...], ids, axis=0)

    def _torch_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
