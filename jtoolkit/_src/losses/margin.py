"""Margin and hinge losses: ranking, hinge embedding, soft margin, multi-class margins.

``margin_ranking_loss``, ``hinge_embedding_loss``, ``soft_margin_loss``,
``multilabel_soft_margin_loss``, ``multi_margin_loss``, ``multilabel_margin_loss``
(torch.nn.functional). Public through ``jtoolkit.losses``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import shape_str
from jtoolkit._src.core.eager_jit import check_values, eager_jit
from jtoolkit._src.losses.checks import (
    LossInputError,
    TargetOutOfBoundsError,
    as_float,
    check_broadcast,
    check_reduction,
    check_weight_broadcasts,
)
from jtoolkit._src.losses.elementwise import clamp_min0, reduce

__all__ = [
    "check_multi_margin_options",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "soft_margin_loss",
]


def _positive_part(z: jax.Array) -> jax.Array:
    """``max(z, 0)`` with gradient 0 at z == 0 (torch's ``if (z > 0)`` kernels)."""
    return jnp.where(z > 0, z, jnp.zeros_like(z))


@eager_jit
def margin_ranking_loss(
    input1: ArrayLike,
    input2: ArrayLike,
    target: ArrayLike,
    margin: float = 0.0,
    *,
    reduction: str = "mean",
) -> jax.Array:
    """Ranking loss ``max(0, -y (x1 - x2) + margin)``, ``y`` = 1 or -1.

    torch counterpart: ``torch.nn.functional.margin_ranking_loss``.

    Args:
        input1: float array, any shape.
        input2: same number of dims as ``input1``, broadcastable with it.
        target: +1 where ``input1`` should rank higher, -1 where lower; same number
            of dims, broadcastable.
        margin: the margin.
        reduction: "mean", "sum" or "none".

    Returns:
        The scalar loss, or the broadcast per-element losses with "none".

    Raises:
        LossInputError: different numbers of dims, or shapes that do not broadcast.
        ValueError: an unknown ``reduction``.

    Example:
        >>> x1, x2 = jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])
        >>> float(margin_ranking_loss(x1, x2, jnp.array([1.0, 1.0]), margin=0.5))
        0.75
    """
    check_reduction(reduction)
    x1 = as_float(input1)
    x2, y = as_float(input2, x1.dtype), as_float(target, x1.dtype)
    if not x1.ndim == x2.ndim == y.ndim:
        raise LossInputError(
            "margin_ranking_loss : All input tensors should have same dimension but "
            f"got sizes: input1: {shape_str(x1.shape)}, input2: {shape_str(x2.shape)}, "
            f"target: {shape_str(y.shape)}"
        )
    check_broadcast(check_broadcast(x1.shape, x2.shape), y.shape)
    return reduce(clamp_min0(-y * (x1 - x2) + margin), reduction)


@eager_jit
def hinge_embedding_loss(
    input: ArrayLike,
    target: ArrayLike,
    margin: float = 1.0,
    *,
    reduction: str = "mean",
) -> jax.Array:
    """Hinge embedding loss: ``x`` where ``y == 1``, ``max(0, margin - x)`` where -1.

    torch counterpart: ``torch.nn.functional.hinge_embedding_loss``. As torch's
    kernel, a target that is neither 1 nor -1 gets both terms.

    Args:
        input: float array (typically distances), any shape.
        target: +1 / -1 labels broadcastable with ``input``.
        margin: the margin for the -1 pairs.
        reduction: "mean", "sum" or "none".

    Returns:
        The scalar loss, or the broadcast per-element losses with "none".

    Raises:
        LossInputError: shapes that do not broadcast. ValueError: an unknown
            ``reduction``.

    Example:
        >>> x, y = jnp.array([0.3, 0.2]), jnp.array([1.0, -1.0])
        >>> hinge_embedding_loss(x, y, reduction="none").tolist()
        [0.30000001192092896, 0.800000011920929]
    """
    check_reduction(reduction)
    x = as_float(input)
    y = as_float(target, x.dtype)
    check_broadcast(x.shape, y.shape)
    zeros = jnp.zeros(jnp.broadcast_shapes(x.shape, y.shape), x.dtype)
    hinge = jnp.where(y != 1, clamp_min0(margin - x), zeros)
    return reduce(hinge + jnp.where(y != -1, x, zeros), reduction)


@eager_jit
def soft_margin_loss(
    input: ArrayLike, target: ArrayLike, *, reduction: str = "mean"
) -> jax.Array:
    """Two-class logistic loss ``log(1 + exp(-y x))``, ``y`` = 1 or -1.

    torch counterpart: ``torch.nn.functional.soft_margin_loss``. Computed as a
    softplus, so it stays finite where torch's ``log1p(exp(-y x))`` overflows to inf
    (``-y x`` above ~88 in float32); elsewhere the two agree.

    Args:
        input: float array, any shape.
        target: +1 / -1 labels broadcastable to ``input``'s shape.
        reduction: "mean", "sum" or "none".

    Returns:
        The scalar loss, or the per-element losses (input's shape) with "none".

    Raises:
        LossInputError: a target that does not broadcast to the input's shape.
        ValueError: an unknown ``reduction``.

    Example:
        >>> x, y = jnp.array([0.0, 2.0]), jnp.array([1.0, -1.0])
        >>> [round(float(v), 4) for v in soft_margin_loss(x, y, reduction="none")]
        [0.6931, 2.1269]
    """
    check_reduction(reduction)
    x = as_float(input)
    y = as_float(target, x.dtype)
    check_weight_broadcasts(y.shape, x.shape, "target")
    return reduce(jax.nn.softplus(-y * x), reduction)


@eager_jit
def multilabel_soft_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    *,
    reduction: str = "mean",
) -> jax.Array:
    """Multi-label one-vs-all logistic loss, averaged over the classes (last dim).

    torch counterpart: ``torch.nn.functional.multilabel_soft_margin_loss``: per
    sample ``-mean_c w_c (y_c log σ(x_c) + (1 - y_c) log σ(-x_c))``.

    Args:
        input: logits ``[C]`` or ``[N, C]`` (classes on the last dim).
        target: 0/1 (or soft) labels broadcastable with ``input``.
        weight: optional per-class weights broadcastable with ``input`` (e.g. ``[C]``).
        reduction: "mean", "sum" or "none".

    Returns:
        The scalar loss, or one loss per sample (``[N]``, or a scalar) with "none".

    Raises:
        LossInputError: shapes that do not broadcast. ValueError: an unknown
            ``reduction``.

    Example:
        >>> x, y = jnp.array([[0.0, 0.0]]), jnp.array([[1.0, 0.0]])
        >>> round(float(multilabel_soft_margin_loss(x, y)), 4)
        0.6931
    """
    check_reduction(reduction)
    x = as_float(input)
    y = as_float(target, x.dtype)
    shape = check_broadcast(x.shape, y.shape)
    loss = -(y * jax.nn.log_sigmoid(x) + (1 - y) * jax.nn.log_sigmoid(-x))
    if weight is not None:
        w = as_float(weight, x.dtype)
        check_broadcast(shape, w.shape, "input/target and weight shapes")
        loss = loss * w
    return reduce(jnp.sum(loss, axis=-1) / x.shape[-1], reduction)


def check_multi_margin_options(p, weight) -> None:
    """torch's ValueErrors for ``multi_margin_loss``'s ``p`` and ``weight``."""
    if p not in (1, 2) or isinstance(p, bool):
        raise ValueError(f"only p == 1 and p == 2 supported, got p={p!r}")
    if weight is not None and np.ndim(weight) != 1:
        raise ValueError(
            f"weight must be one-dimensional (per-class weights [C]), got shape "
            f"{shape_str(np.shape(weight))}"
        )


def _check_class_input(x: jax.Array, loss: str) -> None:
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise LossInputError(
            f"{loss}: expected a non-empty [C] or [N, C] input, got "
            f"{shape_str(x.shape)}"
        )


def _check_index_range(target, low: int, high: int, loss: str, what: str) -> None:
    """When concrete, TargetOutOfBoundsError unless every index is in [low, high)."""

    def in_range(values: np.ndarray) -> None:
        bad = (values < low) | (values >= high)
        if bad.any():
            raise TargetOutOfBoundsError(
                f"{loss}: {what} is out of range: got {values[bad].ravel()[0]}, "
                f"expected values in [{low}, {high - 1}]."
            )

    check_values(target, in_range)


@eager_jit
def multi_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    p: int = 1,
    margin: float = 1.0,
    weight: ArrayLike | None = None,
    *,
    reduction: str = "mean",
) -> jax.Array:
    """Multi-class hinge ``sum_{i != y} w_y max(0, margin - x_y + x_i)^p / C``.

    torch counterpart: ``torch.nn.functional.multi_margin_loss`` ("mean" is the
    plain mean over samples, also with ``weight``; the hinge has gradient 0 at
    exactly 0, as torch's kernel).

    Args:
        input: scores ``[C]`` or ``[N, C]``.
        target: integer class indices, a scalar or ``[N]``.
        p: 1 or 2.
        margin: the margin.
        weight: optional per-class weights ``[C]``.
        reduction: "mean", "sum" or "none".

    Returns:
        The scalar loss, or one loss per sample with "none".

    Raises:
        ValueError: ``p`` not 1 or 2, a weight that is not 1-d, an unknown
            ``reduction``. LossInputError: wrong dims or sizes.
            TargetOutOfBoundsError (an IndexError and RuntimeError): a class index
            outside ``[0, C-1]`` when concrete; under ``jit`` it gives nan.

    Example:
        >>> x = jnp.array([[0.1, 0.2, 0.4, 0.8]])
        >>> round(float(multi_margin_loss(x, jnp.array([3]))), 4)
        0.325
    """
    check_reduction(reduction)
    check_multi_margin_options(p, weight)
    x = as_float(input)
    _check_class_input(x, "multi_margin_loss")
    y = jnp.asarray(target)
    if y.shape != x.shape[:-1]:
        raise LossInputError(
            f"inconsistent target size: got {shape_str(y.shape)} for input of size "
            f"{shape_str(x.shape)}; expected {shape_str(x.shape[:-1])}."
        )
    num_classes = x.shape[-1]
    if weight is not None and np.shape(weight) != (num_classes,):
        raise LossInputError(
            f"weight must have {num_classes} elements (one per class), got "
            f"{shape_str(np.shape(weight))}."
        )
    _check_index_range(y, 0, num_classes, "multi_margin_loss", "target")
    in_range = (y >= 0) & (y < num_classes)
    index = jnp.where(in_range, y, 0)[..., None]
    x_y = jnp.take_along_axis(x, index, axis=-1)
    z = _positive_part(margin - x_y + x)
    z = z * z if p == 2 else z
    if weight is not None:
        z = z * jnp.take(as_float(weight, x.dtype), index)
    z = jnp.where(jnp.arange(num_classes) == index, jnp.zeros_like(z), z)
    loss = jnp.sum(z, axis=-1) / num_classes
    return reduce(jnp.where(in_range, loss, jnp.nan), reduction)


@eager_jit
def multilabel_margin_loss(
    input: ArrayLike, target: ArrayLike, *, reduction: str = "mean"
) -> jax.Array:
    """Multi-label hinge: every target class above every non-target class by 1.

    torch counterpart: ``torch.nn.functional.multilabel_margin_loss``. Per sample
    ``sum_j sum_{i not a target} max(0, 1 - (x[y_j] - x[i])) / C`` over the target
    indices ``y_j`` before the first -1.

    Args:
        input: scores ``[C]`` or ``[N, C]``.
        target: integer class indices of the input's shape, padded with -1 after
            the last target (everything after the first -1 is ignored).
        reduction: "mean", "sum" or "none".

    Returns:
        The scalar loss, or one loss per sample with "none".

    Raises:
        LossInputError: wrong dims or a target of another shape.
            TargetOutOfBoundsError: a target outside ``[-1, C-1]`` when concrete
            (under ``jit`` it gives nan). ValueError: an unknown ``reduction``.

    Example:
        >>> x, y = jnp.array([[0.1, 0.2, 0.4, 0.8]]), jnp.array([[3, 0, -1, 1]])
        >>> round(float(multilabel_margin_loss(x, y)), 4)
        0.85
    """
    check_reduction(reduction)
    x = as_float(input)
    _check_class_input(x, "multilabel_margin_loss")
    y = jnp.asarray(target)
    if y.shape != x.shape:
        raise LossInputError(
            f"inconsistent target size: {shape_str(y.shape)} for input of size: "
            f"{shape_str(x.shape)}"
        )
    num_classes = x.shape[-1]
    _check_index_range(y, -1, num_classes, "multilabel_margin_loss", "target")
    listed = jnp.cumprod(y != -1, axis=-1).astype(bool)
    in_range = jnp.all((y >= -1) & (y < num_classes), axis=-1)
    index = jnp.where(listed & (y >= 0) & (y < num_classes), y, 0)
    x_y = jnp.take_along_axis(x, index, axis=-1)
    hits = listed[..., None] & (index[..., None] == jnp.arange(num_classes))
    is_target = jnp.any(hits, axis=-2)
    z = _positive_part(1 - x_y[..., :, None] + x[..., None, :])
    keep = listed[..., :, None] & ~is_target[..., None, :]
    loss = jnp.sum(jnp.where(keep, z, jnp.zeros_like(z)), axis=(-2, -1)) / num_classes
    return reduce(jnp.where(in_range, loss, jnp.nan), reduction)
