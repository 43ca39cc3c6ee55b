"""Mixed precision for the train step: compute casts and fp16 dynamic loss scaling.

bf16/fp16 compute with float32 master weights: parameters and float inputs are cast
to the compute dtype inside the differentiated function, so gradients, optimizer
state and the stored weights stay float32. ``LossScaleState`` with
``update_loss_scale`` is the twin of ``torch.amp.GradScaler`` (scale the loss, unscale
the gradients, skip the step on inf/NaN, grow/back off the scale).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "LossScaleState",
    "SlowPrecisionWarning",
    "cast_floats",
    "compute_dtype",
    "cpu_has_native_bf16",
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


class SlowPrecisionWarning(UserWarning):
    """bf16 asked for on a CPU that has no native bf16 arithmetic (emulated: slow)."""


@functools.cache
def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU has bf16 instructions (x86 ``avx512_bf16``/``amx_bf16``,
    Arm ``bf16``); True where it cannot tell (no ``/proc/cpuinfo``)."""
    try:
        with open(cpuinfo) as f:
            flags = set(f.read().split())
    except OSError:
        return True
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


_warned: set[str] = set()


def _warn_if_emulated(precision: str) -> None:
    """Warn once per process when bf16 runs on a CPU that emulates it."""
    if precision != "bf16" or "bf16" in _warned or jax.default_backend() != "cpu":
        return
    if cpu_has_native_bf16():
        return
    _warned.add("bf16")
    warnings.warn(
        "precision='bf16' on a CPU without native bf16 instructions (no avx512_bf16 "
        "or amx_bf16): XLA emulates it, usually slower than fp32 (measured 2x for "
        "the CNN); use precision='fp32' on this CPU, bf16 on GPUs",
        SlowPrecisionWarning,
        stacklevel=3,
    )


def compute_dtype(precision: str) -> Any:
    """The compute dtype of ``"fp32"`` (None: leave as is), ``"bf16"``, ``"fp16"``.

    Warns once (``SlowPrecisionWarning``) for bf16 on a CPU without native bf16.

    Raises:
        ValueError: unknown ``precision``.

    Example:
        >>> compute_dtype("fp32") is None
        True
    """
    if precision not in _DTYPES:
        raise ValueError(
            f"precision must be one of {tuple(_DTYPES)}, got precision={precision!r}"
        )
    _warn_if_emulated(precision)
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
