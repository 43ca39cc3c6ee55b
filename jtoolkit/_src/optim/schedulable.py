"""Hyperparameters that may be schedules, and numerics the transforms share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = ["Schedulable", "lerp", "value_at", "zero_count", "zeros_like_tree"]


Schedulable = float | Callable[[jax.Array], Any]


def value_at(value: Schedulable, count: jax.Array) -> Any:
    """``value(count)`` for a schedule, ``value`` itself for a constant."""
    return value(count) if callable(value) else value


def lerp(start: jax.Array, end: jax.Array, weight: Any) -> jax.Array:
    """``torch.lerp`` with torch's two-branch formula (exact for weight 0 and 1)."""
    forward = start + weight * (end - start)
    backward = end - (end - start) * (1 - weight)
    if isinstance(weight, float):
        return forward if weight < 0.5 else backward
    return jnp.where(weight < 0.5, forward, backward)


def zeros_like_tree(params: optax.Params) -> optax.Params:
    """Zeros shaped like every leaf of ``params`` (torch's lazily created buffers)."""
    return jax.tree.map(jnp.zeros_like, params)


def zero_count() -> jax.Array:
    """A transform's step count before the first step (int32, as optax keeps it)."""
    return jnp.zeros([], jnp.int32)
