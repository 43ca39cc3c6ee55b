"""Reshaping modules (torch.nn.Flatten)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["Flatten"]


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
