"""torch's ``OneCycleLR`` and its momentum twin, closed-form."""

import math

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

__all__ = ["one_cycle_lr", "one_cycle_momentum"]


class ZeroDivisionArgumentError(ZeroDivisionError, ValueError):
    """An argument torch's OneCycleLR divides by zero with (``div_factor=0``,
    ``final_div_factor=0``, ``pct_start * total_steps == 1``): torch's type,
    ZeroDivisionError, and also a ValueError, as a bad argument."""


def _divisor(name: str, value: float, fn: str = "one_cycle_lr") -> float:
    """A divisor: 0 raises torch's ZeroDivisionError, a negative one ValueError."""
    if value == 0:
        raise ZeroDivisionArgumentError(
            f"{fn}: {name} must be > 0, got {value!r} (torch divides by it)"
        )
    return check_positive(name, value, fn=fn)


def _one_cycle_ends(
    total_steps: int | None,
    epochs: int | None,
    steps_per_epoch: int | None,
    pct_start: float,
    three_phase: bool,
    *,
    fn: str,
) -> tuple[int, list[float]]:
    """Validate torch's OneCycleLR arguments; return total steps and phase end steps."""
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
        return total, [first, float(2 * pct_start * total) - 2, total - 1.0]
    return total, [first, total - 1.0]


def _split(value: float) -> tuple[np.float32, np.float32]:
    """An end step as (integer part, fraction), so ``end - count`` loses nothing."""
    whole = math.floor(value)
    return np.float32(whole), np.float32(value - whole)


def _phased(
    total: int, ends: list[float], points: list[tuple[float, float]], anneal: str
) -> Schedule:
    """Interpolate ``points[i] = (start, end)`` over phase ``i``, torch's phase rule."""
    mix = cos_mix if anneal == "cos" else linear_mix

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


def _check_anneal(anneal_strategy: str) -> str:
    if anneal_strategy not in ("cos", "linear"):
        raise ValueError(
            "anneal_strategy must be one of 'cos' or 'linear', instead got "
            f"{anneal_strategy!r}"
        )
    return anneal_strategy


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
    max_lr = check_positive("max_lr", max_lr, fn="one_cycle_lr", allow_zero=True)
    initial = max_lr / _divisor("div_factor", div_factor)
    final = initial / _divisor("final_div_factor", final_div_factor)
    total, ends = _one_cycle_ends(
        total_steps, epochs, steps_per_epoch, pct_start, three_phase, fn="one_cycle_lr"
    )
    points = [(initial, max_lr), (max_lr, final)]
    if three_phase:
        points = [(initial, max_lr), (max_lr, initial), (initial, final)]
    return _phased(total, ends, points, _check_anneal(anneal_strategy))


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
    ``max_momentum`` at the end. Arguments shared with :func:`one_cycle_lr` mean
    the same.

    Args:
        total_steps, epochs, steps_per_epoch, pct_start: as in :func:`one_cycle_lr`.
        anneal_strategy, three_phase: as in :func:`one_cycle_lr`.
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
    total, ends = _one_cycle_ends(
        total_steps,
        epochs,
        steps_per_epoch,
        pct_start,
        three_phase,
        fn="one_cycle_momentum",
    )
    top, bottom = float(max_momentum), float(base_momentum)
    points = [(top, bottom), (bottom, top)]
    if three_phase:
        points = [(top, bottom), (bottom, top), (top, top)]
    return _phased(total, ends, points, _check_anneal(anneal_strategy))
