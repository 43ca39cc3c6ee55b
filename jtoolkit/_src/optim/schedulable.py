"""Hyperparameters that may be schedules, and numerics the transforms share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = [
    "Schedulable",
    "hyper_dtype",
    "lerp",
    "value_at",
    "zero_count",
    "zeros_like_tree",
]


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


def hyper_dtype(tree: Any) -> jnp.dtype:
    """The dtype hyper-parameters take for these parameters (or updates).

    torch keeps ``lr``, ``betas`` and ``eps`` as Python floats, which act in each
    parameter's dtype: a float64 model (``jax_enable_x64``) gets float64
    hyper-parameters, a float32/bfloat16 one float32 (torch's opmath type).

    Example:
        >>> hyper_dtype({"w": jnp.zeros(2, jnp.bfloat16)})
        dtype('float32')
    """
    dtypes = [
        jnp.result_type(x)
        for x in jax.tree.leaves(tree)
        if jnp.issubdtype(jnp.result_type(x), jnp.floating)
    ]
    return jnp.result_type(jnp.float32, *dtypes)


def zeros_like_tree(params: optax.Params) -> optax.Params:
    """Zeros shaped like every leaf of ``params`` (torch's lazily created buffers)."""
    return jax.tree.map(jnp.zeros_like, params)


def zero_count() -> jax.Array:
    """A transform's step count before the first step (int32, as optax keeps it)."""
    return jnp.zeros([], jnp.int32)
