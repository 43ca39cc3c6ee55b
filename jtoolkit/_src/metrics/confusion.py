"""ConfusionMatrix: counts of (target, prediction) pairs, mergeable by addition.

torch: ``torchmetrics.ConfusionMatrix(task, threshold=0.5, num_classes=None,
num_labels=None, normalize=None, ignore_index=None, validate_args=True)``. Rows are
targets, columns predictions; binary gives ``[[tn, fp], [fn, tp]]``, multilabel one
such 2x2 matrix per label (``[L, 2, 2]``). ``normalize`` "true" divides each row by
its sum, "pred" each column, "all" the whole matrix; a 0/0 gives 0 (torchmetrics
replaces the NaN by 0 and warns; a jitted compute cannot warn).

``update`` is one program per (task, class count, input shapes), whatever
``threshold`` and ``ignore_index``; ``compute`` one per ``normalize``.

Example:
    >>> from jtoolkit.metrics import ConfusionMatrix
    >>> cm = ConfusionMatrix(task="multiclass", num_classes=3)
    >>> s = cm.update(cm.init(), jnp.array([0, 2, 1, 1]), jnp.array([0, 1, 1, 2]))
    >>> cm.compute(s).tolist()
    [[1, 0, 0], [0, 1, 1], [0, 1, 0]]
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_choice
from jtoolkit._src.metrics.protocol import (
    as_operand,
    check_classes,
    check_leading,
    check_task,
    filled,
    ignore_spec,
    ignored,
    merge_states,
    row_weights,
    safe_divide,
)
from jtoolkit._src.metrics.stat_scores import (
    binary_counts,
    check_multiclass,
    multiclass_labels,
    multilabel_counts,
)

__all__ = ["ConfusionMatrix"]


def _two_by_two(tp, fp, tn, fn) -> jax.Array:
    return jnp.stack([jnp.stack([tn, fp], -1), jnp.stack([fn, tp], -1)], -2)


@functools.partial(jax.jit, static_argnames=("task", "num_classes"))
def _update(state, preds, target, mask, threshold, ignore, *, task, num_classes):
    """``state`` plus one batch's counts (``threshold`` and ``ignore`` traced)."""
    preds, target = jnp.asarray(preds), jnp.asarray(target)
    w = row_weights(mask, target.shape[0])
    if task == "binary":
        return state + _two_by_two(*binary_counts(preds, target, w, threshold, ignore))
    if task == "multilabel":
        args = (preds, target, w, threshold, ignore)
        return state + _two_by_two(*multilabel_counts(*args))
    label, t = multiclass_labels(preds, target, 1)
    rows = jnp.repeat(w, t.shape[0] // target.shape[0]) * ~ignored(t, ignore)
    true = jax.nn.one_hot(t, num_classes, dtype=jnp.int32) * rows[:, None]
    pred = jax.nn.one_hot(label, num_classes, dtype=jnp.int32)
    return state + true.T @ pred


@functools.partial(jax.jit, static_argnames="normalize")
def _compute(state: jax.Array, *, normalize: str) -> jax.Array:
    axes = {"true": (-1,), "pred": (-2,), "all": (-2, -1)}[normalize]
    return safe_divide(state, jnp.sum(state, axes, keepdims=True))


@dataclasses.dataclass(frozen=True)
class ConfusionMatrix:
    """Confusion matrix (rows: target, columns: prediction); see the module doc.

    Args:
      task: "binary", "multiclass" or "multilabel".
      threshold: probability cut for binary/multilabel float preds.
      num_classes / num_labels: class count (multiclass) / label count (multilabel).
      normalize: None/"none", "true", "pred" or "all".
      ignore_index: target value whose rows are left out.

    Returns (compute):
      int32 counts ``[2, 2]``, ``[C, C]`` or ``[L, 2, 2]``; float32 when normalized.
    """

    task: str
    threshold: float = 0.5
    num_classes: int | None = None
    num_labels: int | None = None
    normalize: str | None = None
    ignore_index: int | None = None
    validate_args: bool = True

    def __post_init__(self) -> None:
        check_task(self.task, "ConfusionMatrix")
        check_classes(self.task, self.num_classes, self.num_labels, "ConfusionMatrix")
        choices = ("true", "pred", "all", "none", None)
        check_choice("normalize", self.normalize, choices, fn="ConfusionMatrix")

    def init(self) -> jax.Array:
        """Zero counts."""
        shape = {"binary": (2, 2), "multiclass": (self.num_classes,) * 2}
        (counts,) = filled((shape.get(self.task, (self.num_labels, 2, 2)), "int32", 0))
        return counts

    def update(
        self,
        state: jax.Array,
        preds: ArrayLike,
        target: ArrayLike,
        mask: ArrayLike | None = None,
    ) -> jax.Array:
        """``state`` plus this batch's counts (rows with ``mask`` False skipped)."""
        preds, target = as_operand(preds), as_operand(target)
        check_leading(preds, target, "ConfusionMatrix")
        multiclass = self.task == "multiclass"
        if multiclass:
            check_multiclass(preds, target, 1, "ConfusionMatrix")
        return _update(
            state,
            preds,
            target,
            as_operand(mask),
            float(self.threshold),
            ignore_spec(self.ignore_index),
            task=self.task,
            num_classes=self.num_classes if multiclass else None,
        )

    def merge(self, a: jax.Array, b: jax.Array) -> jax.Array:
        """The counts of both states."""
        return merge_states(a, b)

    def compute(self, state: jax.Array) -> jax.Array:
        """The (optionally normalized) matrix."""
        if self.normalize in (None, "none"):
            return state
        return _compute(state, normalize=self.normalize)
