"""What every metric shares: row masks, merging by sums, torchmetrics' safe divide.

A metric is a frozen configuration object with four pure methods: ``init() ->
state`` (a pytree of sufficient statistics), ``update(state, preds, target,
mask=None) -> state``, ``merge(a, b) -> state`` and ``compute(state) -> jax.Array``.
States of sum-type metrics merge by adding leaves, so a sharded or multi-process
evaluation is one ``psum`` (or an all-gather and a fold of ``merge``) away.

Each method runs one jitted program (jit at the edge): called eagerly, ``update``
compiles one program per (structural configuration, input shapes and dtypes), not
one per primitive; inside a user's ``jit`` it is inlined like any function. The
static part of a program's key is only what changes the math (task, class count,
``average``...); values such as ``threshold``, ``ignore_index`` or
``zero_division`` are traced operands, so configurations that differ only in them
share their programs (as Accuracy, Precision, Recall and F1Score share ``update``).
Argument and shape checks run in Python before the program.

Example:
    >>> row_weights(jnp.array([True, False, True]), 3).tolist()
    [1, 0, 1]
    >>> merge_sum({"n": jnp.array(2)}, {"n": jnp.array(3)})["n"].tolist()
    5
    >>> [x.tolist() for x in filled(((2,), "int32", -1), ((), "float32", 0))]
    [[-1, -1], 0.0]
    >>> ignored(jnp.array([0, -1, 2]), ignore_spec(-1)).tolist()
    [False, True, False]
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_choice, check_int, shape_str

__all__ = [
    "as_operand",
    "check_classes",
    "check_leading",
    "check_task",
    "filled",
    "ignore_spec",
    "ignored",
    "merge_states",
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


def as_operand(x: Any) -> Any:
    """An input as a jit operand: a list or tuple becomes one numpy array (jit
    would take it for a pytree of scalars); arrays, scalars and None pass."""
    return np.asarray(x) if isinstance(x, (list, tuple)) else x


def merge_sum(a: Any, b: Any) -> Any:
    """Two states of sufficient statistics, added leaf by leaf."""
    return jax.tree.map(jnp.add, a, b)


merge_states = jax.jit(merge_sum)
"""``merge_sum`` as one program per state layout (eagerly, one add per leaf would
each be a program)."""


@functools.partial(jax.jit, static_argnums=0)
def _filled(spec: tuple) -> tuple[jax.Array, ...]:
    return tuple(jnp.full(shape, fill, dtype) for shape, dtype, fill in spec)


def filled(*leaves: tuple[tuple[int, ...], str, float]) -> tuple[jax.Array, ...]:
    """State leaves, one per ``(shape, dtype name, fill value)``, made by one
    program per layout (an eager ``jnp.zeros`` per leaf compiles one each)."""
    return _filled(tuple((tuple(s), str(d), f) for s, d, f in leaves))


def ignore_spec(ignore_index: int | None) -> tuple[int, bool]:
    """``ignore_index`` as two operands ``(value, on)`` for a jitted update: traced,
    they let one program serve every ``ignore_index``, None included."""
    return (0 if ignore_index is None else int(ignore_index), ignore_index is not None)


def ignored(target: jax.Array, ignore: tuple[Any, Any]) -> jax.Array:
    """Where ``target`` equals the ignored value (all False when ``ignore`` is off)."""
    value, on = ignore
    return jnp.logical_and(on, target == value)


def safe_divide(num: jax.Array, den: jax.Array, zero_division: ArrayLike = 0.0):
    """``num / den`` in float32, ``zero_division`` where ``den == 0`` (torchmetrics)."""
    num = jnp.asarray(num, jnp.float32)
    den = jnp.asarray(den, jnp.float32)
    safe = jnp.where(den != 0, den, 1.0)
    return jnp.where(den != 0, num / safe, jnp.asarray(zero_division, jnp.float32))


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


def check_leading(preds: ArrayLike, target: ArrayLike, fn: str) -> None:
    """preds and target must share their first (row) dimension (checked on the
    shapes alone, before any program runs)."""
    p, t = np.shape(preds), np.shape(target)
    if not p or not t or p[0] != t[0]:
        raise ValueError(
            f"{fn}: preds and target must have the same number of rows, got preds "
            f"{shape_str(p)} and target {shape_str(t)}"
        )
