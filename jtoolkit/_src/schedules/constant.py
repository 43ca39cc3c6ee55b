"""torch's ``ConstantLR`` and ``PolynomialLR`` as closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_int, check_positive
from jtoolkit._src.schedules.numerics import Schedule, as_count

__all__ = ["constant_lr", "polynomial_lr"]


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
        return lambda count: jnp.full(jnp.shape(count), low, jnp.float32)
    end = np.float32(total_iters)

    def schedule(count: ArrayLike) -> jax.Array:
        return jnp.where(as_count(count) >= end, high, low)

    return schedule


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
        return lambda count: jnp.full(jnp.shape(count), lr, jnp.float32)
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

    return schedule
