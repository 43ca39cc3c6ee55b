"""MeanSquaredError and MeanAbsoluteError: a running sum of errors and a count.

torch: ``torchmetrics.MeanSquaredError(squared=True, num_outputs=1)`` and
``torchmetrics.MeanAbsoluteError(num_outputs=1)``. With ``num_outputs=1`` every
element counts once; with ``num_outputs=k`` preds/target are ``[N, k]`` and the
result has one value per output. ``squared=False`` gives the root of the mean.
``update`` and ``compute`` are one program each per (metric, configuration, shapes).

Example:
    >>> from jtoolkit.metrics import MeanSquaredError
    >>> mse = MeanSquaredError()
    >>> s = mse.update(mse.init(), jnp.array([1.0, 2.0]), jnp.array([0.0, 4.0]))
    >>> float(mse.compute(s))
    2.5
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_bool, check_int, shape_str
from jtoolkit._src.metrics.protocol import (
    as_operand,
    filled,
    merge_states,
    merge_sum,
    row_weights,
)

__all__ = ["ErrorSum", "MeanAbsoluteError", "MeanSquaredError"]


class ErrorSum(NamedTuple):
    """Sum of errors (per output) and the number of elements summed."""

    total: jax.Array
    count: jax.Array


@functools.partial(jax.jit, static_argnames=("error", "per_output"))
def _update(state, preds, target, mask, *, error: Callable, per_output: bool):
    """``state`` plus one batch's sum of ``error(preds - target)`` and count."""
    preds = jnp.asarray(preds, jnp.float32)
    target = jnp.asarray(target, jnp.float32)
    n = preds.shape[0] if preds.ndim else 1
    w = row_weights(mask, n).astype(jnp.float32)
    err = error(preds - target).reshape(n, -1) * w[:, None]
    if per_output:
        total, per_row = jnp.sum(err, 0), 1
    else:
        total, per_row = jnp.sum(err), err.shape[1]
    count = jnp.sum(w).astype(jnp.int32) * per_row
    return merge_sum(state, ErrorSum(total, count))


@functools.partial(jax.jit, static_argnames="root")
def _compute(state: ErrorSum, *, root: bool) -> jax.Array:
    mean = state.total / state.count
    return jnp.sqrt(mean) if root else mean


@dataclasses.dataclass(frozen=True)
class _MeanError:
    """Shared update/merge of the error means (fields live in the subclasses)."""

    num_outputs: int

    def __post_init__(self) -> None:
        check_int("num_outputs", self.num_outputs, fn=type(self).__name__, minimum=1)

    def init(self) -> ErrorSum:
        """Zero sums."""
        shape = () if self.num_outputs == 1 else (self.num_outputs,)
        return ErrorSum(*filled((shape, "float32", 0), ((), "int32", 0)))

    def update(
        self,
        state: ErrorSum,
        preds: ArrayLike,
        target: ArrayLike,
        mask: ArrayLike | None = None,
    ) -> ErrorSum:
        """``state`` plus this batch's error sum (rows with ``mask`` False skipped)."""
        preds, target = as_operand(preds), as_operand(target)
        if np.shape(preds) != np.shape(target):
            raise ValueError(
                f"{type(self).__name__}: preds and target must have the same shape, "
                f"got {shape_str(np.shape(preds))} and {shape_str(np.shape(target))}"
            )
        return _update(
            state,
            preds,
            target,
            as_operand(mask),
            error=type(self)._error,
            per_output=self.num_outputs > 1,
        )

    def merge(self, a: ErrorSum, b: ErrorSum) -> ErrorSum:
        """The sums of both states."""
        return merge_states(a, b)

    def compute(self, state: ErrorSum) -> jax.Array:
        """The mean error (per output)."""
        return _compute(state, root=False)

    @staticmethod
    def _error(diff: jax.Array) -> jax.Array:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class MeanSquaredError(_MeanError):
    """Mean squared error (``squared=False``: its root).

    torch: ``torchmetrics.MeanSquaredError(squared=True, num_outputs=1)``.

    Example:
      >>> from jtoolkit.metrics import MeanSquaredError
      >>> m = MeanSquaredError(squared=False)
      >>> float(m.compute(m.update(m.init(), jnp.array([3.0]), jnp.array([0.0]))))
      3.0
    """

    squared: bool = True
    num_outputs: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_bool("squared", self.squared, fn="MeanSquaredError")

    @staticmethod
    def _error(diff: jax.Array) -> jax.Array:
        return diff * diff

    def compute(self, state: ErrorSum) -> jax.Array:
        """The mean (or root mean) squared error."""
        return _compute(state, root=not self.squared)


@dataclasses.dataclass(frozen=True)
class MeanAbsoluteError(_MeanError):
    """Mean absolute error.

    torch: ``torchmetrics.MeanAbsoluteError(num_outputs=1)``.

    Example:
      >>> from jtoolkit.metrics import MeanAbsoluteError
      >>> m = MeanAbsoluteError()
      >>> float(m.compute(m.update(m.init(), jnp.array([3.0, -1.0]), jnp.zeros(2))))
      2.0
    """

    num_outputs: int = 1

    @staticmethod
    def _error(diff: jax.Array) -> jax.Array:
        return jnp.abs(diff)
