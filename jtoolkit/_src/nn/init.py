"""torch's default initialisation (kaiming-uniform bounds) for jtoolkit layers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

__all__: list[str] = []


def _uniform(rngs: nnx.Rngs, shape: tuple[int, ...], bound: float) -> nnx.Param:
    """An ``nnx.Param`` drawn from U(-bound, bound), torch's default layer init."""
    key = rngs.params()
    return nnx.Param(jax.random.uniform(key, shape, jnp.float32, -bound, bound))
