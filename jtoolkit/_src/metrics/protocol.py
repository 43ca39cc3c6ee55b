"""What every metric shares: row masks, merging by sums, torchmetrics' safe divide.

A metric is a frozen configuration object with four pure methods: ``init() ->
state`` (a pytree of sufficient statistics), ``update(state, preds, target,
mask=None) -> state``, ``merge(a, b) -> state`` and ``compute(state) -> jax.Array``.
States of sum-type metrics merge by adding leaves, so a sharded or multi-process
evaluation is one ``psum`` (or an all-gather and a fold of ``merge``) away.

Example:
    >>> row_weights(jnp.array([True, False, True]), 3).tolist()
    [1, 0, 1]
    >>> merge_sum({"n": jnp.array(2)}, {"n": jnp.array(3)})["n"].tolist()
    5
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_choice, check_int, shape_str

__all__ = [
    "check_classes",
    "check_leading",
    "check_task",
    "merge_sum",
    "normalize_if_needed",
    "row_weights",
    "safe_divide",
]

TASKS = ("binary", "multiclass", "multilabel")


def row_weights(mask: ArrayLike | None, n: int) -> jax.Array:
    """An int32 ``[n]`` vector: 1 for a valid row, 0 for a padded one."""
    if mask is None:
        return jnp.ones((n,), jnp.int32)
    mask = jnp.asarray(mask)
    if mask.shape != (n,):
        raise ValueError(
            f"metrics: mask must have shape [{n}] (one flag per row of preds), "
            f"got {shape_str(mask.shape)}"
        )
    return mask.astype(jnp.int32)


def merge_sum(a: Any, b: Any) -> Any:
    """Two states of sufficient statistics, added leaf by leaf."""
    return jax.tree.map(jnp.add, a, b)


def safe_divide(num: jax.Array, den: jax.Array, zero_division: float = 0.0):
    """``num / den`` in float32, ``zero_division`` where ``den == 0`` (torchmetrics)."""
    num = jnp.asarray(num, jnp.float32)
    den = jnp.asarray(den, jnp.float32)
    safe = jnp.where(den != 0, den, 1.0)
    return jnp.where(den != 0, num / safe, jnp.float32(zero_division))


def normalize_if_needed(
    scores: jax.Array, valid: jax.Array, how: str, axis: int = 1
) -> jax.Array:
    """torchmetrics' ``normalize_logits_if_needed``: sigmoid (or softmax over
    ``axis``) when a valid score lies outside [0, 1]; decided per update call."""
    outside = ((scores < 0) | (scores > 1)) & valid
    if how == "sigmoid":
        normal = jax.nn.sigmoid(scores)
    else:
        normal = jax.nn.softmax(scores, axis)
    return jnp.where(jnp.any(outside), normal, scores)


def check_task(task: Any, fn: str) -> str:
    return check_choice("task", task, TASKS, fn=fn)


def check_classes(task: str, num_classes: Any, num_labels: Any, fn: str) -> int | None:
    """The class (multiclass) or label (multilabel) count; None for binary."""
    if task == "multiclass":
        return check_int("num_classes", num_classes, fn=fn, minimum=2)
    if task == "multilabel":
        return check_int("num_labels", num_labels, fn=fn, minimum=2)
    return None


def check_leading(preds: jax.Array, target: jax.Array, fn: str) -> None:
    """preds and target must share their first (row) dimension."""
    if preds.ndim == 0 or target.ndim == 0 or preds.shape[0] != target.shape[0]:
        raise ValueError(
            f"{fn}: preds and target must have the same number of rows, got preds "
            f"{shape_str(preds.shape)} and target {shape_str(target.shape)}"
        )
