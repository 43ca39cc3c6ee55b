"""Mixed precision for the train step: compute casts and fp16 dynamic loss scaling.

bf16/fp16 compute with float32 master weights: parameters and float inputs are cast
to the compute dtype inside the differentiated function, so gradients, optimizer
state and the stored weights stay float32. ``LossScaleState`` with
``update_loss_scale`` is the twin of ``torch.amp.GradScaler`` (scale the loss, unscale
the gradients, skip the step on inf/NaN, grow/back off the scale).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "LossScaleState",
    "cast_floats",
    "compute_dtype",
    "init_loss_scale",
    "update_loss_scale",
]


_DTYPES = {"fp32": None, "bf16": jnp.bfloat16, "fp16": jnp.float16}


class LossScaleState(NamedTuple):
    """Dynamic loss-scale state (GradScaler's ``_scale`` and ``_growth_tracker``)."""

    scale: jax.Array
    growth_tracker: jax.Array
    growth_factor: float = 2.0
    backoff_factor: float = 0.5
    growth_interval: int = 2000


def compute_dtype(precision: str) -> Any:
    """The compute dtype of ``"fp32"`` (None: leave as is), ``"bf16"``, ``"fp16"``.

    Raises:
        ValueError: unknown ``precision``.

    Example:
        >>> compute_dtype("bf16").__name__
        'bfloat16'
    """
    if precision not in _DTYPES:
        raise ValueError(
            f"precision must be one of {tuple(_DTYPES)}, got precision={precision!r}"
        )
    return _DTYPES[precision]


def cast_floats(tree: Any, dtype: Any) -> Any:
    """Cast the floating-point leaves of ``tree`` to ``dtype`` (None: unchanged).

    Example:
        >>> cast_floats({"w": jnp.ones(2), "i": jnp.arange(2)}, jnp.bfloat16)["w"].dtype
        dtype(bfloat16)
    """
    if dtype is None:
        return tree

    def cast(x):
        x = jnp.asarray(x)
        return x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x

    return jax.tree.map(cast, tree)


def init_loss_scale(
    init_scale: float = 2.0**16,
    growth_factor: float = 2.0,
    backoff_factor: float = 0.5,
    growth_interval: int = 2000,
) -> LossScaleState:
    """Initial state, torch's ``GradScaler(init_scale=2.**16, ...)`` defaults.

    Example:
        >>> float(init_loss_scale().scale)
        65536.0
    """
    return LossScaleState(
        jnp.asarray(init_scale, jnp.float32),
        jnp.zeros((), jnp.int32),
        growth_factor,
        backoff_factor,
        growth_interval,
    )


def update_loss_scale(state: LossScaleState, finite: jax.Array) -> LossScaleState:
    """GradScaler's ``update()``: back off on inf/NaN, grow after an interval.

    Example:
        >>> s = update_loss_scale(init_loss_scale(8.0), jnp.array(False))
        >>> float(s.scale), int(s.growth_tracker)
        (4.0, 0)
    """
    tracker = jnp.where(finite, state.growth_tracker + 1, 0)
    grow = tracker >= state.growth_interval
    scale = jnp.where(
        finite,
        jnp.where(grow, state.scale * state.growth_factor, state.scale),
        state.scale * state.backoff_factor,
    )
    tracker = jnp.where(grow, 0, tracker)
    return state._replace(scale=scale, growth_tracker=tracker)
