"""Helpers shared by the tests of tests/checkpoint/ (one copy per area)."""

import jax.numpy as jnp

_TARGET = {"b": jnp.zeros(3), "w": jnp.zeros((200, 100))}


def _state(value):
    w = jnp.arange(20000, dtype=jnp.float32).reshape(200, 100) + value
    return {"b": jnp.full(3, float(value)), "w": w}
