"""Activation modules (torch.nn.ReLU, Tanh, Sigmoid, SiLU, GELU, LeakyReLU)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["GELU", "LeakyReLU", "ReLU", "SiLU", "Sigmoid", "Tanh"]


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
