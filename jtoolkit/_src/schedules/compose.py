"""Composing schedules: lambda_lr, sequential_lr, chained_scheduler, per_epoch."""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_int, check_positive, fail
from jtoolkit._src.schedules.numerics import (
    LRSchedule,
    Schedule,
)

__all__ = ["chained_scheduler", "lambda_lr", "per_epoch", "sequential_lr"]


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
        t = jnp.asarray(count)
        factor = jnp.asarray(lr_lambda(t), jnp.float32)
        return jnp.broadcast_to(np.float32(lr) * factor, jnp.shape(t))

    return LRSchedule(schedule, lr)


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


def chained_scheduler(
    schedules: Sequence[Schedule], base_lr: float | None = None
) -> Schedule:
    """The product of schedules, the closed form of torch's ``ChainedScheduler``.

    torch: ``torch.optim.lr_scheduler.ChainedScheduler(schedulers)`` steps every
    scheduler on the same optimizer each step; each one's recursive update
    multiplies the shared lr by its own factor, so the lr is the first schedule's
    value times every later schedule's factor ``s_i(t) / lr_i``, ``lr_i`` being
    the lr that schedule was built on. Write it as torch users do, every schedule
    on the same lr: ``chained_scheduler([step_lr(0.1, 2), exponential_lr(0.1,
    0.9)])`` gives torch's values (not ``0.1 ** 2``): jtoolkit's schedules carry
    their lr (`LRSchedule.base_lr`). The older factor style (later schedules built
    with ``lr=1.0``) gives the same values.

    A plain function has no recorded lr: its values are taken as factors, unless
    ``base_lr`` names the lr every later schedule was built on.

    This equals torch for schedulers whose recursive step is a multiplication
    (StepLR, MultiStepLR, ExponentialLR, ConstantLR, LinearLR, PolynomialLR,
    MultiplicativeLR). Chaining torch schedulers that set the lr from their own
    base (LambdaLR, CosineAnnealingLR, CyclicLR, OneCycleLR, SequentialLR) gives
    history-dependent values that are no product of closed forms; they are not
    supported here.

    Args:
        schedules: one or more schedules ``count -> lr``.
        base_lr: None, or the lr every later schedule was built on (``> 0``);
            it overrides their recorded lr.

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``).

    Raises:
        ValueError: no schedules (torch's message), ``base_lr <= 0``.

    Example:
        >>> from jtoolkit.schedules import chained_scheduler, constant_lr
        >>> from jtoolkit.schedules import exponential_lr
        >>> schedule = chained_scheduler(
        ...     [constant_lr(1.0, factor=0.5, total_iters=2), exponential_lr(1.0, 0.5)])
        >>> [round(v, 4) for v in schedule(jnp.arange(4)).tolist()]
        [0.5, 0.25, 0.25, 0.125]
    """
    schedules = list(schedules)
    if len(schedules) < 1:
        raise ValueError(
            "ChainedScheduler expects at least one scheduler to be chained, but got "
            "no scheduler."
        )
    if base_lr is not None:
        base_lr = check_positive("base_lr", base_lr, fn="chained_scheduler")
    # the lr each later schedule was built on divides it (None: it is a factor)
    built_on = [getattr(s, "base_lr", None) for s in schedules[1:]]
    divisors = built_on if base_lr is None else [base_lr] * len(built_on)

    def schedule(count: ArrayLike) -> jax.Array:
        value = jnp.asarray(schedules[0](count), jnp.float32)
        for later, divisor in zip(schedules[1:], divisors, strict=True):
            factor = jnp.asarray(later(count), jnp.float32)
            if divisor:
                factor = factor / np.float32(divisor)
            value = value * factor
        return value

    first = getattr(schedules[0], "base_lr", None)
    return schedule if first is None else LRSchedule(schedule, first)
