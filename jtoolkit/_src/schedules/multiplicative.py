"""torch's ``MultiplicativeLR``: ``lr * prod_{k=1..t} lr_lambda(k)``, pure in ``t``."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_positive
from jtoolkit._src.schedules.numerics import Schedule

__all__ = ["multiplicative_lr"]


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

    return schedule
