"""Embedding-pair losses: cosine embedding, triplet margin with any distance.

Public through ``jtoolkit.losses``; ``triplet_margin_loss`` (fixed p-norm distance)
is in ``triplet.py``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import shape_str
from jtoolkit._src.core.eager_jit import eager_jit
from jtoolkit._src.losses.checks import (
    LossInputError,
    as_float,
    check_broadcast,
    check_reduction,
)
from jtoolkit._src.losses.elementwise import clamp_min0, reduce, vector_norm

__all__ = [
    "check_distance_margin",
    "cosine_embedding_loss",
    "pairwise_distance",
    "triplet_margin_with_distance_loss",
]


_COSINE_EPS = 1e-12  # added to each squared magnitude, as torch's kernel


def _check_cosine_shapes(x1: jax.Array, x2: jax.Array, y: jax.Array) -> None:
    if y.ndim not in (0, 1):
        raise LossInputError(
            "0D or 1D target tensor expected, multi-target not supported; got target "
            f"{shape_str(y.shape)}."
        )
    want = y.ndim + 1
    if not x1.ndim == x2.ndim == want:
        raise LossInputError(
            f"{y.ndim}D target tensor expects {want}D input tensors, but found inputs "
            f"with sizes {shape_str(x1.shape)} and {shape_str(x2.shape)}."
        )
    pair = check_broadcast(x1.shape, x2.shape, "input1 and input2 shapes")
    check_broadcast(pair[:-1], y.shape, "inputs' batch and target shapes")


@eager_jit
def cosine_embedding_loss(
    input1: ArrayLike,
    input2: ArrayLike,
    target: ArrayLike,
    margin: float = 0.0,
    *,
    reduction: str = "mean",
) -> jax.Array:
    """Cosine embedding loss: ``1 - cos`` where ``y == 1``, ``max(0, cos - margin)``
    where ``y == -1``.

    torch counterpart: ``torch.nn.functional.cosine_embedding_loss``. As torch,
    ``cos = <x1, x2> / sqrt((|x1|² + 1e-12)(|x2|² + 1e-12))`` and a target that is
    neither 1 nor -1 contributes 0.

    Args:
        input1: embeddings ``[D]`` (with a scalar target) or ``[N, D]``.
        input2: same shape as ``input1`` (or broadcastable with it).
        target: +1 / -1, a scalar or ``[N]``.
        margin: the margin for the -1 pairs (torch suggests 0 to 0.5).
        reduction: "mean", "sum" or "none".

    Returns:
        The scalar loss, or one loss per pair with "none".

    Raises:
        LossInputError: a target that is not 0-d/1-d, inputs of the wrong dims, or
            shapes that do not broadcast. ValueError: an unknown ``reduction``.

    Example:
        >>> x1, x2 = jnp.array([[1.0, 0.0], [1.0, 0.0]]), jnp.array([[0.0, 1.0]] * 2)
        >>> cosine_embedding_loss(x1, x2, jnp.array([1, -1]), reduction="none").tolist()
        [1.0, 0.0]
    """
    check_reduction(reduction)
    x1 = as_float(input1)
    x2, y = as_float(input2, x1.dtype), jnp.asarray(target)
    _check_cosine_shapes(x1, x2, y)
    dot = jnp.sum(x1 * x2, axis=-1)
    mag1 = jnp.sum(x1 * x1, axis=-1) + _COSINE_EPS
    mag2 = jnp.sum(x2 * x2, axis=-1) + _COSINE_EPS
    cos = dot / jnp.sqrt(mag1 * mag2)
    zeros = jnp.zeros(jnp.broadcast_shapes(cos.shape, y.shape), cos.dtype)
    pos = jnp.where(y == 1, 1 - cos, zeros)
    neg = jnp.where(y == -1, clamp_min0(cos - margin), zeros)
    return reduce(pos + neg, reduction)


def pairwise_distance(x1: jax.Array, x2: jax.Array) -> jax.Array:
    """torch's default ``pairwise_distance(x1, x2)``: ``‖x1 - x2 + 1e-6‖₂`` (last dim).

    Example:
        >>> round(float(pairwise_distance(jnp.zeros(2), jnp.array([3.0, 4.0]))), 4)
        5.0
    """
    return vector_norm(x1 - x2 + 1e-6, 2)


def check_distance_margin(margin) -> None:
    """torch's ValueError for a non-positive ``margin``."""
    if isinstance(margin, numbers.Real) and margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")


@eager_jit
def triplet_margin_with_distance_loss(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    *,
    distance_function: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> jax.Array:
    """Triplet loss ``max(d(a, pos) - d(a, neg) + margin, 0)`` with any distance.

    torch counterpart: ``torch.nn.functional.triplet_margin_with_distance_loss``.
    ``distance_function(u, v)`` maps two batches of embeddings to one non-negative
    distance per row (a JAX function, e.g. ``lambda u, v: 1 - cosine``); the
    default is torch's ``pairwise_distance`` (``‖u - v + 1e-6‖₂``). ``swap=True``
    uses ``min(d(a, neg), d(pos, neg))``.

    Args:
        anchor: embeddings, e.g. ``[N, D]``.
        positive: same number of dims as ``anchor``.
        negative: same number of dims as ``anchor``.
        distance_function: a JAX function of two arrays, or None.
        margin: positive margin.
        swap: the distance swap of Balntas et al.
        reduction: "mean", "sum" or "none".

    Returns:
        The scalar loss, or the distances' shape with "none".

    Raises:
        ValueError: ``margin <= 0`` or an unknown ``reduction``. LossInputError: the
            three inputs have different numbers of dims.

    Example:
        >>> a, pos, neg = jnp.zeros((1, 2)), jnp.zeros((1, 2)), jnp.ones((1, 2))
        >>> l1 = lambda u, v: jnp.abs(u - v).sum(-1)
        >>> float(triplet_margin_with_distance_loss(a, pos, neg, distance_function=l1))
        0.0
    """
    check_reduction(reduction)
    check_distance_margin(margin)
    a, pos, neg = (jnp.asarray(v) for v in (anchor, positive, negative))
    if not a.ndim == pos.ndim == neg.ndim:
        raise LossInputError(
            "The anchor, positive, and negative tensors are expected to have the same "
            f"number of dimensions, but got: anchor {a.ndim}D, positive {pos.ndim}D, "
            f"and negative {neg.ndim}D inputs"
        )
    distance = pairwise_distance if distance_function is None else distance_function
    d_pos, d_neg = distance(a, pos), distance(a, neg)
    if swap:
        d_neg = jnp.minimum(d_neg, distance(pos, neg))
    return reduce(clamp_min0(margin + d_pos - d_neg), reduction)
