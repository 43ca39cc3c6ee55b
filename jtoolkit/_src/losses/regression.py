"""Regression losses: mse, l1, huber, smooth_l1 and kl_div (torch.nn.functional).

Public through ``jtoolkit.losses``; see that module for the overview.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
from jax.scipy.special import xlogy
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import shape_str
from jtoolkit._src.core.eager_jit import eager_jit
from jtoolkit._src.losses.checks import (
    LossInputError,
    as_float,
    check_broadcast,
    check_positive,
    check_reduction,
    warn_if_broadcasting,
)
from jtoolkit._src.losses.elementwise import reduce, torch_abs

__all__ = ["huber_loss", "kl_div", "l1_loss", "mse_loss", "smooth_l1_loss"]


def _pair(input: ArrayLike, target: ArrayLike) -> tuple[jax.Array, jax.Array]:
    """Input and target as float arrays; torch's warning when they broadcast."""
    x = as_float(input)
    y = as_float(target, x.dtype)
    warn_if_broadcasting(x.shape, y.shape, stacklevel=4)
    return x, y


def _weight(weight, x: jax.Array) -> jax.Array | None:
    if weight is None:
        return None
    w = as_float(weight, x.dtype)
    if w.shape != x.shape:
        raise LossInputError(
            f"Weights and input must have the same size: weight {shape_str(w.shape)}, "
            f"input {shape_str(x.shape)}."
        )
    return w


def _reduce_weighted(loss, weight, reduction: str, mean_by_weight: bool) -> jax.Array:
    """torch's weighted reductions (mse/l1: sum / sum(w); huber: mean of w * loss)."""
    if weight is None:
        return reduce(loss, reduction)
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return jnp.sum(loss) / jnp.sum(weight)
    return reduce(loss, reduction)


@eager_jit
def mse_loss(
    input: ArrayLike,
    target: ArrayLike,
    *,
    reduction: str = "mean",
    weight: ArrayLike | None = None,
) -> jax.Array:
    """Mean squared error ``(x - y)²`` with torch's reduction.

    torch counterpart: ``torch.nn.functional.mse_loss`` (not optax's ``l2_loss``,
    which is half of it). Shapes that differ but broadcast are broadcast with
    torch's UserWarning ("Using a target size ... different to the input size").

    Args:
        input: float array, any shape (ints are cast to float).
        target: array broadcastable with ``input``.
        reduction: "mean", "sum" or "none".
        weight: optional per-element weight of the input's shape; "mean" then
            divides by ``sum(weight)``, as torch 2.13.

    Returns:
        The scalar loss, or the broadcast per-element losses with "none".

    Raises:
        LossInputError: shapes that do not broadcast, or a weight of another shape,
            naming both. ValueError: an unknown ``reduction``.

    Example:
        >>> float(mse_loss(jnp.array([1.0, 2.0]), jnp.array([0.0, 4.0])))
        2.5
    """
    check_reduction(reduction)
    x, y = _pair(input, target)
    d = x - y
    return _reduce_weighted(d * d, _weight(weight, x), reduction, True)


@eager_jit
def l1_loss(
    input: ArrayLike,
    target: ArrayLike,
    *,
    reduction: str = "mean",
    weight: ArrayLike | None = None,
) -> jax.Array:
    """Mean absolute error ``|x - y|``; its gradient at x == y is 0, as torch's.

    torch counterpart: ``torch.nn.functional.l1_loss`` (broadcasting with torch's
    UserWarning, weighted "mean" divided by ``sum(weight)``).

    Args:
        input: float array, any shape.
        target: array broadcastable with ``input``.
        reduction: "mean", "sum" or "none".
        weight: optional per-element weight of the input's shape.

    Returns:
        The scalar loss, or the broadcast per-element losses with "none".

    Raises:
        LossInputError: shapes that do not broadcast, or a weight of another shape.
        ValueError: an unknown ``reduction``.

    Example:
        >>> float(l1_loss(jnp.array([1.0, 2.0]), jnp.array([0.0, 4.0])))
        1.5
    """
    check_reduction(reduction)
    x, y = _pair(input, target)
    return _reduce_weighted(torch_abs(x - y), _weight(weight, x), reduction, True)


@eager_jit
def huber_loss(
    input: ArrayLike,
    target: ArrayLike,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: ArrayLike | None = None,
) -> jax.Array:
    """Huber loss: ``0.5 d²`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``.

    torch counterpart: ``torch.nn.functional.huber_loss`` (with weight, "mean" is
    the plain mean of the weighted elements, as torch 2.13).

    Args:
        input: float array, any shape.
        target: array broadcastable with ``input``.
        reduction: "mean", "sum" or "none".
        delta: positive threshold between the quadratic and linear parts.
        weight: optional per-element weight of the input's shape.

    Returns:
        The scalar loss, or the broadcast per-element losses with "none".

    Raises:
        LossInputError: ``delta <= 0``, shapes that do not broadcast, or a weight of
            another shape. ValueError: an unknown ``reduction``.

    Example:
        >>> huber_loss(jnp.array([0.5, 3.0]), jnp.zeros(2), reduction="none").tolist()
        [0.125, 2.5]
    """
    check_reduction(reduction)
    check_positive("delta", delta, fn="huber_loss")
    x, y = _pair(input, target)
    d = x - y
    a = torch_abs(d)
    loss = jnp.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    return _reduce_weighted(loss, _weight(weight, x), reduction, False)


@eager_jit
def smooth_l1_loss(
    input: ArrayLike,
    target: ArrayLike,
    *,
    reduction: str = "mean",
    beta: float = 1.0,
) -> jax.Array:
    """Smooth L1: ``0.5 d² / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``.

    torch counterpart: ``torch.nn.functional.smooth_l1_loss``. It is
    ``huber_loss(delta=beta) / beta``, and ``beta=0`` is exactly ``l1_loss``.

    Args:
        input: float array, any shape.
        target: array broadcastable with ``input``.
        reduction: "mean", "sum" or "none".
        beta: non-negative threshold.

    Returns:
        The scalar loss, or the broadcast per-element losses with "none".

    Raises:
        LossInputError: ``beta < 0`` or shapes that do not broadcast.
        ValueError: an unknown ``reduction``.

    Example:
        >>> x = jnp.array([0.5, 3.0])
        >>> smooth_l1_loss(x, jnp.zeros(2), reduction="none", beta=2.0).tolist()
        [0.0625, 2.0]
    """
    check_reduction(reduction)
    check_positive("beta", beta, fn="smooth_l1_loss", allow_zero=True)
    x, y = _pair(input, target)
    d = x - y
    a = torch_abs(d)
    if isinstance(beta, numbers.Real) and beta == 0:
        return reduce(a, reduction)
    safe_beta = jnp.where(beta == 0, 1.0, beta)
    loss = jnp.where(a < beta, 0.5 * d * d / safe_beta, a - 0.5 * beta)
    return reduce(loss, reduction)


@eager_jit
def kl_div(
    input: ArrayLike,
    target: ArrayLike,
    *,
    reduction: str = "mean",
    log_target: bool = False,
) -> jax.Array:
    """Kullback-Leibler divergence ``target (log target - input)`` of log-probabilities.

    torch counterpart: ``torch.nn.functional.kl_div``. "mean" divides by the number
    of elements (torch's default, which torch warns about; jtoolkit does not warn),
    "batchmean" by the batch size ``input.shape[0]`` (optax's ``kl_divergence``).
    Elements with target 0 contribute 0 (``xlogy``).

    Args:
        input: log-probabilities, float, any shape.
        target: probabilities (or log-probabilities with ``log_target=True``),
            broadcastable with ``input`` (silently, as torch).
        reduction: "mean", "batchmean", "sum" or "none".
        log_target: whether ``target`` holds log-probabilities.

    Returns:
        The scalar loss, or the broadcast per-element losses with "none".

    Raises:
        LossInputError: shapes that do not broadcast. ValueError: an unknown
            ``reduction``.

    Example:
        >>> logq = jnp.log(jnp.array([[0.5, 0.5]]))
        >>> p = jnp.array([[1.0, 0.0]])
        >>> round(float(kl_div(logq, p, reduction="batchmean")), 4)
        0.6931
    """
    check_reduction(reduction, ("mean", "batchmean", "sum", "none"))
    x = as_float(input)
    t = as_float(target, x.dtype)
    check_broadcast(x.shape, t.shape)
    if log_target:
        loss = jnp.exp(t) * (t - x)
    else:
        loss = xlogy(t, t) - t * x
    if reduction == "batchmean":
        total = jnp.sum(loss)
        return total / x.shape[0] if x.ndim else total
    return reduce(loss, reduction)
