"""Accuracy, Precision, Recall and F1Score: one family on true/false positive counts.

torch: ``torchmetrics.Accuracy / Precision / Recall / F1Score`` (the task wrappers,
``multidim_average="global"``). The state holds per-class (multiclass), per-label
(multilabel) or scalar (binary) counts ``tp, fp, tn, fn`` (int32), so two states
merge by addition and ``compute`` applies torchmetrics' averaging:

* ``"micro"`` sums the counts over classes first; ``"macro"`` averages the per-class
  scores, leaving out (multiclass) classes absent from both preds and target
  (``tp + fp + fn == 0``; with ``top_k > 1``: absent from target); ``"weighted"``
  weights by support ``tp + fn``; ``"none"``/``None`` returns the per-class vector.
* Float preds outside [0, 1] go through a sigmoid (binary, multilabel) before the
  ``threshold``; multiclass float preds are scores over ``dim=1`` (argmax, or
  torchmetrics' top-k rule: a hit if the target is among the ``top_k`` best).
* Rows whose target is ``ignore_index``, and rows with ``mask == False``, count
  nowhere. A 0/0 gives ``zero_division`` (0 by default), as torchmetrics.

``update`` is one program per (task, class count, ``top_k``, input shapes), shared
by the four metrics and by every ``threshold``/``ignore_index``; ``compute`` one per
(metric, task, ``average``).

Example:
    >>> from jtoolkit.metrics import Accuracy
    >>> acc = Accuracy(task="multiclass", num_classes=3)
    >>> state = acc.update(acc.init(), jnp.array([0, 2, 1, 1]), jnp.array([0, 1, 1, 1]))
    >>> float(acc.compute(state))
    0.75
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

from jtoolkit._src.core.checks import check_choice, check_int, shape_str
from jtoolkit._src.metrics.protocol import (
    as_operand,
    check_classes,
    check_leading,
    check_task,
    filled,
    ignore_spec,
    ignored,
    merge_states,
    merge_sum,
    normalize_if_needed,
    row_weights,
    safe_divide,
)

__all__ = ["Accuracy", "F1Score", "Precision", "Recall", "StatScores"]

AVERAGES = ("micro", "macro", "weighted", "none", None)


class StatScores(NamedTuple):
    """Counts of true/false positives/negatives (per class, or scalar for binary)."""

    tp: jax.Array
    fp: jax.Array
    tn: jax.Array
    fn: jax.Array


def _from_one_hot(pred: jax.Array, true: jax.Array, w: jax.Array) -> StatScores:
    """Counts over rows from 0/1 int arrays ``[rows, k]`` and row weights ``[rows]``."""
    w = w[:, None]
    return StatScores(
        tp=jnp.sum(w * pred * true, 0),
        fp=jnp.sum(w * pred * (1 - true), 0),
        tn=jnp.sum(w * (1 - pred) * (1 - true), 0),
        fn=jnp.sum(w * (1 - pred) * true, 0),
    )


def _threshold(preds: jax.Array, valid: jax.Array, threshold: ArrayLike) -> jax.Array:
    if jnp.issubdtype(preds.dtype, jnp.floating):
        return (normalize_if_needed(preds, valid, "sigmoid") > threshold).astype(
            jnp.int32
        )
    return (preds == 1).astype(jnp.int32)


def binary_counts(preds, target, w, threshold, ignore) -> StatScores:
    """Scalar counts: preds/target ``[N, ...]``, row weights ``w [N]``; ``ignore``
    is ``ignore_spec(ignore_index)``."""
    n = target.shape[0]
    t = target.reshape(n, -1)
    p = preds.reshape(n, -1)
    valid = jnp.broadcast_to(w[:, None] > 0, t.shape) & ~ignored(t, ignore)
    pred = _threshold(p, valid, threshold).reshape(-1, 1)
    true = (t == 1).astype(jnp.int32).reshape(-1, 1)
    counts = _from_one_hot(pred, true, valid.reshape(-1).astype(jnp.int32))
    return StatScores(*(c[0] for c in counts))


def multilabel_counts(preds, target, w, threshold, ignore) -> StatScores:
    """Per-label counts: preds/target ``[N, L, ...]``."""
    n, labels = target.shape[:2]
    t = jnp.moveaxis(target.reshape(n, labels, -1), 1, -1).reshape(-1, labels)
    p = jnp.moveaxis(preds.reshape(n, labels, -1), 1, -1).reshape(-1, labels)
    valid = jnp.repeat(w > 0, t.shape[0] // n)[:, None] & ~ignored(t, ignore)
    pred = _threshold(p, valid, threshold)
    true = (t == 1).astype(jnp.int32)
    v = valid.astype(jnp.int32)
    return StatScores(
        tp=jnp.sum(v * pred * true, 0),
        fp=jnp.sum(v * pred * (1 - true), 0),
        tn=jnp.sum(v * (1 - pred) * (1 - true), 0),
        fn=jnp.sum(v * (1 - pred) * true, 0),
    )


def check_multiclass(preds: ArrayLike, target: ArrayLike, top_k: int, fn: str) -> None:
    """Multiclass preds are labels shaped like target or scores ``[N, C, ...]``
    (``top_k > 1`` needs scores); checked on the shapes before any program runs."""
    p, t = np.shape(preds), np.shape(target)
    if len(p) == len(t) + 1:
        return
    if p != t:
        raise ValueError(
            f"{fn}: multiclass preds must be labels shaped like target or scores "
            f"[N, C, ...], got preds {shape_str(p)} and target {shape_str(t)}"
        )
    if top_k != 1:
        raise ValueError(f"{fn}: top_k > 1 needs float scores [N, C, ...], got labels")


def multiclass_labels(preds, target, top_k: int) -> tuple[jax.Array, ...]:
    """Flat predicted labels and targets: argmax over dim 1 of float scores (or,
    with ``top_k > 1``, the target when it is among the k best, else the best);
    shapes as ``check_multiclass`` accepts."""
    if preds.ndim == target.ndim + 1:
        scores = jnp.moveaxis(preds, 1, -1).reshape(-1, preds.shape[1])
        t = target.reshape(-1)
        if top_k == 1:
            return jnp.argmax(scores, -1), t
        best = jax.lax.top_k(scores, top_k)[1]
        hit = jnp.any(best == t[:, None], -1)
        return jnp.where(hit, t, best[:, 0]), t
    return preds.reshape(-1), target.reshape(-1)


def multiclass_counts(preds, target, w, num_classes, top_k, ignore):
    """Per-class counts from scores ``[N, C, ...]`` or labels ``[N, ...]``."""
    label, t = multiclass_labels(preds, target, top_k)
    rows = jnp.repeat(w, t.shape[0] // target.shape[0]) * ~ignored(t, ignore)
    pred = jax.nn.one_hot(label, num_classes, dtype=jnp.int32)
    true = jax.nn.one_hot(t, num_classes, dtype=jnp.int32)
    return _from_one_hot(pred, true, rows)


@functools.partial(jax.jit, static_argnames=("task", "num_classes", "top_k"))
def _update(state, preds, target, mask, threshold, ignore, *, task, num_classes, top_k):
    """``state`` plus one batch's counts: the one program of every count metric's
    update (``threshold`` and ``ignore`` traced)."""
    preds, target = jnp.asarray(preds), jnp.asarray(target)
    w = row_weights(mask, target.shape[0])
    if task == "binary":
        new = binary_counts(preds, target, w, threshold, ignore)
    elif task == "multilabel":
        new = multilabel_counts(preds, target, w, threshold, ignore)
    else:
        new = multiclass_counts(preds, target, w, num_classes, top_k, ignore)
    return merge_sum(state, new)


def _averaged(state, score, task: str, average, by_support: bool) -> jax.Array:
    """torchmetrics' ``_adjust_weights_safe_divide``; ``by_support``: the macro
    average leaves out classes absent from target (else absent from both)."""
    if average in ("none", None):
        return score
    tp, fp, _, fn = state
    if average == "weighted":
        weights = (tp + fn).astype(jnp.float32)
    elif task == "multilabel":
        weights = jnp.ones_like(score)
    else:
        absent = (tp + fn == 0) if by_support else (tp + fp + fn == 0)
        weights = jnp.where(absent, 0.0, 1.0)
    return jnp.sum(safe_divide(weights * score, jnp.sum(weights)))


@functools.partial(jax.jit, static_argnames=("score", "task", "average", "by_support"))
def _compute(state, zero_division, *, score: Callable, task, average, by_support):
    """The metric's value under ``average``: one program per static configuration."""
    if task == "binary":
        return score(*state, task, zero_division)
    if average == "micro":
        return score(*(jnp.sum(c) for c in state), task, zero_division)
    return _averaged(
        state, score(*state, task, zero_division), task, average, by_support
    )


@dataclasses.dataclass(frozen=True)
class _StatScoresMetric:
    """The shared configuration, checks and update of the four count metrics."""

    task: str
    threshold: float = 0.5
    num_classes: int | None = None
    num_labels: int | None = None
    average: str | None = "micro"
    multidim_average: str = "global"
    top_k: int = 1
    ignore_index: int | None = None
    validate_args: bool = True

    def __post_init__(self) -> None:
        fn = type(self).__name__
        check_task(self.task, fn)
        check_classes(self.task, self.num_classes, self.num_labels, fn)
        check_choice("average", self.average, AVERAGES, fn=fn)
        check_choice("multidim_average", self.multidim_average, ("global",), fn=fn)
        check_int("top_k", self.top_k, fn=fn, minimum=1)
        classes = self.num_classes
        if self.task == "multiclass" and classes is not None and self.top_k > classes:
            raise ValueError(
                f"{fn}: top_k must be <= num_classes, got top_k={self.top_k} and "
                f"num_classes={self.num_classes}"
            )
        if not 0 <= float(self.threshold) <= 1:
            raise ValueError(f"{fn}: threshold must be in [0, 1], got {self.threshold}")

    @property
    def _size(self) -> tuple[int, ...]:
        k = {"binary": None, "multiclass": self.num_classes}.get(self.task)
        k = self.num_labels if self.task == "multilabel" else k
        return () if k is None else (k,)

    def init(self) -> StatScores:
        """Zero counts."""
        return StatScores(*filled(*((self._size, "int32", 0),) * 4))

    def update(
        self,
        state: StatScores,
        preds: ArrayLike,
        target: ArrayLike,
        mask: ArrayLike | None = None,
    ) -> StatScores:
        """``state`` plus this batch's counts (rows with ``mask`` False skipped)."""
        fn = type(self).__name__
        preds, target = as_operand(preds), as_operand(target)
        check_leading(preds, target, fn)
        multiclass = self.task == "multiclass"
        if multiclass:
            check_multiclass(preds, target, self.top_k, fn)
        return _update(
            state,
            preds,
            target,
            as_operand(mask),
            float(self.threshold),
            ignore_spec(self.ignore_index),
            task=self.task,
            num_classes=self.num_classes if multiclass else None,
            top_k=self.top_k if multiclass else 1,
        )

    def merge(self, a: StatScores, b: StatScores) -> StatScores:
        """The counts of both states (e.g. two shards or processes)."""
        return merge_states(a, b)

    def compute(self, state: StatScores) -> jax.Array:
        """The metric under ``average`` (float32)."""
        binary = self.task == "binary"
        return _compute(
            state,
            float(getattr(self, "zero_division", 0.0)),
            score=type(self)._score,
            task=self.task,
            average=None if binary or self.average == "none" else self.average,
            by_support=self.task == "multiclass" and self._absent_by_support(),
        )

    def _absent_by_support(self) -> bool:
        """Whether macro leaves out classes absent from target only (torchmetrics
        with ``top_k > 1``) rather than those absent from preds and target."""
        return self.top_k > 1

    @staticmethod
    def _score(tp, fp, tn, fn, task: str, zero_division) -> jax.Array:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Accuracy(_StatScoresMetric):
    """Accuracy from counts: ``(tp + tn) / all`` (binary, multilabel) or
    ``tp / (tp + fn)`` per class (multiclass).

    torch: ``torchmetrics.Accuracy(task, threshold=0.5, num_classes=None,
    num_labels=None, average="micro", multidim_average="global", top_k=1,
    ignore_index=None, validate_args=True)``; only ``multidim_average="global"``.

    Args:
      task: "binary", "multiclass" or "multilabel".
      threshold: probability cut for binary/multilabel float preds.
      num_classes / num_labels: class count (multiclass) / label count (multilabel).
      average: "micro", "macro", "weighted", "none" (or None).
      top_k: multiclass: a row counts as correct if its target is among the
        ``top_k`` highest scores.
      ignore_index: target value whose rows are left out.

    Raises:
      ValueError: an unknown task/average, a missing class count, top_k out of range.

    Example:
      >>> from jtoolkit.metrics import Accuracy
      >>> acc = Accuracy(task="binary")
      >>> s = acc.update(acc.init(), jnp.array([0.9, 0.2, 0.7]), jnp.array([1, 1, 0]))
      >>> round(float(acc.compute(s)), 4)
      0.3333
    """

    @staticmethod
    def _score(tp, fp, tn, fn, task: str, zero_division) -> jax.Array:
        if task == "multiclass":
            return safe_divide(tp, tp + fn)
        return safe_divide(tp + tn, tp + tn + fp + fn)


@dataclasses.dataclass(frozen=True)
class Precision(_StatScoresMetric):
    """Precision ``tp / (tp + fp)``; a 0/0 gives ``zero_division``.

    torch: ``torchmetrics.Precision(task, threshold=0.5, num_classes=None,
    num_labels=None, average="micro", multidim_average="global", top_k=1,
    ignore_index=None, validate_args=True, zero_division=0)``.

    Args:
      task, threshold, num_classes, num_labels, average, top_k, ignore_index: as
        ``Accuracy``.
      zero_division: the value of a 0/0 score.

    Example:
      >>> from jtoolkit.metrics import Precision
      >>> m = Precision(task="multiclass", num_classes=3, average="macro")
      >>> s = m.update(m.init(), jnp.array([0, 2, 1, 1]), jnp.array([0, 1, 1, 2]))
      >>> round(float(m.compute(s)), 4)
      0.5
    """

    zero_division: float = 0.0

    @staticmethod
    def _score(tp, fp, tn, fn, task: str, zero_division) -> jax.Array:
        return safe_divide(tp, tp + fp, zero_division)


@dataclasses.dataclass(frozen=True)
class Recall(_StatScoresMetric):
    """Recall ``tp / (tp + fn)``; a 0/0 gives ``zero_division``.

    torch: ``torchmetrics.Recall`` (arguments as ``Precision``).

    Example:
      >>> from jtoolkit.metrics import Recall
      >>> m = Recall(task="multilabel", num_labels=2, average="none")
      >>> p, t = jnp.array([[1, 0], [1, 1]]), jnp.array([[1, 1], [0, 1]])
      >>> s = m.update(m.init(), p, t)
      >>> m.compute(s).tolist()
      [1.0, 0.5]
    """

    zero_division: float = 0.0

    @staticmethod
    def _score(tp, fp, tn, fn, task: str, zero_division) -> jax.Array:
        return safe_divide(tp, tp + fn, zero_division)


@dataclasses.dataclass(frozen=True)
class F1Score(_StatScoresMetric):
    """F1 ``2 tp / (2 tp + fp + fn)``; a 0/0 gives ``zero_division``.

    torch: ``torchmetrics.F1Score`` (arguments as ``Precision``); its macro average
    leaves out classes with ``tp + fp + fn == 0`` whatever ``top_k`` is.

    Example:
      >>> from jtoolkit.metrics import F1Score
      >>> m = F1Score(task="binary")
      >>> s = m.update(m.init(), jnp.array([1, 0, 1, 1]), jnp.array([1, 1, 0, 1]))
      >>> round(float(m.compute(s)), 4)
      0.6667
    """

    zero_division: float = 0.0

    @staticmethod
    def _score(tp, fp, tn, fn, task: str, zero_division) -> jax.Array:
        return safe_divide(2 * tp, 2 * tp + fp + fn, zero_division)

    def _absent_by_support(self) -> bool:
        return False
