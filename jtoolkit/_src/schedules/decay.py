"""Decay schedules: step, multistep, exponential, cosine annealing, linear (torch)."""

from collections.abc import Sequence

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
    power,
)

__all__ = [
    "cosine_annealing_lr",
    "exponential_lr",
    "linear_lr",
    "multistep_lr",
    "step_lr",
]


def step_lr(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """Decay ``lr`` by ``gamma`` every ``step_size`` steps: ``lr * gamma**(t // size)``.

    torch: ``torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma)``.

    Args:
        lr: initial learning rate (torch's optimizer ``lr``), ``>= 0``.
        step_size: period of the decay in scheduler steps, a positive int.
        gamma: multiplicative factor, ``> 0``.

    Returns:
        A schedule ``count -> lr``: float32 array shaped like ``count`` (int array).

    Raises:
        ValueError: ``step_size`` is not a positive int, ``gamma <= 0`` or ``lr < 0``.

    Example:
        >>> schedule = step_lr(0.1, step_size=2, gamma=0.5)
        >>> [round(v, 4) for v in schedule(jnp.arange(5)).tolist()]
        [0.1, 0.1, 0.05, 0.05, 0.025]
    """
    lr = check_positive("lr", lr, fn="step_lr", allow_zero=True)
    step_size = check_int("step_size", step_size, fn="step_lr", minimum=1)
    gamma = check_positive("gamma", gamma, fn="step_lr")

    def schedule(count: ArrayLike) -> jax.Array:
        decays = jnp.floor_divide(as_count(count), np.float32(step_size))
        return np.float32(lr) * power(gamma, decays)

    return schedule


def multistep_lr(lr: float, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    """Decay ``lr`` by ``gamma`` once per milestone reached (``count >= milestone``).

    torch: ``torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma)``.
    A milestone listed twice decays twice, as torch's ``Counter`` does.

    Args:
        lr: initial learning rate, ``>= 0``.
        milestones: scheduler steps (ints, any order) at which to decay.
        gamma: multiplicative factor, ``> 0``.

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``).

    Raises:
        ValueError: a milestone is not an int, ``gamma <= 0`` or ``lr < 0``.

    Example:
        >>> schedule = multistep_lr(1.0, milestones=[1, 3], gamma=0.1)
        >>> [round(v, 4) for v in schedule(jnp.arange(5)).tolist()]
        [1.0, 0.1, 0.1, 0.01, 0.01]
    """
    lr = check_positive("lr", lr, fn="multistep_lr", allow_zero=True)
    gamma = check_positive("gamma", gamma, fn="multistep_lr")
    points = np.asarray(
        sorted(check_int("milestone", m, fn="multistep_lr") for m in milestones),
        np.float32,
    )

    def schedule(count: ArrayLike) -> jax.Array:
        t = as_count(count)
        passed = jnp.sum(t[..., None] >= points, axis=-1)
        return np.float32(lr) * power(gamma, passed)

    return schedule


def exponential_lr(lr: float, gamma: float) -> Schedule:
    """Decay ``lr`` by ``gamma`` every step: ``lr * gamma**t``.

    torch: ``torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)``.

    Args:
        lr: initial learning rate, ``>= 0``.
        gamma: multiplicative factor per step, ``> 0``.

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``).

    Raises:
        ValueError: ``gamma <= 0`` or ``lr < 0``.

    Example:
        >>> schedule = exponential_lr(0.1, gamma=0.5)
        >>> [round(v, 4) for v in schedule(jnp.arange(4)).tolist()]
        [0.1, 0.05, 0.025, 0.0125]
    """
    lr = check_positive("lr", lr, fn="exponential_lr", allow_zero=True)
    gamma = check_positive("gamma", gamma, fn="exponential_lr")

    def schedule(count: ArrayLike) -> jax.Array:
        return np.float32(lr) * power(gamma, as_count(count))

    return schedule


def cosine_annealing_lr(lr: float, T_max: int, eta_min: float = 0.0) -> Schedule:
    """Cosine from ``lr`` down to ``eta_min`` in ``T_max`` steps, then back up again.

    torch: ``torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max, eta_min)``.
    torch's recursive update equals ``eta_min + (lr - eta_min) * (1 + cos(pi*t/T))/2``
    at every count, also past ``T_max`` where it rises again, period ``2*T_max``
    (optax's ``cosine_decay_schedule`` stays flat there and takes
    ``alpha = eta_min / lr``).

    Args:
        lr: initial (maximum) learning rate, ``>= 0``.
        T_max: half period in scheduler steps, ``> 0``.
        eta_min: minimum learning rate, ``>= 0``.

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``).

    Raises:
        ValueError: ``T_max <= 0``, ``lr < 0`` or ``eta_min < 0``.

    Example:
        >>> schedule = cosine_annealing_lr(1.0, T_max=2)
        >>> [round(v, 4) for v in schedule(jnp.arange(5)).tolist()]
        [1.0, 0.5, 0.0, 0.5, 1.0]
    """
    lr = check_positive("lr", lr, fn="cosine_annealing_lr", allow_zero=True)
    eta_min = check_positive(
        "eta_min", eta_min, fn="cosine_annealing_lr", allow_zero=True
    )
    period = check_positive("T_max", T_max, fn="cosine_annealing_lr")

    def schedule(count: ArrayLike) -> jax.Array:
        phase = jnp.mod(as_count(count), np.float32(2 * period))
        done = jnp.minimum(phase, np.float32(2 * period) - phase)  # in [0, T_max]
        return cos_mix(
            lr,
            eta_min,
            done / np.float32(period),
            (np.float32(period) - done) / np.float32(period),
        )

    return schedule


def linear_lr(
    lr: float,
    start_factor: float = 1.0 / 3,
    end_factor: float = 1.0,
    total_iters: int = 5,
) -> Schedule:
    """Scale ``lr`` by a factor moving linearly from ``start_factor`` to ``end_factor``.

    torch: ``torch.optim.lr_scheduler.LinearLR(optimizer, start_factor, end_factor,
    total_iters)``. The factor stays at ``end_factor`` after ``total_iters`` steps;
    with ``total_iters=0`` torch keeps ``start_factor`` forever, and so does this.

    Args:
        lr: base learning rate, ``>= 0``.
        start_factor: factor at count 0, in ``(0, 1]``.
        end_factor: factor from ``total_iters`` on, in ``[0, 1]``.
        total_iters: length of the ramp in scheduler steps, an int ``>= 0``.

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``).

    Raises:
        ValueError: a factor out of range (torch's messages), ``total_iters < 0``.

    Example:
        >>> schedule = linear_lr(1.0, start_factor=0.5, total_iters=2)
        >>> [round(v, 4) for v in schedule(jnp.arange(4)).tolist()]
        [0.5, 0.75, 1.0, 1.0]
    """
    lr = check_positive("lr", lr, fn="linear_lr", allow_zero=True)
    if start_factor > 1.0 or start_factor <= 0:
        raise ValueError(
            "Starting multiplicative factor expected to be greater than 0 and less "
            f"or equal to 1, but got start_factor={start_factor!r}."
        )
    if end_factor > 1.0 or end_factor < 0:
        raise ValueError(
            "Ending multiplicative factor expected to be between 0 and 1, but got "
            f"end_factor={end_factor!r}."
        )
    total_iters = check_int("total_iters", total_iters, fn="linear_lr", minimum=0)
    if total_iters == 0:
        return lambda count: jnp.full(jnp.shape(count), lr * start_factor, jnp.float32)
    total = np.float32(total_iters)

    def schedule(count: ArrayLike) -> jax.Array:
        done = jnp.clip(as_count(count), 0, total)
        left = (total - done) / total
        return linear_mix(lr * start_factor, lr * end_factor, done / total, left)

    return schedule
