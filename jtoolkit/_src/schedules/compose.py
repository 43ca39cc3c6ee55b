"""Composing schedules: ``lambda_lr``, ``sequential_lr`` and ``per_epoch``."""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_int, check_positive, fail
from jtoolkit._src.schedules.numerics import (
    Schedule,
)

__all__ = ["lambda_lr", "per_epoch", "sequential_lr"]


def lambda_lr(lr: float, lr_lambda: Callable[[jax.Array], ArrayLike]) -> Schedule:
    """``lr * lr_lambda(count)``: the user's factor function, traced with jnp.

    torch: ``torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)``.

    Args:
        lr: base learning rate, ``>= 0``.
        lr_lambda: ``count -> factor``, written with ``jnp`` so it traces under jit
            (``count`` is the int array passed to the schedule).

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``).

    Raises:
        ValueError: ``lr < 0`` or ``lr_lambda`` is not callable.

    Example:
        >>> from jtoolkit.schedules import lambda_lr
        >>> schedule = lambda_lr(0.1, lambda t: 0.5**t)
        >>> [round(v, 4) for v in schedule(jnp.arange(3)).tolist()]
        [0.1, 0.05, 0.025]
    """
    lr = check_positive("lr", lr, fn="lambda_lr", allow_zero=True)
    if not callable(lr_lambda):
        raise ValueError(f"lr_lambda must be callable, but got {lr_lambda!r}")

    def schedule(count: ArrayLike) -> jax.Array:
        factor = jnp.asarray(lr_lambda(jnp.asarray(count)), jnp.float32)
        return np.float32(lr) * factor

    return schedule


def sequential_lr(schedules: Sequence[Schedule], milestones: Sequence[int]) -> Schedule:
    """Run ``schedules[i]`` from ``milestones[i-1]``, restarted at its own count 0.

    torch: ``torch.optim.lr_scheduler.SequentialLR(optimizer, schedulers,
    milestones)`` (optax: ``join_schedules``). Each schedule carries its own ``lr``.

    Args:
        schedules: ``n >= 1`` schedules.
        milestones: ``n - 1`` non-decreasing ints: the counts at which to switch.

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``).

    Raises:
        ValueError: no schedules, ``len(milestones) != len(schedules) - 1`` (torch's
            message) or decreasing milestones.

    Example:
        >>> from jtoolkit.schedules import exponential_lr, linear_lr, sequential_lr
        >>> warmup = linear_lr(0.1, start_factor=0.5, total_iters=2)
        >>> schedule = sequential_lr([warmup, exponential_lr(0.1, 0.5)], [2])
        >>> [round(v, 4) for v in schedule(jnp.arange(5)).tolist()]
        [0.05, 0.075, 0.1, 0.05, 0.025]
    """
    schedules = list(schedules)
    milestones = [check_int("milestone", m, fn="sequential_lr") for m in milestones]
    if not schedules:
        raise ValueError("SequentialLR expects at least one scheduler, but got none.")
    if len(milestones) != len(schedules) - 1:
        raise ValueError(
            "Sequential Schedulers expects number of schedulers provided to be one "
            "more than the number of milestone points, but got number of schedulers "
            f"{len(schedules)} and the number of milestones to be equal to "
            f"{len(milestones)}"
        )
    if milestones != sorted(milestones):
        raise fail("milestones", milestones, "non-decreasing", fn="sequential_lr")

    def schedule(count: ArrayLike) -> jax.Array:
        t = jnp.asarray(count)
        value = schedules[0](t)
        for start, later in zip(milestones, schedules[1:], strict=True):
            value = jnp.where(t >= start, later(t - start), value)
        return value.astype(jnp.float32)

    return schedule


def per_epoch(schedule: Schedule, steps_per_epoch: int) -> Schedule:
    """Turn an epoch schedule into an optimizer-step schedule: ``schedule(s // spe)``.

    torch: calling ``scheduler.step()`` once per epoch while the optimizer steps
    ``steps_per_epoch`` times; the jitted train step sees only its update count.

    Args:
        schedule: a schedule indexed by epochs.
        steps_per_epoch: optimizer steps per epoch, a positive int.

    Returns:
        A schedule indexed by optimizer steps (float32, shaped like ``count``).

    Raises:
        ValueError: ``steps_per_epoch`` is not a positive int.

    Example:
        >>> from jtoolkit.schedules import per_epoch, step_lr
        >>> schedule = per_epoch(step_lr(1.0, step_size=1, gamma=0.5), 2)
        >>> [round(v, 4) for v in schedule(jnp.arange(5)).tolist()]
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    steps_per_epoch = check_int(
        "steps_per_epoch", steps_per_epoch, fn="per_epoch", minimum=1
    )

    def stepped(count: ArrayLike) -> jax.Array:
        t = jnp.asarray(count)
        return schedule(jnp.floor_divide(t, steps_per_epoch))

    return stepped
