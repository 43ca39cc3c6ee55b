"""Metric-learning losses: ``triplet_margin_loss`` (torch.nn.functional)."""

from __future__ import annotations

import math
import numbers

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

__all__ = ["triplet_margin_loss"]


def check_triplet_options(margin, p) -> None:
    if isinstance(margin, numbers.Real) and margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    if not isinstance(p, numbers.Real) or math.isnan(p) or p < 0:
        raise ValueError(
            f"p must be a non-negative Python number (the norm degree), got p={p!r}."
        )


@eager_jit
def triplet_margin_loss(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    *,
    reduction: str = "mean",
) -> jax.Array:
    """Triplet margin loss ``max(d(a, pos) - d(a, neg) + margin, 0)``.

    torch counterpart: ``torch.nn.functional.triplet_margin_loss``. The distance is
    torch's ``pairwise_distance``, ``‖u - v + eps‖_p`` over the last dim (eps added
    to every element of the difference), not optax's ``triplet_margin_loss``
    (eps inside the sum, which differs by ~1e-3 for near-duplicates and is wrong
    for odd p). ``swap=True`` uses ``min(d(a, neg), d(pos, neg))``.

    Args:
        anchor: embeddings ``[D]`` or ``[N, D]`` (or more leading dims).
        positive: same number of dims as ``anchor``, broadcastable with it.
        negative: same number of dims as ``anchor``, broadcastable with it.
        margin: positive margin.
        p: norm degree, a Python number >= 0 (``float("inf")`` for the max norm).
        eps: added to each element of the difference, as torch.
        swap: the distance swap of Balntas et al.
        reduction: "mean", "sum" or "none".

    Returns:
        The scalar loss, or one loss per triplet (the batch shape) with "none".

    Raises:
        ValueError: ``margin <= 0`` (as torch), a negative or non-number ``p``, an
            unknown ``reduction``. LossInputError: different numbers of dims, or
            shapes that do not broadcast, naming them.

    Example:
        >>> a, pos, neg = jnp.zeros((1, 2)), jnp.ones((1, 2)), 3 * jnp.ones((1, 2))
        >>> round(float(triplet_margin_loss(a, pos, neg, margin=3.0)), 4)
        0.1716
    """
    check_reduction(reduction)
    check_triplet_options(margin, p)
    a, pos, neg = (as_float(v) for v in (anchor, positive, negative))
    if not a.ndim == pos.ndim == neg.ndim:
        raise LossInputError(
            "The anchor, positive, and negative tensors are expected to have the same "
            f"number of dimensions, but got: anchor {a.ndim}D {shape_str(a.shape)}, "
            f"positive {pos.ndim}D {shape_str(pos.shape)}, and negative "
            f"{neg.ndim}D {shape_str(neg.shape)}."
        )
    pair = check_broadcast(a.shape, pos.shape, "anchor and positive shapes")
    check_broadcast(pair, neg.shape, "anchor/positive and negative shapes")
    d_pos = vector_norm(a - pos + eps, p)
    d_neg = vector_norm(a - neg + eps, p)
    if swap:
        d_neg = jnp.minimum(d_neg, vector_norm(pos - neg + eps, p))
    return reduce(clamp_min0(margin + d_pos - d_neg), reduction)
