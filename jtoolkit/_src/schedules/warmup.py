"""Lightning-Bolts' LinearWarmupCosineAnnealingLR as a closed-form schedule."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_int, check_positive
from jtoolkit._src.schedules.numerics import (
    Schedule,
    as_count,
    cos_mix,
    linear_mix,
)

__all__ = ["linear_warmup_cosine_annealing"]


def linear_warmup_cosine_annealing(
    lr: float,
    warmup_epochs: int,
    max_epochs: int,
    warmup_start_lr: float = 0.0,
    eta_min: float = 0.0,
) -> Schedule:
    """Linear warmup from ``warmup_start_lr`` to ``lr``, then a cosine to ``eta_min``.

    torch: Lightning-Bolts' ``LinearWarmupCosineAnnealingLR(optimizer,
    warmup_epochs, max_epochs, warmup_start_lr, eta_min)`` (not in torch itself).
    Its exact sequence: ``lr`` is reached at ``warmup_epochs - 1`` and held one
    step, the cosine runs from ``warmup_epochs`` to ``max_epochs`` and, as torch's
    CosineAnnealingLR, rises again afterwards (period ``2*(max - warmup)``).

    Args:
        lr: peak learning rate, ``>= 0``.
        warmup_epochs: length of the warmup in scheduler steps, an int ``>= 0``.
        max_epochs: end of the cosine, an int ``> warmup_epochs``.
        warmup_start_lr: lr at count 0, ``>= 0``.
        eta_min: minimum lr, ``>= 0``.

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``).

    Raises:
        ValueError: ``warmup_epochs < 0``, ``max_epochs <= warmup_epochs`` or a
            negative lr.

    Example:
        >>> schedule = linear_warmup_cosine_annealing(1.0, 3, 5, warmup_start_lr=0.5)
        >>> [round(v, 4) for v in schedule(jnp.arange(6)).tolist()]
        [0.5, 0.75, 1.0, 1.0, 0.5, 0.0]
    """
    lr = check_positive("lr", lr, fn="linear_warmup_cosine_annealing", allow_zero=True)
    start = check_positive(
        "warmup_start_lr",
        warmup_start_lr,
        fn="linear_warmup_cosine_annealing",
        allow_zero=True,
    )
    eta_min = check_positive(
        "eta_min", eta_min, fn="linear_warmup_cosine_annealing", allow_zero=True
    )
    warmup = check_int(
        "warmup_epochs", warmup_epochs, fn="linear_warmup_cosine_annealing", minimum=0
    )
    last = check_int(
        "max_epochs",
        max_epochs,
        fn="linear_warmup_cosine_annealing",
        minimum=warmup + 1,
    )
    period = np.float32(last - warmup)
    ramp = np.float32(max(warmup - 1, 1))

    def schedule(count: ArrayLike) -> jax.Array:
        t = as_count(count)
        rising = linear_mix(start, lr, t / ramp, (ramp - t) / ramp)
        phase = jnp.mod(t - np.float32(warmup), 2 * period)
        done = jnp.minimum(phase, 2 * period - phase)
        down = cos_mix(lr, eta_min, done / period, (period - done) / period)
        if warmup == 0:  # Bolts' recursion scales the first half-wave from the start
            first = cos_mix(start, eta_min, done / period, (period - done) / period)
            down = jnp.where(t <= period, first, down)
        value = jnp.where(t < np.float32(warmup), rising, down)
        return jnp.where(t == 0, np.float32(start), value)

    return schedule
