"""The lr state of an optimizer whose update is not ``-lr * something``.

ASGD, Rprop and Adafactor use the learning rate inside their formula (``eta``,
the initial step size, ``min(lr, 1/sqrt(t))``), so ``scale_by_torch_lr`` cannot be
the last link of their chain. They keep the same lr state nested in their own
state instead, so ``current_lr``/``set_lr`` find it as they find any other.
"""

from __future__ import annotations

from typing import cast

import jax
import jax.numpy as jnp

from jtoolkit._src.optim.lr import LearningRateState, ScheduledLearningRateState
from jtoolkit._src.optim.schedulable import Schedulable, zero_count

__all__ = ["lr_state_init", "lr_state_read"]


def lr_state_init(lr: Schedulable) -> LearningRateState | ScheduledLearningRateState:
    """The lr state before any update (a schedule is evaluated at count 0)."""
    if callable(lr):
        count = zero_count()
        return ScheduledLearningRateState(count, jnp.asarray(lr(count), jnp.float32))
    return LearningRateState(jnp.asarray(lr, jnp.float32))


def lr_state_read(
    lr: Schedulable, state: LearningRateState | ScheduledLearningRateState
) -> tuple[jax.Array, LearningRateState | ScheduledLearningRateState]:
    """The lr this update uses (torch's ``group["lr"]``) and the next lr state."""
    if callable(lr):
        count = cast(ScheduledLearningRateState, state).count  # a schedule's state
        lr_t = jnp.asarray(lr(count), jnp.float32)
        return lr_t, ScheduledLearningRateState(count + 1, lr_t)
    return state.lr, state
