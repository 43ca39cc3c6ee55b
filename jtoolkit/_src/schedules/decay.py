"""One scheduler, one closed form: torch's decaying and annealing schedulers.

StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, ConstantLR,
PolynomialLR, MultiplicativeLR, CosineAnnealingWarmRestarts, SWALR and
Lightning-Bolts' LinearWarmupCosineAnnealingLR, each a pure ``count -> lr``
(torch's recursive ``step()`` rewritten as the value after ``count`` steps).
"""

import math
from collections.abc import Callable, Sequence
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_int, check_positive
from jtoolkit._src.schedules.numerics import (
    LRSchedule,
    Schedule,
    ZeroDivisionArgumentError,
    anneal_mix,
    as_count,
    check_divisor,
    check_real,
    cos_mix,
    linear_mix,
    power,
)

__all__ = [
    "constant_lr",
    "cosine_annealing_lr",
    "cosine_annealing_warm_restarts",
    "exponential_lr",
    "linear_lr",
    "linear_warmup_cosine_annealing",
    "multiplicative_lr",
    "multistep_lr",
    "polynomial_lr",
    "step_lr",
    "swa_lr",
]


def _decay_period(step_size: float) -> int:
    """Steps between two of torch's StepLR decays: torch decays at every
    ``last_epoch`` with ``last_epoch % step_size == 0`` (exact float modulo), so
    for ``|step_size| = a / b`` in lowest terms the period is ``a`` (2.5 decays
    every 5 steps, 0.5 every step, 0.1's numerator is ~3.6e15: never)."""
    return Fraction(abs(step_size)).numerator


def step_lr(lr: float, step_size: float, gamma: float = 0.1) -> Schedule:
    """Decay ``lr`` by ``gamma`` every ``step_size`` steps: ``lr * gamma**(t // size)``.

    torch: ``torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma)``. A
    float ``step_size`` gives torch's numbers too: its ``step()`` decays whenever
    ``last_epoch % step_size == 0``, i.e. every ``a`` steps for
    ``|step_size| = a / b`` in lowest terms (2.5: every 5; 0.5: every step).
    torch's ``last_epoch // step_size`` closed form, used only by the deprecated
    ``step(epoch)``, disagrees with its own ``step()`` there; this follows
    ``step()``.

    Args:
        lr: initial learning rate (torch's optimizer ``lr``), ``>= 0``.
        step_size: period of the decay in scheduler steps, a nonzero int or
            finite float (the sign is moot, as torch's modulo test).
        gamma: multiplicative factor, ``> 0``.

    Returns:
        A schedule ``count -> lr``: float32 array shaped like ``count`` (int array).

    Raises:
        ValueError: ``step_size`` is not a number, ``gamma <= 0`` or ``lr < 0``.
        ZeroDivisionArgumentError: ``step_size == 0`` (torch: modulo by zero).

    Example:
        >>> schedule = step_lr(0.1, step_size=2, gamma=0.5)
        >>> [round(v, 4) for v in schedule(jnp.arange(5)).tolist()]
        [0.1, 0.1, 0.05, 0.05, 0.025]
        >>> step_lr(1.0, 2.5, 0.5)(jnp.arange(4, 7)).tolist()
        [1.0, 0.5, 0.5]
    """
    lr = check_positive("lr", lr, fn="step_lr", allow_zero=True)
    if isinstance(step_size, float) and math.isfinite(step_size):
        period = _decay_period(step_size) if step_size else 0
    else:
        period = abs(check_int("step_size", step_size, fn="step_lr"))
    if period == 0:
        raise ZeroDivisionArgumentError(
            "step_lr: step_size must be nonzero, got 0 (torch: integer modulo by zero)"
        )
    gamma = check_real("gamma", gamma, fn="step_lr")

    def schedule(count: ArrayLike) -> jax.Array:
        decays = jnp.floor_divide(as_count(count), np.float32(period))
        return np.float32(lr) * power(gamma, decays)

    return LRSchedule(schedule, lr)


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
    gamma = check_real("gamma", gamma, fn="multistep_lr")
    ints = [check_int("milestone", m, fn="multistep_lr") for m in milestones]
    # torch decays when the epoch equals a milestone: a negative one never fires
    points = np.asarray(sorted(m for m in ints if m >= 0), np.float32)

    def schedule(count: ArrayLike) -> jax.Array:
        t = as_count(count)
        passed = jnp.sum(t[..., None] >= points, axis=-1)
        return np.float32(lr) * power(gamma, passed)

    return LRSchedule(schedule, lr)


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
    gamma = check_real("gamma", gamma, fn="exponential_lr")

    def schedule(count: ArrayLike) -> jax.Array:
        return np.float32(lr) * power(gamma, as_count(count))

    return LRSchedule(schedule, lr)


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
    eta_min = check_real("eta_min", eta_min, fn="cosine_annealing_lr")
    period = check_divisor("T_max", T_max, fn="cosine_annealing_lr")

    span = np.float32(period)

    def schedule(count: ArrayLike) -> jax.Array:
        phase = jnp.mod(as_count(count), np.float32(2 * period))
        done = jnp.minimum(phase, np.float32(2 * period) - phase)  # in [0, T_max]
        return cos_mix(lr, eta_min, done / span, (span - done) / span)

    return LRSchedule(schedule, lr)


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
    total_iters = check_int("total_iters", total_iters, fn="linear_lr")
    if total_iters <= 0:
        return LRSchedule(
            lambda count: jnp.full(jnp.shape(count), lr * start_factor, jnp.float32), lr
        )
    total = np.float32(total_iters)

    def schedule(count: ArrayLike) -> jax.Array:
        done = jnp.clip(as_count(count), 0, total)
        left = (total - done) / total
        return linear_mix(lr * start_factor, lr * end_factor, done / total, left)

    return LRSchedule(schedule, lr)


def constant_lr(lr: float, factor: float = 1.0 / 3, total_iters: int = 5) -> Schedule:
    """``lr * factor`` for the first ``total_iters`` steps, then ``lr``.

    torch: ``torch.optim.lr_scheduler.ConstantLR(optimizer, factor, total_iters)``.
    Past ``total_iters`` the lr holds at ``lr``; with ``total_iters <= 0`` torch
    never restores it and ``lr * factor`` holds forever, as here. torch accepts
    ``factor=0`` but its step ``total_iters`` then divides by zero (``lr * 0 *
    (1/0)``); that combination is refused here with the same ZeroDivisionError.

    Args:
        lr: base learning rate, ``>= 0``.
        factor: multiplier during the first ``total_iters`` steps, in ``[0, 1]``.
        total_iters: number of scaled steps, an int.

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``).

    Raises:
        ValueError: ``factor`` outside ``[0, 1]`` (torch's message), ``lr < 0`` or a
            non-int ``total_iters``.
        ZeroDivisionError: ``factor == 0`` with ``total_iters > 0`` (as torch's
            step at ``total_iters``).

    Example:
        >>> from jtoolkit.schedules import constant_lr
        >>> schedule = constant_lr(0.1, factor=0.5, total_iters=2)
        >>> [round(v, 4) for v in schedule(jnp.arange(4)).tolist()]
        [0.05, 0.05, 0.1, 0.1]
    """
    lr = check_positive("lr", lr, fn="constant_lr", allow_zero=True)
    if factor > 1.0 or factor < 0:
        raise ValueError(
            "Constant multiplicative factor expected to be between 0 and 1."
        )
    total_iters = check_int("total_iters", total_iters, fn="constant_lr")
    if factor == 0 and total_iters > 0:
        raise ZeroDivisionError(
            "constant_lr: factor=0 with total_iters > 0: torch's ConstantLR divides "
            "by the factor at step total_iters"
        )
    low, high = np.float32(lr * factor), np.float32(lr)
    if total_iters <= 0:
        return LRSchedule(
            lambda count: jnp.full(jnp.shape(count), low, jnp.float32), lr
        )
    end = np.float32(total_iters)

    def schedule(count: ArrayLike) -> jax.Array:
        return jnp.where(as_count(count) >= end, high, low)

    return LRSchedule(schedule, lr)


def polynomial_lr(lr: float, total_iters: int = 5, power: float = 1.0) -> Schedule:
    """``lr * (1 - min(t, total_iters) / total_iters) ** power``: decay to 0, hold.

    torch: ``torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters,
    power)``. The lr reaches 0 at ``total_iters`` and holds there. With
    ``total_iters <= 0`` torch never decays (``lr`` forever), as here. A negative
    ``power`` makes torch's step ``total_iters`` raise ZeroDivisionError (``0.0 **
    negative``); it is refused here with the same exception.

    Args:
        lr: base learning rate, ``>= 0``.
        total_iters: number of decaying steps, an int.
        power: exponent of the polynomial.

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``).

    Raises:
        ValueError: ``lr < 0`` or a non-int ``total_iters``.
        ZeroDivisionError: ``power < 0`` with ``total_iters > 0`` (as torch).

    Example:
        >>> from jtoolkit.schedules import polynomial_lr
        >>> schedule = polynomial_lr(1.0, total_iters=4, power=2.0)
        >>> [round(v, 4) for v in schedule(jnp.arange(6)).tolist()]
        [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """
    lr = check_positive("lr", lr, fn="polynomial_lr", allow_zero=True)
    total_iters = check_int("total_iters", total_iters, fn="polynomial_lr")
    power = float(power)
    if total_iters <= 0:
        return LRSchedule(lambda count: jnp.full(jnp.shape(count), lr, jnp.float32), lr)
    if power < 0:
        raise ZeroDivisionError(
            f"polynomial_lr: power={power} < 0: torch's PolynomialLR raises "
            "0.0 cannot be raised to a negative power at step total_iters"
        )
    total = np.float32(total_iters)

    def schedule(count: ArrayLike) -> jax.Array:
        left = (total - jnp.clip(as_count(count), 0, total)) / total
        if power == 1.0:
            return np.float32(lr) * left
        return np.float32(lr) * jnp.power(left, np.float32(power))

    return LRSchedule(schedule, lr)


def multiplicative_lr(
    lr: float, lr_lambda: Callable[[jax.Array], ArrayLike]
) -> Schedule:
    """``lr`` times the product of ``lr_lambda(k)`` for ``k = 1 .. count``.

    torch: ``torch.optim.lr_scheduler.MultiplicativeLR(optimizer, lr_lambda)``,
    whose step ``k`` multiplies the lr by ``lr_lambda(k)``. The schedule stays a
    pure function of ``count`` by recomputing the product with a
    ``jax.lax.while_loop`` over ``k = 1 .. max(count)`` (a scalar int32 ``k``,
    elementwise masked for an array ``count``): O(count) work per evaluation, fine
    for per-epoch schedules; for long per-step schedules prefer a closed form
    (``lambda_lr`` or ``exponential_lr`` for a constant factor). The product is
    taken in float32 in torch's order, so its relative error grows like
    ``count * 2**-24`` (each factor rounded to float32) where torch's grows in
    float64.

    Args:
        lr: base learning rate, ``>= 0``.
        lr_lambda: ``k -> factor`` for a scalar int32 array ``k``, written with jnp
            so it traces.

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``), jittable and
        vmappable.

    Raises:
        TypeError: ``lr_lambda`` is not callable (torch's message).
        ValueError: ``lr < 0``.

    Example:
        >>> from jtoolkit.schedules import multiplicative_lr
        >>> schedule = multiplicative_lr(1.0, lambda k: jnp.where(k % 2 == 0, 0.5, 1.0))
        >>> [round(v, 4) for v in schedule(jnp.arange(6)).tolist()]
        [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """
    lr = check_positive("lr", lr, fn="multiplicative_lr", allow_zero=True)
    if not callable(lr_lambda):
        raise TypeError(
            f"lr_lambda should be a function, but got {type(lr_lambda).__name__}"
        )

    def schedule(count: ArrayLike) -> jax.Array:
        t = jnp.asarray(count).astype(jnp.int32)
        start = jnp.full(t.shape, np.float32(lr), jnp.float32)

        def body(carry):
            k, value = carry
            factor = jnp.asarray(lr_lambda(k), jnp.float32)
            return k + 1, jnp.where(k <= t, value * factor, value)

        def cond(carry):
            return carry[0] <= jnp.max(t, initial=0)

        return jax.lax.while_loop(cond, body, (jnp.int32(1), start))[1]

    return LRSchedule(schedule, lr)


_LIMIT = 2**24  # counts are exact float32 integers below this


def cosine_annealing_warm_restarts(
    lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0
) -> Schedule:
    """Cosine from ``lr`` to ``eta_min`` over ``T_i`` steps, then restart at ``lr``.

    torch: ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0,
    T_mult, eta_min)`` stepped without an epoch argument. Cycle ``i`` lasts
    ``T_i = T_0 * T_mult**i`` steps and starts at ``T_0 (T_mult**i - 1) /
    (T_mult - 1)`` (``i * T_0`` when ``T_mult == 1``); within it the lr is
    ``eta_min + (lr - eta_min) (1 + cos(pi T_cur / T_i)) / 2``. The cycle of a
    count is found by comparing it with the precomputed cycle starts (exact
    integers), not with a float logarithm.

    Args:
        lr: initial (maximum) learning rate, ``>= 0``.
        T_0: length of the first cycle, a positive int.
        T_mult: growth factor of the cycle length, an int ``>= 1``.
        eta_min: minimum learning rate (a float or int).

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``), exact for
        counts below 2**24.

    Raises:
        ValueError: torch's messages: ``Expected positive integer T_0, but got 0``,
            ``Expected integer T_mult >= 1, but got 0``, a non-number ``eta_min``.

    Example:
        >>> from jtoolkit.schedules import cosine_annealing_warm_restarts
        >>> schedule = cosine_annealing_warm_restarts(1.0, T_0=2, T_mult=2)
        >>> [round(v, 4) for v in schedule(jnp.arange(7)).tolist()]
        [1.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0]
    """
    lr = check_positive("lr", lr, fn="cosine_annealing_warm_restarts", allow_zero=True)
    if not isinstance(T_0, int) or isinstance(T_0, bool) or T_0 <= 0:
        raise ValueError(f"Expected positive integer T_0, but got {T_0}")
    if not isinstance(T_mult, int) or isinstance(T_mult, bool) or T_mult < 1:
        raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
    if not isinstance(eta_min, (float, int)):
        raise ValueError(
            f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}"
        )
    eta_min = float(eta_min)
    if T_mult == 1:
        period = np.float32(T_0)

        def periodic(count: ArrayLike) -> jax.Array:
            t_cur = jnp.mod(as_count(count), period)
            return cos_mix(lr, eta_min, t_cur / period, (period - t_cur) / period)

        return periodic
    starts, lengths = [0], [T_0]
    while starts[-1] + lengths[-1] < _LIMIT:
        starts.append(starts[-1] + lengths[-1])
        lengths.append(lengths[-1] * T_mult)
    start_arr = np.asarray(starts, np.float32)
    length_arr = np.asarray(lengths, np.float32)

    def schedule(count: ArrayLike) -> jax.Array:
        t = as_count(count)
        cycle = jnp.sum(t[..., None] >= start_arr[1:], axis=-1)
        t_cur = t - jnp.asarray(start_arr)[cycle]
        t_i = jnp.asarray(length_arr)[cycle]
        return cos_mix(lr, eta_min, t_cur / t_i, (t_i - t_cur) / t_i)

    return LRSchedule(schedule, lr)


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

    return LRSchedule(schedule, lr)


def swa_lr(
    lr: float, swa_lr: float, anneal_epochs: int = 10, anneal_strategy: str = "cos"
) -> Schedule:
    """Anneal from ``lr`` to ``swa_lr`` in ``anneal_epochs`` steps, then hold it.

    torch: ``torch.optim.swa_utils.SWALR(optimizer, swa_lr, anneal_epochs,
    anneal_strategy)`` with the optimizer's lr ``lr``. torch's recursion
    reconstructs the start lr at every step; its closed form is
    ``swa_lr * a(t) + lr * (1 - a(t))`` with ``a(t) = t / anneal_epochs``
    ("linear") or ``(1 - cos(pi t / anneal_epochs)) / 2`` ("cos"), ``t`` clipped to
    ``anneal_epochs``; ``anneal_epochs=0`` gives ``swa_lr`` from count 0.

    Args:
        lr: the optimizer's learning rate when SWALR starts, ``>= 0``.
        swa_lr: the lr annealed to and held, ``>= 0``.
        anneal_epochs: length of the annealing in scheduler steps, an int ``>= 0``.
        anneal_strategy: ``"cos"`` or ``"linear"``.

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``).

    Raises:
        ValueError: torch's messages for ``anneal_strategy`` and ``anneal_epochs``;
            a negative lr.

    Example:
        >>> from jtoolkit.schedules import swa_lr
        >>> schedule = swa_lr(1.0, 0.2, anneal_epochs=4, anneal_strategy="linear")
        >>> [round(v, 4) for v in schedule(jnp.arange(6)).tolist()]
        [1.0, 0.8, 0.6, 0.4, 0.2, 0.2]
    """
    start = check_positive("lr", lr, fn="swa_lr", allow_zero=True)
    end = check_real("swa_lr", swa_lr, fn="swa_lr")
    mix = anneal_mix(anneal_strategy, fn="swa_lr")
    if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
        raise ValueError(
            f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}"
        )
    if anneal_epochs == 0:
        return LRSchedule(
            lambda count: jnp.full(jnp.shape(count), end, jnp.float32), lr
        )
    total = np.float32(anneal_epochs)

    def schedule(count: ArrayLike) -> jax.Array:
        done = jnp.clip(as_count(count), 0, total)
        return mix(start, end, done / total, (total - done) / total)

    return LRSchedule(schedule, lr)
