"""k optimizer steps in one dispatch: ``lax.scan`` of the update over stacked batches.

Keras's ``steps_per_execution``: a small model's step is dominated by the cost of
dispatching it from Python, so ``k`` steps run inside one jitted call. Each scanned
step is exactly the single step (same key split, same NaN guard); a step whose
``valid`` flag is False (a filler at the end of an epoch) leaves the state untouched.
The model is traced under ``conv_lowering.in_loop()``: XLA's CPU convolution
gradients need an explicit layout inside a ``while`` body (else 25x slower).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jtoolkit._src.nn.conv_lowering import in_loop

__all__ = ["repeat_update"]


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

        with in_loop():
            return jax.lax.scan(body, state, (batches, mask, valid), length=steps)

    return multi
