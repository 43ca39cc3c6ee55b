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


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, but got {name}={value!r}")
