"""torch.nn.functional losses as pure JAX functions, with torch's numbers.

Every loss computes one value per element, then torch's ``reduction`` ("mean",
"sum", "none"; ``kl_div`` also "batchmean"): class weights give torch's weighted mean
(divided by the sum of the targets' weights), ``ignore_index`` is left out of both
numerator and denominator (all ignored gives nan, as torch). Gradients equal torch's,
including at the kinks where plain JAX differs (``|x|`` at 0, the zero-vector norm,
``binary_cross_entropy`` at p = 0 or 1).

Module-style constructors (``CrossEntropyLoss(...)`` etc.) return callables with the
functional's options, as the tutorial's ``criterion = nn.CrossEntropyLoss()``.

Differences from torch, all forced by JAX or deliberate:

* Options after the inputs (and after ``weight``) are keyword-only; torch's
  deprecated ``size_average``/``reduce`` are not accepted.
* Class-index targets may be any integer dtype (JAX's default is int32; torch
  insists on int64).
* Bad input raises before computing: ``LossInputError`` (both a ValueError and a
  RuntimeError, since torch uses either) naming the shapes, or
  ``TargetOutOfBoundsError`` (also an IndexError, torch's type). Value checks
  (class indices in range, BCE probabilities in [0, 1]) need concrete data; under
  ``jax.jit``/``jax.grad`` they cannot raise: an out-of-range index gives nan, and
  a BCE input outside [0, 1] gives nan.
* ``mse_loss``/``l1_loss``/``huber_loss``/``smooth_l1_loss`` broadcast differing
  shapes with torch's UserWarning, as torch; ``kl_div``'s "mean" does not warn.

Example:
    >>> criterion = CrossEntropyLoss()
    >>> logits, labels = jnp.array([[1.0, 2.0, 0.5]]), jnp.array([1])
    >>> round(float(criterion(logits, labels)), 4)
    0.4644
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jtoolkit._losses_checks import LossInputError, TargetOutOfBoundsError, as_float
from jtoolkit._losses_class import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)
from jtoolkit._losses_modules import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    NLLLoss,
)
from jtoolkit._losses_modules_pointwise import (
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    SmoothL1Loss,
    TripletMarginLoss,
)
from jtoolkit._losses_pointwise import (
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    smooth_l1_loss,
    triplet_margin_loss,
)

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "LossInputError",
    "MSELoss",
    "NLLLoss",
    "SmoothL1Loss",
    "TargetOutOfBoundsError",
    "TripletMarginLoss",
    "alpha_mse_l1_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "custom_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "mse_loss",
    "multi_task_loss",
    "nll_loss",
    "smooth_l1_loss",
    "triplet_margin_loss",
]


def alpha_mse_l1_loss(
    pred: ArrayLike, target: ArrayLike, alpha: float = 0.5
) -> jax.Array:
    """The tutorial's ``CustomLoss``: ``alpha * MSE + (1 - alpha) * L1``.

    torch counterpart: the tutorial's ``CustomLoss(nn.Module)`` with
    ``forward = alpha * mean((pred - target)**2) + (1 - alpha) * mean(|pred -
    target|)``,
    written as a function (bind ``alpha`` with ``functools.partial``).

    Args:
        pred: predictions, float, any shape.
        target: targets of the same shape.
        alpha: weight of the MSE term; the L1 term gets ``1 - alpha``.

    Returns:
        The scalar loss.

    Raises:
        LossInputError: shapes that do not broadcast.

    Example:
        >>> pred = jnp.array([1.0, 3.0])
        >>> float(alpha_mse_l1_loss(pred, jnp.zeros(2), alpha=0.25))
        2.75
    """
    return alpha * mse_loss(pred, target) + (1 - alpha) * l1_loss(pred, target)


def custom_loss(pred: ArrayLike, target: ArrayLike, beta: float = 0.3) -> jax.Array:
    """The tutorial's ``custom_loss``: BCE plus a penalty on probabilities above 0.7.

    torch counterpart: the tutorial's function form,
    ``F.binary_cross_entropy(pred, target) + beta * mean(relu(pred - 0.7))**2``.

    Args:
        pred: probabilities in [0, 1], float, any shape.
        target: targets in [0, 1] of the same shape.
        beta: weight of the squared mean penalty.

    Returns:
        The scalar loss.

    Raises:
        LossInputError: as ``binary_cross_entropy``.

    Example:
        >>> pred, target = jnp.array([0.9, 0.1]), jnp.array([1.0, 0.0])
        >>> round(float(custom_loss(pred, target)), 4)
        0.1084
    """
    penalty = jnp.mean(jax.nn.relu(as_float(pred) - 0.7)) ** 2
    return binary_cross_entropy(pred, target) + beta * penalty


def multi_task_loss(
    pred_class: ArrayLike,
    pred_reg: ArrayLike,
    target_class: ArrayLike,
    target_reg: ArrayLike,
) -> jax.Array:
    """The tutorial's ``MultiTaskLoss``: cross-entropy plus half the MSE.

    torch counterpart: the tutorial's ``MultiTaskLoss(nn.Module)``,
    ``nn.CrossEntropyLoss()(pred_class, target_class) + 0.5 *
    nn.MSELoss()(pred_reg, target_reg)``.

    Args:
        pred_class: class logits ``[N, C]``.
        pred_reg: regression outputs, any shape.
        target_class: integer class indices ``[N]``.
        target_reg: regression targets of ``pred_reg``'s shape.

    Returns:
        The scalar loss.

    Raises:
        LossInputError: as ``cross_entropy`` and ``mse_loss``.

    Example:
        >>> logits, labels = jnp.array([[0.0, 0.0]]), jnp.array([0])
        >>> round(float(multi_task_loss(logits, jnp.ones(2), labels, jnp.zeros(2))), 4)
        1.1931
    """
    classification = cross_entropy(pred_class, target_class)
    return classification + 0.5 * mse_loss(pred_reg, target_reg)
