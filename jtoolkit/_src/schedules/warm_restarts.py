"""torch's ``CosineAnnealingWarmRestarts`` as a closed form (any ``T_mult``)."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_positive
from jtoolkit._src.schedules.numerics import Schedule, as_count, cos_mix

__all__ = ["cosine_annealing_warm_restarts"]

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

    return schedule
