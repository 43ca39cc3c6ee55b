"""Module-style constructors of the regression and distance losses.

Same frozen-dataclass base as ``modules.py``; public through ``jtoolkit.losses``.
"""

from __future__ import annotations

from dataclasses import KW_ONLY

import jax
from jax.typing import ArrayLike

from jtoolkit._src.losses.checks import check_positive, check_reduction
from jtoolkit._src.losses.modules import LossBase, frozen_loss
from jtoolkit._src.losses.regression import (
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    smooth_l1_loss,
)
from jtoolkit._src.losses.triplet import check_triplet_options, triplet_margin_loss

__all__ = [
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "SmoothL1Loss",
    "TripletMarginLoss",
]


@frozen_loss
class MSELoss(LossBase):
    """``nn.MSELoss``: a callable ``(input, target) -> mse_loss(...)``.

    Args:
        options: ``reduction``, as ``mse_loss`` takes them (same defaults).

    Returns:
        A frozen callable; calling it returns ``mse_loss(..., **options)``.

    Raises:
        ValueError: an unknown ``reduction``. Raised at construction, not at the call.

    Example:
        >>> criterion = MSELoss(reduction="sum")
        >>> criterion, float(criterion(jnp.array([1.0, 2.0]), jnp.zeros(2)))
        (MSELoss(reduction='sum'), 5.0)
    """

    _: KW_ONLY
    reduction: str = "mean"

    def __post_init__(self) -> None:
        check_reduction(self.reduction)

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return mse_loss(input, target, reduction=self.reduction)


@frozen_loss
class L1Loss(LossBase):
    """``nn.L1Loss``: a callable ``(input, target) -> l1_loss(...)``.

    Args:
        options: ``reduction``, as ``l1_loss`` takes them (same defaults).

    Returns:
        A frozen callable; calling it returns ``l1_loss(..., **options)``.

    Raises:
        ValueError: an unknown ``reduction``. Raised at construction, not at the call.

    Example:
        >>> float(L1Loss()(jnp.array([1.0, -3.0]), jnp.zeros(2)))
        2.0
    """

    _: KW_ONLY
    reduction: str = "mean"

    def __post_init__(self) -> None:
        check_reduction(self.reduction)

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return l1_loss(input, target, reduction=self.reduction)


@frozen_loss
class HuberLoss(LossBase):
    """``nn.HuberLoss``: a callable ``(input, target) -> huber_loss(...)``.

    Args:
        options: ``reduction``, ``delta``, as ``huber_loss`` takes them (same defaults).

    Returns:
        A frozen callable; calling it returns ``huber_loss(..., **options)``.

    Raises:
        ValueError: an unknown ``reduction``. LossInputError: ``delta <= 0``. Raised at
            construction, not at the call.

    Example:
        >>> float(HuberLoss(delta=2.0)(jnp.array([3.0]), jnp.array([0.0])))
        4.0
    """

    _: KW_ONLY
    reduction: str = "mean"
    delta: float = 1.0

    def __post_init__(self) -> None:
        check_reduction(self.reduction)
        check_positive("delta", self.delta, fn="huber_loss")

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)


@frozen_loss
class SmoothL1Loss(LossBase):
    """``nn.SmoothL1Loss``: a callable ``(input, target) -> smooth_l1_loss(...)``.

    Args:
        options: ``reduction``, ``beta``, as ``smooth_l1_loss`` takes them (same
            defaults).

    Returns:
        A frozen callable; calling it returns ``smooth_l1_loss(..., **options)``.

    Raises:
        ValueError: an unknown ``reduction``. LossInputError: ``beta < 0``. Raised at
            construction, not at the call.

    Example:
        >>> float(SmoothL1Loss(beta=2.0)(jnp.array([3.0]), jnp.array([0.0])))
        2.0
    """

    _: KW_ONLY
    reduction: str = "mean"
    beta: float = 1.0

    def __post_init__(self) -> None:
        check_reduction(self.reduction)
        check_positive("beta", self.beta, fn="smooth_l1_loss", allow_zero=True)

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


@frozen_loss
class TripletMarginLoss(LossBase):
    """``nn.TripletMarginLoss``: a callable ``(anchor, positive, negative) -> loss``.

    Args:
        options: ``margin``, ``p``, ``eps``, ``swap``, ``reduction``, as
            ``triplet_margin_loss`` takes them (same defaults).

    Returns:
        A frozen callable; calling it returns ``triplet_margin_loss(..., **options)``.

    Raises:
        ValueError: an unknown ``reduction``, ``margin <= 0`` or a bad ``p``. Raised at
            construction, not at the call.

    Example:
        >>> a, pos, neg = jnp.zeros((1, 2)), jnp.zeros((1, 2)), jnp.ones((1, 2))
        >>> round(float(TripletMarginLoss(margin=2.0)(a, pos, neg)), 4)
        0.5858
    """

    margin: float = 1.0
    p: float = 2
    eps: float = 1e-6
    swap: bool = False
    _: KW_ONLY
    reduction: str = "mean"

    def __post_init__(self) -> None:
        check_reduction(self.reduction)
        check_triplet_options(self.margin, self.p)

    def __call__(
        self, anchor: ArrayLike, positive: ArrayLike, negative: ArrayLike
    ) -> jax.Array:
        return triplet_margin_loss(
            anchor,
            positive,
            negative,
            self.margin,
            self.p,
            self.eps,
            self.swap,
            reduction=self.reduction,
        )


@frozen_loss
class KLDivLoss(LossBase):
    """``nn.KLDivLoss``: a callable ``(input, target) -> kl_div(...)``.

    Args:
        options: ``reduction``, ``log_target``, as ``kl_div`` takes them (same
            defaults).

    Returns:
        A frozen callable; calling it returns ``kl_div(..., **options)``.

    Raises:
        ValueError: an unknown ``reduction``. Raised at construction, not at the call.

    Example:
        >>> logq = jnp.log(jnp.array([[0.5, 0.5]]))
        >>> KLDivLoss(reduction="batchmean")(logq, jnp.array([[0.5, 0.5]])).tolist()
        0.0
    """

    _: KW_ONLY
    reduction: str = "mean"
    log_target: bool = False

    def __post_init__(self) -> None:
        check_reduction(self.reduction, ("mean", "batchmean", "sum", "none"))

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return kl_div(
            input, target, reduction=self.reduction, log_target=self.log_target
        )
