"""torch's ``CyclicLR`` as a closed form, with its momentum twin.

torch's ``CyclicLR`` (like ``OneCycleLR``, in ``one_cycle.py``) also cycles the
optimizer's ``momentum`` (SGD, RMSprop) or ``betas[0]`` (Adam family) inversely to
the learning rate; ``cyclic_momentum`` returns that second schedule, to pass as
``momentum=`` or ``betas=(twin, b2)`` to ``jtoolkit.optim``.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_choice, check_positive
from jtoolkit._src.schedules.numerics import (
    Schedule,
    as_count,
    power,
)

__all__ = ["cyclic_lr", "cyclic_momentum"]


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
    up = check_positive("step_size_up", step_size_up, fn=fn)
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
        gamma = check_positive("gamma", gamma, fn=fn)
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
    base_lr = check_positive("base_lr", base_lr, fn="cyclic_lr", allow_zero=True)
    max_lr = check_positive("max_lr", max_lr, fn="cyclic_lr", allow_zero=True)
    height = _cyclic_height(
        step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode, fn="cyclic_lr"
    )

    def schedule(count: ArrayLike) -> jax.Array:
        return np.float32(base_lr) + np.float32(max_lr - base_lr) * height(count)

    return schedule


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
    with ``momentum=0``. Arguments shared with :func:`cyclic_lr` mean the same.

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
    top, bottom = float(max_momentum), float(base_momentum)

    def schedule(count: ArrayLike) -> jax.Array:
        return np.float32(top) - np.float32(top - bottom) * height(count)

    return schedule
