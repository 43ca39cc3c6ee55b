"""The tutorial's custom losses: weighted MSE+L1, a custom loss, a multi-task loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jtoolkit._src.losses.checks import as_float
from jtoolkit._src.losses.classification import (
    binary_cross_entropy,
    cross_entropy,
)
from jtoolkit._src.losses.regression import (
    l1_loss,
    mse_loss,
)

__all__ = ["alpha_mse_l1_loss", "custom_loss", "multi_task_loss"]


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
