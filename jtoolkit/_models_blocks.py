"""Parameter-free torch blocks: Sequential, activations, pooling, Flatten.

Each has torch's constructor arguments and ``_torch_repr()`` (torch's ``extra_repr``),
so ``summary`` prints what torch prints. Activations are NHWC.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit import _models_conv as conv

__all__ = [
    "GELU",
    "AdaptiveAvgPool2d",
    "Flatten",
    "LeakyReLU",
    "MaxPool2d",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Tanh",
]


class Sequential(nnx.List):
    """Calls its layers in order; torch's ``nn.Sequential`` (children named 0, 1, ...).

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Linear, ReLU, Sequential
      >>> net = Sequential(Linear(2, 3, rngs=nnx.Rngs(0)), ReLU())
      >>> net(jnp.ones((1, 2))).shape
      (1, 3)
    """

    def __init__(self, *layers: Callable) -> None:
        super().__init__(layers)

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self:
            x = layer(x)
        return x


class _Activation(nnx.Module):
    """An element-wise function as a module (no state), for torch-style Sequentials."""

    def _torch_repr(self) -> str:
        return ""


class ReLU(_Activation):
    """torch's ``nn.ReLU()`` (gradient 0 at 0, as torch)."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.relu(x)


class Tanh(_Activation):
    """torch's ``nn.Tanh()``."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.tanh(x)


class Sigmoid(_Activation):
    """torch's ``nn.Sigmoid()``."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.sigmoid(x)


class SiLU(_Activation):
    """torch's ``nn.SiLU()``."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.silu(x)


class GELU(_Activation):
    """torch's ``nn.GELU(approximate='none')`` (exact erf form by default)."""

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(
                f"approximate must be 'none' or 'tanh', got {approximate!r}"
            )
        self.approximate = approximate

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.gelu(x, approximate=self.approximate == "tanh")

    def _torch_repr(self) -> str:
        return f"approximate='{self.approximate}'"


class LeakyReLU(_Activation):
    """torch's ``nn.LeakyReLU(negative_slope=0.01)``."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = negative_slope

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.leaky_relu(x, self.negative_slope)

    def _torch_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


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
        kernel, pads = conv.pair(kernel_size, "kernel_size"), conv.pair(padding, "")
        if any(2 * p > k for p, k in zip(pads, kernel, strict=True)):
            raise RuntimeError(
                "pad should be at most half of effective kernel size, but got "
                f"pad={padding}, kernel_size={kernel_size}"
            )

    def __call__(self, x: jax.Array) -> jax.Array:
        return conv.max_pool2d(
            jnp.asarray(x),
            conv.pair(self.kernel_size, "kernel_size"),
            conv.pair(self.stride, "stride"),
            conv.pair(self.padding, "padding"),
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
        return conv.adaptive_avg_pool2d(x, conv.pair(self.output_size, "output_size"))

    def _torch_repr(self) -> str:
        return f"output_size={self.output_size}"


class Flatten(nnx.Module):
    """torch's ``nn.Flatten()``: [N, ...] -> [N, prod(...)], in torch's element order.

    A 4-D NHWC input is flattened in torch's (C, H, W) order, so a torch ``Linear``
    that follows a torch ``Flatten`` loads unchanged.

    Example:
      >>> from jtoolkit.models import Flatten
      >>> Flatten()(jnp.arange(4.0).reshape(1, 1, 2, 2)).tolist()
      [[0.0, 2.0, 1.0, 3.0]]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim == 4:
            x = x.transpose(0, 3, 1, 2)
        return x.reshape(x.shape[0], -1)

    def _torch_repr(self) -> str:
        return "start_dim=1, end_dim=-1"
