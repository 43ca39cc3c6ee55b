"""torch's ``ChainedScheduler``: schedulers stepped together multiply their factors."""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_positive
from jtoolkit._src.schedules.numerics import Schedule

__all__ = ["chained_scheduler"]


def chained_scheduler(
    schedules: Sequence[Schedule], base_lr: float | None = None
) -> Schedule:
    """The product of schedules, the closed form of torch's ``ChainedScheduler``.

    torch: ``torch.optim.lr_scheduler.ChainedScheduler(schedulers)`` steps every
    scheduler on the same optimizer each step; each one's recursive update
    multiplies the shared lr by its own factor, so the lr is ``base_lr`` times the
    product of each scheduler's factor ``s_i(t) / base_lr``. Two ways to write it:

    * ``base_lr=None`` (default): the values are multiplied as given, so build the
      first schedule with the base lr and the others with ``lr=1.0`` (as factors):
      ``chained_scheduler([constant_lr(0.1, 0.5, 2), exponential_lr(1.0, 0.9)])``.
    * ``base_lr=lr``: every schedule is built with ``lr`` (as torch's schedulers
      all read the optimizer's lr) and the result is
      ``lr * prod(s_i(t) / lr)``.

    This equals torch for schedulers whose recursive step is a multiplication
    (StepLR, MultiStepLR, ExponentialLR, ConstantLR, LinearLR, PolynomialLR,
    MultiplicativeLR). Chaining torch schedulers that set the lr from their own
    base (LambdaLR, CosineAnnealingLR, CyclicLR, OneCycleLR, SequentialLR) gives
    history-dependent values that are no product of closed forms; they are not
    supported here.

    Args:
        schedules: one or more schedules ``count -> lr``.
        base_lr: None, or the lr every schedule was built with (``> 0``).

    Returns:
        A schedule ``count -> lr`` (float32, shaped like ``count``).

    Raises:
        ValueError: no schedules (torch's message), ``base_lr <= 0``.

    Example:
        >>> from jtoolkit.schedules import chained_scheduler, constant_lr
        >>> from jtoolkit.schedules import exponential_lr
        >>> schedule = chained_scheduler(
        ...     [constant_lr(1.0, factor=0.5, total_iters=2), exponential_lr(1.0, 0.5)],
        ...     base_lr=1.0)
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

    def schedule(count: ArrayLike) -> jax.Array:
        value = jnp.asarray(schedules[0](count), jnp.float32)
        for later in schedules[1:]:
            factor = jnp.asarray(later(count), jnp.float32)
            if base_lr is not None:
                factor = factor / np.float32(base_lr)
            value = value * factor
        return value

    return schedule
