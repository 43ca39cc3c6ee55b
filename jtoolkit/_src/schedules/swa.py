"""torch's ``SWALR`` (stochastic weight averaging lr) as a closed form."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_positive
from jtoolkit._src.schedules.numerics import Schedule, as_count, cos_mix, linear_mix

__all__ = ["swa_lr"]


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
    end = check_positive("swa_lr", swa_lr, fn="swa_lr", allow_zero=True)
    if anneal_strategy not in ["cos", "linear"]:
        raise ValueError(
            "anneal_strategy must be one of 'cos' or 'linear', "
            f"instead got {anneal_strategy}"
        )
    if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
        raise ValueError(
            f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}"
        )
    if anneal_epochs == 0:
        return lambda count: jnp.full(jnp.shape(count), end, jnp.float32)
    total = np.float32(anneal_epochs)
    mix = cos_mix if anneal_strategy == "cos" else linear_mix

    def schedule(count: ArrayLike) -> jax.Array:
        done = jnp.clip(as_count(count), 0, total)
        return mix(start, end, done / total, (total - done) / total)

    return schedule
