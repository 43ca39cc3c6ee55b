"""ConfusionMatrix: counts of (target, prediction) pairs, mergeable by addition.

torch: ``torchmetrics.ConfusionMatrix(task, threshold=0.5, num_classes=None,
num_labels=None, normalize=None, ignore_index=None, validate_args=True)``. Rows are
targets, columns predictions; binary gives ``[[tn, fp], [fn, tp]]``, multilabel one
such 2x2 matrix per label (``[L, 2, 2]``). ``normalize`` "true" divides each row by
its sum, "pred" each column, "all" the whole matrix; a 0/0 gives 0 (torchmetrics
replaces the NaN by 0 and warns; a jitted compute cannot warn).

Example:
    >>> from jtoolkit.metrics import ConfusionMatrix
    >>> cm = ConfusionMatrix(task="multiclass", num_classes=3)
    >>> s = cm.update(cm.init(), jnp.array([0, 2, 1, 1]), jnp.array([0, 1, 1, 2]))
    >>> cm.compute(s).tolist()
    [[1, 0, 0], [0, 1, 1], [0, 1, 0]]
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_choice
from jtoolkit._src.metrics.protocol import (
    check_classes,
    check_leading,
    check_task,
    row_weights,
    safe_divide,
)
from jtoolkit._src.metrics.stat_scores import (
    binary_counts,
    multiclass_labels,
    multilabel_counts,
)

__all__ = ["ConfusionMatrix"]


def _two_by_two(tp, fp, tn, fn) -> jax.Array:
    return jnp.stack([jnp.stack([tn, fp], -1), jnp.stack([fn, tp], -1)], -2)


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
        return jnp.zeros(shape.get(self.task, (self.num_labels, 2, 2)), jnp.int32)

    def update(
        self,
        state: jax.Array,
        preds: ArrayLike,
        target: ArrayLike,
        mask: ArrayLike | None = None,
    ) -> jax.Array:
        """``state`` plus this batch's counts (rows with ``mask`` False skipped)."""
        preds, target = jnp.asarray(preds), jnp.asarray(target)
        check_leading(preds, target, "ConfusionMatrix")
        w = row_weights(mask, target.shape[0])
        if self.task == "binary":
            args = (preds, target, w, self.threshold, self.ignore_index)
            return state + _two_by_two(*binary_counts(*args))
        if self.task == "multilabel":
            args = (preds, target, w, self.threshold, self.ignore_index)
            return state + _two_by_two(*multilabel_counts(*args))
        label, t = multiclass_labels(preds, target, 1, "ConfusionMatrix")
        rows = jnp.repeat(w, t.shape[0] // target.shape[0])
        if self.ignore_index is not None:
            rows = rows * (t != self.ignore_index)
        classes = int(self.num_classes or 0)  # set for multiclass (checked at build)
        true = jax.nn.one_hot(t, classes, dtype=jnp.int32) * rows[:, None]
        pred = jax.nn.one_hot(label, classes, dtype=jnp.int32)
        return state + true.T @ pred

    def merge(self, a: jax.Array, b: jax.Array) -> jax.Array:
        """The counts of both states."""
        return a + b

    def compute(self, state: jax.Array) -> jax.Array:
        """The (optionally normalized) matrix."""
        if self.normalize in (None, "none"):
            return state
        axes = {"true": (-1,), "pred": (-2,), "all": (-2, -1)}[self.normalize]
        return safe_divide(state, jnp.sum(state, axes, keepdims=True))
