"""torch's ``CyclicLR`` and ``OneCycleLR``, closed-form, with their momentum twins.

torch cycles the momentum (or Adam's ``beta1``) inversely to the lr; here that is
a second schedule, ``cyclic_momentum``/``one_cycle_momentum``, to pass to
``jtoolkit.optim`` as ``momentum=`` or ``betas=(twin, b2)``.
"""

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_choice, check_int, check_positive
from jtoolkit._src.schedules.numerics import (
    Schedule,
    ZeroDivisionArgumentError,
    anneal_mix,
    as_count,
    check_divisor,
    check_real,
    power,
)

__all__ = ["cyclic_lr", "cyclic_momentum", "one_cycle_lr", "one_cycle_momentum"]


_CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


def _cyclic_height(
    step_size_up: float,
    step_size_down: float | None,
    mode: str,
    gamma: float,
    scale_fn: Callable[[jax.Array], ArrayLike] | None,
    scale_mode: str,
    *,
    fn: str,
) -> Schedule:
    """The fraction of the way from base to max at each count (triangle x scale)."""
    up = check_divisor("step_size_up", step_size_up, fn=fn)
    down = up
    if step_size_down is not None:
        down = check_positive("step_size_down", step_size_down, fn=fn, allow_zero=True)
    if scale_fn is None and mode not in _CYCLIC_MODES:
        raise ValueError(
            f"mode is invalid and scale_fn is None: got mode={mode!r}, expected one "
            f"of {_CYCLIC_MODES} or a scale_fn"
        )
    if scale_fn is None:
        scale_mode = "iterations" if mode == "exp_range" else "cycle"
    else:
        check_choice("scale_mode", scale_mode, ("cycle", "iterations"), fn=fn)
    if scale_fn is None and mode == "exp_range":
        gamma = check_real("gamma", gamma, fn=fn)
    total = up + down

    def scale(t: jax.Array, cycle: jax.Array) -> jax.Array:
        if scale_fn is not None:
            x = cycle if scale_mode == "cycle" else t
            return jnp.asarray(scale_fn(x), jnp.float32)
        if mode == "triangular2":
            return jnp.ldexp(np.float32(1), 1 - cycle.astype(jnp.int32))
        if mode == "exp_range":
            return power(gamma, t)
        return jnp.ones_like(t)

    def height(count: ArrayLike) -> jax.Array:
        t = as_count(count)
        cycle = jnp.floor_divide(t, np.float32(total)) + 1
        within = jnp.mod(t, np.float32(total))
        rising = within / np.float32(up)
        falling = (np.float32(total) - within) / np.float32(down if down > 0 else 1.0)
        return jnp.where(within <= up, rising, falling) * scale(t, cycle)

    return height


def _between(start: float, end: float, height: Schedule) -> Schedule:
    """``start + (end - start) * height(count)`` in float32."""
    return lambda count: np.float32(start) + np.float32(end - start) * height(count)


def cyclic_lr(
    base_lr: float,
    max_lr: float,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
    scale_fn: Callable[[jax.Array], ArrayLike] | None = None,
    scale_mode: str = "cycle",
) -> Schedule:
    """Cycle the lr between ``base_lr`` and ``max_lr`` (torch's three modes).

    torch: ``torch.optim.lr_scheduler.CyclicLR(optimizer, base_lr, max_lr, ...)``
    (optax has none). torch overwrites the optimizer's lr with ``base_lr``; here
    the schedule is the lr. Pair it with :func:`cyclic_momentum`, as torch cycles
    momentum by default (``cycle_momentum=True``).

    Args:
        base_lr: lower bound of the cycle, ``>= 0``.
        max_lr: upper bound reached after ``step_size_up`` steps, ``>= 0``.
        step_size_up: steps of the rising half, ``> 0``.
        step_size_down: steps of the falling half (default ``step_size_up``).
        mode: ``"triangular"``, ``"triangular2"`` (amplitude halves each cycle) or
            ``"exp_range"`` (amplitude times ``gamma**count``).
        gamma: the ``exp_range`` factor, ``> 0``.
        scale_fn: optional custom amplitude ``x -> scale`` written with jnp; it
            replaces ``mode`` and receives the 1-based cycle or the count.
        scale_mode: ``"cycle"`` or ``"iterations"``: what ``scale_fn`` receives.

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``).

    Raises:
        ValueError: non-positive ``step_size_up``, unknown ``mode``, ``gamma <= 0``
            for ``exp_range`` or a negative lr.

    Example:
        >>> schedule = cyclic_lr(0.0, 1.0, step_size_up=2, mode="triangular2")
        >>> [round(v, 4) for v in schedule(jnp.arange(9)).tolist()]
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.25, 0.5, 0.25, 0.0]
    """
    base_lr = check_real("base_lr", base_lr, fn="cyclic_lr")
    max_lr = check_real("max_lr", max_lr, fn="cyclic_lr")
    height = _cyclic_height(
        step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode, fn="cyclic_lr"
    )
    return _between(base_lr, max_lr, height)


def cyclic_momentum(
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
    scale_fn: Callable[[jax.Array], ArrayLike] | None = None,
    scale_mode: str = "cycle",
    base_momentum: float = 0.8,
    max_momentum: float = 0.9,
) -> Schedule:
    """The momentum (or Adam ``beta1``) torch's ``CyclicLR`` sets, inverse to the lr.

    torch: ``CyclicLR(..., cycle_momentum=True, base_momentum=0.8, max_momentum=0.9)``
    writes ``max_momentum - (max_momentum - base_momentum) * height`` into
    ``momentum`` (SGD) or ``betas[0]`` (Adam) at every step, even for SGD built
    with ``momentum=0``.

    Args:
        step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode: as in
            :func:`cyclic_lr`.
        base_momentum: momentum at the lr peak.
        max_momentum: momentum at ``base_lr`` (count 0).

    Returns:
        A schedule ``count -> momentum`` (float32, shaped like ``count``).

    Raises:
        ValueError: as :func:`cyclic_lr`.

    Example:
        >>> schedule = cyclic_momentum(step_size_up=2)
        >>> [round(v, 4) for v in schedule(jnp.arange(5)).tolist()]
        [0.9, 0.85, 0.8, 0.85, 0.9]
    """
    height = _cyclic_height(
        step_size_up,
        step_size_down,
        mode,
        gamma,
        scale_fn,
        scale_mode,
        fn="cyclic_momentum",
    )
    return _between(float(max_momentum), float(base_momentum), height)


def _one_cycle_ends(
    total_steps: int | None,
    epochs: int | None,
    steps_per_epoch: int | None,
    pct_start: float,
    three_phase: bool,
    *,
    fn: str,
) -> list[float]:
    """Validate torch's OneCycleLR arguments; return the steps where phases end."""
    if total_steps is not None:
        total = check_int("total_steps", total_steps, fn=fn, minimum=1)
    elif epochs is not None and steps_per_epoch is not None:
        total = check_int("epochs", epochs, fn=fn, minimum=1)
        total *= check_int("steps_per_epoch", steps_per_epoch, fn=fn, minimum=1)
    else:
        raise ValueError(
            "You must define either total_steps OR (epochs AND steps_per_epoch), but "
            f"got {total_steps=}, {epochs=}, {steps_per_epoch=}"
        )
    if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
        raise ValueError(
            f"Expected float between 0 and 1 pct_start, but got {pct_start}"
        )
    first = float(pct_start * total) - 1
    if first == 0:
        raise ZeroDivisionArgumentError(
            f"pct_start * total_steps must not be 1 (a zero-length warm-up phase; "
            f"torch divides by zero), but got {pct_start=} and total_steps={total}"
        )
    if three_phase:
        return [first, float(2 * pct_start * total) - 2, total - 1.0]
    return [first, total - 1.0]


def _split(value: float) -> tuple[np.float32, np.float32]:
    """An end step as (integer part, fraction), so ``end - count`` loses nothing."""
    whole = math.floor(value)
    return np.float32(whole), np.float32(value - whole)


def _phased(
    ends: list[float], levels: tuple[float, float, float], mix: Callable
) -> Schedule:
    """``levels = (start, peak, final)``: start to peak, (back to start if three
    phases,) to final; phase ``i`` ends at ``ends[i]``, torch's phase rule."""
    start, peak, final = levels
    points = [(start, peak), (peak, final)]
    if len(ends) == 3:
        points = [(start, peak), (peak, start), (start, final)]

    def schedule(count: ArrayLike) -> jax.Array:
        # torch's last used lr is at count total - 1; its value at count total is
        # the last phase extrapolated (negative for "linear", rising for "cos") and
        # it raises after that: hold the final value instead.
        t = jnp.clip(as_count(count), 0, np.float32(ends[-1]))
        values = []
        for i, end in enumerate(ends):
            begin = 0.0 if i == 0 else ends[i - 1]
            length = np.float32(end - begin) if end != begin else np.float32(1)
            end_whole, end_frac = _split(end)
            begin_whole, begin_frac = _split(begin)
            done = ((t - begin_whole) - begin_frac) / length
            left = ((end_whole - t) + end_frac) / length
            values.append(mix(*points[i], done, left))
        value = values[-1]  # torch: the first phase whose end is >= t, else the last
        for end, phase in zip(ends[-2::-1], values[-2::-1], strict=True):
            value = jnp.where(t <= np.float32(end), phase, value)
        return value

    return schedule


def one_cycle_lr(
    max_lr: float,
    total_steps: int | None = None,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> Schedule:
    """The 1cycle policy: up from ``max_lr/div_factor`` to ``max_lr``, then down to ~0.

    torch: ``torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr, ...)``, with
    torch's phase ends ``pct_start*total - 1`` and ``total - 1`` (optax's
    ``cosine_onecycle_schedule`` peaks one step later). From count
    ``total_steps - 1`` on, the final lr ``max_lr / div_factor /
    final_div_factor`` holds (torch extrapolates the last phase at
    ``total_steps``, negative for "linear" and rising for "cos", then raises).
    ``pct_start`` must be a float in ``[0, 1]`` as in torch; ``pct_start=1.0``
    is a pure warm-up (the lr ends at ``max_lr`` and holds). Pair with
    :func:`one_cycle_momentum` (torch cycles momentum/beta1 by default).

    Args:
        max_lr: peak learning rate, ``>= 0``.
        total_steps: number of scheduler steps; or give ``epochs`` and
            ``steps_per_epoch`` (their product).
        epochs: number of epochs (with ``steps_per_epoch``).
        steps_per_epoch: steps per epoch (with ``epochs``).
        pct_start: fraction of the cycle spent increasing, in ``[0, 1]``.
        anneal_strategy: ``"cos"`` or ``"linear"``.
        div_factor: initial lr is ``max_lr / div_factor``, ``> 0``.
        final_div_factor: final lr is ``initial_lr / final_div_factor``, ``> 0``.
        three_phase: a third phase (back to initial, then to the final lr) as torch.

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``).

    Raises:
        ValueError: torch's messages for bad ``total_steps``/``epochs``/
            ``steps_per_epoch``/``pct_start`` (not a float in ``[0, 1]``)/
            ``anneal_strategy``; non-positive divisors.
        ZeroDivisionError: ``pct_start * total_steps == 1`` or a zero divisor
            (torch's type; the exception is also a ValueError).

    Example:
        >>> schedule = one_cycle_lr(1.0, total_steps=4, pct_start=0.5,
        ...                         anneal_strategy="linear", div_factor=4.0)
        >>> [round(v, 4) for v in schedule(jnp.arange(4)).tolist()]
        [0.25, 1.0, 0.5, 0.0]
    """
    max_lr = check_real("max_lr", max_lr, fn="one_cycle_lr")
    fn = "one_cycle_lr"
    initial = max_lr / check_divisor("div_factor", div_factor, fn=fn)
    final = initial / check_divisor("final_div_factor", final_div_factor, fn=fn)
    ends = _one_cycle_ends(
        total_steps, epochs, steps_per_epoch, pct_start, three_phase, fn=fn
    )
    return _phased(ends, (initial, max_lr, final), anneal_mix(anneal_strategy, fn=fn))


def one_cycle_momentum(
    total_steps: int | None = None,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    three_phase: bool = False,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
) -> Schedule:
    """The momentum (or Adam ``beta1``) torch's ``OneCycleLR`` sets, inverse to the lr.

    torch: ``OneCycleLR(..., cycle_momentum=True, base_momentum=0.85,
    max_momentum=0.95)`` writes it into ``momentum`` (SGD) or ``betas[0]`` (Adam):
    ``max_momentum`` at the start, ``base_momentum`` at the lr peak, back to
    ``max_momentum`` at the end.

    Args:
        total_steps: as in :func:`one_cycle_lr`; so are ``epochs``,
            ``steps_per_epoch``, ``pct_start``, ``anneal_strategy`` and
            ``three_phase``.
        base_momentum: momentum at the lr peak.
        max_momentum: momentum at the start and end.

    Returns:
        A schedule ``count -> momentum`` (float32, shaped like ``count``).

    Raises:
        ValueError: as :func:`one_cycle_lr`.

    Example:
        >>> schedule = one_cycle_momentum(total_steps=4, pct_start=0.5,
        ...                               anneal_strategy="linear")
        >>> [round(v, 4) for v in schedule(jnp.arange(4)).tolist()]
        [0.95, 0.85, 0.9, 0.95]
    """
    fn = "one_cycle_momentum"
    ends = _one_cycle_ends(
        total_steps, epochs, steps_per_epoch, pct_start, three_phase, fn=fn
    )
    top, bottom = float(max_momentum), float(base_momentum)
    return _phased(ends, (top, bottom, top), anneal_mix(anneal_strategy, fn=fn))
