"""k optimizer steps in one dispatch: ``lax.scan`` of the update over stacked batches.

Keras's ``steps_per_execution``: a small model's step is dominated by the cost of
dispatching it from Python, so ``k`` steps run inside one jitted call. Each scanned
step is exactly the single step (same key split, same NaN guard); a group shorter
than ``k`` (the end of an epoch) is filled with copies of its last batch whose
``valid`` flag is False, and those steps leave the state untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["repeat_update", "stack_group"]


def repeat_update(update: Callable, steps: int) -> Callable:
    """``multi(state, batches, mask=None, valid=None) -> (state, metrics)``.

    ``batches`` (and ``mask``) carry a leading axis of ``steps``; ``valid`` (bool,
    shape ``(steps,)``) marks the steps that run; ``metrics`` are stacked per step.
    """

    def multi(state: Any, batches: Any, mask: Any = None, valid: Any = None):
        if valid is None:
            valid = jnp.ones((steps,), bool)

        def body(carry, xs):
            batch, m, ok = xs
            shape = jax.eval_shape(update, carry, batch, m)[1]

            def skip(c):  # a filler step: state untouched, metrics zero
                zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shape)
                return c, zeros

            return jax.lax.cond(ok, lambda c: update(c, batch, m), skip, carry)

        return jax.lax.scan(body, state, (batches, mask, valid), length=steps)

    return multi


def stack_group(batches: list[Any], masks: list[Any], steps: int):
    """Stack up to ``steps`` batches (and masks) on a new leading axis.

    A short group is filled with copies of its last batch; returns ``(stacked
    batch, stacked mask or None, valid flags)``. numpy leaves are stacked
    on the host, ``jax.Array`` leaves on their device.

    Example:
        >>> b, m, v = stack_group([np.zeros(2), np.ones(2)], [None, None], 3)
        >>> b.shape, m, v.tolist()
        ((3, 2), None, [True, True, False])
    """
    real = len(batches)
    filled = batches + [batches[-1]] * (steps - real)
    mfilled = masks + [masks[-1]] * (steps - real)

    def stack(*leaves):
        if isinstance(leaves[0], jax.Array):
            return jnp.stack(leaves)
        return np.stack([np.asarray(x) for x in leaves])

    batch = jax.tree.map(stack, *filled)
    mask = None if mfilled[0] is None else stack(*mfilled)
    return batch, mask, np.arange(steps) < real
