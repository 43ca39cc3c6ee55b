"""Module-style constructors of the margin, hinge and embedding losses.

Same frozen-dataclass base as ``modules.py``; public through ``jtoolkit.losses``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY

import jax
from jax.typing import ArrayLike

from jtoolkit._src.losses.checks import check_reduction
from jtoolkit._src.losses.embedding import (
    check_distance_margin,
    cosine_embedding_loss,
    triplet_margin_with_distance_loss,
)
from jtoolkit._src.losses.margin import (
    check_multi_margin_options,
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
)
from jtoolkit._src.losses.modules import LossBase, frozen_loss

__all__ = [
    "CosineEmbeddingLoss",
    "HingeEmbeddingLoss",
    "MarginRankingLoss",
    "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "SoftMarginLoss",
    "TripletMarginWithDistanceLoss",
]


@frozen_loss
class CosineEmbeddingLoss(LossBase):
    """``nn.CosineEmbeddingLoss``: a callable ``(input1, input2, target) -> loss``.

    Args:
        options: ``margin``, ``reduction``, as ``cosine_embedding_loss`` takes them
            (same defaults).

    Returns:
        A frozen callable; calling it returns ``cosine_embedding_loss(...)``.

    Raises:
        ValueError: an unknown ``reduction``. Raised at construction, not at the call.

    Example:
        >>> x = jnp.array([[1.0, 0.0]])
        >>> CosineEmbeddingLoss(margin=0.5)(x, x, jnp.array([-1])).tolist()
        0.5
    """

    margin: float = 0.0
    _: KW_ONLY
    reduction: str = "mean"

    def __post_init__(self) -> None:
        check_reduction(self.reduction)

    def __call__(
        self, input1: ArrayLike, input2: ArrayLike, target: ArrayLike
    ) -> jax.Array:
        return cosine_embedding_loss(
            input1, input2, target, self.margin, reduction=self.reduction
        )


@frozen_loss
class MarginRankingLoss(LossBase):
    """``nn.MarginRankingLoss``: a callable ``(input1, input2, target) -> loss``.

    Args:
        options: ``margin``, ``reduction``, as ``margin_ranking_loss`` takes them
            (same defaults).

    Returns:
        A frozen callable; calling it returns ``margin_ranking_loss(...)``.

    Raises:
        ValueError: an unknown ``reduction``. Raised at construction, not at the call.

    Example:
        >>> criterion = MarginRankingLoss(margin=1.0)
        >>> float(criterion(jnp.array([0.5]), jnp.array([0.0]), jnp.array([1.0])))
        0.5
    """

    margin: float = 0.0
    _: KW_ONLY
    reduction: str = "mean"

    def __post_init__(self) -> None:
        check_reduction(self.reduction)

    def __call__(
        self, input1: ArrayLike, input2: ArrayLike, target: ArrayLike
    ) -> jax.Array:
        return margin_ranking_loss(
            input1, input2, target, self.margin, reduction=self.reduction
        )


@frozen_loss
class HingeEmbeddingLoss(LossBase):
    """``nn.HingeEmbeddingLoss``: a callable ``(input, target) -> loss``.

    Args:
        options: ``margin``, ``reduction``, as ``hinge_embedding_loss`` takes them
            (same defaults).

    Returns:
        A frozen callable; calling it returns ``hinge_embedding_loss(...)``.

    Raises:
        ValueError: an unknown ``reduction``. Raised at construction, not at the call.

    Example:
        >>> float(HingeEmbeddingLoss(margin=2.0)(jnp.array([0.5]), jnp.array([-1.0])))
        1.5
    """

    margin: float = 1.0
    _: KW_ONLY
    reduction: str = "mean"

    def __post_init__(self) -> None:
        check_reduction(self.reduction)

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return hinge_embedding_loss(
            input, target, self.margin, reduction=self.reduction
        )


@frozen_loss
class SoftMarginLoss(LossBase):
    """``nn.SoftMarginLoss``: a callable ``(input, target) -> soft_margin_loss(...)``.

    Args:
        options: ``reduction``, as ``soft_margin_loss`` takes it (same default).

    Returns:
        A frozen callable; calling it returns ``soft_margin_loss(...)``.

    Raises:
        ValueError: an unknown ``reduction``. Raised at construction, not at the call.

    Example:
        >>> round(float(SoftMarginLoss()(jnp.array([0.0]), jnp.array([1.0]))), 4)
        0.6931
    """

    _: KW_ONLY
    reduction: str = "mean"

    def __post_init__(self) -> None:
        check_reduction(self.reduction)

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return soft_margin_loss(input, target, reduction=self.reduction)


@frozen_loss
class MultiLabelSoftMarginLoss(LossBase):
    """``nn.MultiLabelSoftMarginLoss``: a callable ``(input, target) -> loss``.

    Args:
        options: ``weight``, ``reduction``, as ``multilabel_soft_margin_loss`` takes
            them (same defaults).

    Returns:
        A frozen callable; calling it returns ``multilabel_soft_margin_loss(...)``.

    Raises:
        ValueError: an unknown ``reduction``. Raised at construction, not at the call.

    Example:
        >>> criterion = MultiLabelSoftMarginLoss(weight=jnp.array([2.0, 0.0]))
        >>> round(float(criterion(jnp.zeros((1, 2)), jnp.array([[1.0, 0.0]]))), 4)
        0.6931
    """

    weight: ArrayLike | None = None
    _: KW_ONLY
    reduction: str = "mean"

    def __post_init__(self) -> None:
        check_reduction(self.reduction)

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return multilabel_soft_margin_loss(
            input, target, self.weight, reduction=self.reduction
        )


@frozen_loss
class MultiMarginLoss(LossBase):
    """``nn.MultiMarginLoss``: a callable ``(input, target) -> multi_margin_loss(...)``.

    Args:
        options: ``p``, ``margin``, ``weight``, ``reduction``, as
            ``multi_margin_loss`` takes them (same defaults).

    Returns:
        A frozen callable; calling it returns ``multi_margin_loss(...)``.

    Raises:
        ValueError: an unknown ``reduction``, ``p`` not 1 or 2, a weight that is not
            1-d. Raised at construction, not at the call.

    Example:
        >>> x = jnp.array([[0.1, 0.2, 0.4, 0.8]])
        >>> criterion = MultiMarginLoss(p=2)
        >>> criterion, round(float(criterion(x, jnp.array([3]))), 4)
        (MultiMarginLoss(p=2), 0.1525)
    """

    p: int = 1
    margin: float = 1.0
    weight: ArrayLike | None = None
    _: KW_ONLY
    reduction: str = "mean"

    def __post_init__(self) -> None:
        check_reduction(self.reduction)
        check_multi_margin_options(self.p, self.weight)

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return multi_margin_loss(
            input, target, self.p, self.margin, self.weight, reduction=self.reduction
        )


@frozen_loss
class MultiLabelMarginLoss(LossBase):
    """``nn.MultiLabelMarginLoss``: a callable ``(input, target) -> loss``.

    Args:
        options: ``reduction``, as ``multilabel_margin_loss`` takes it.

    Returns:
        A frozen callable; calling it returns ``multilabel_margin_loss(...)``.

    Raises:
        ValueError: an unknown ``reduction``. Raised at construction, not at the call.

    Example:
        >>> x, y = jnp.array([[0.1, 0.2, 0.4, 0.8]]), jnp.array([[3, 0, -1, 1]])
        >>> round(float(MultiLabelMarginLoss()(x, y)), 4)
        0.85
    """

    _: KW_ONLY
    reduction: str = "mean"

    def __post_init__(self) -> None:
        check_reduction(self.reduction)

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return multilabel_margin_loss(input, target, reduction=self.reduction)


@frozen_loss
class TripletMarginWithDistanceLoss(LossBase):
    """``nn.TripletMarginWithDistanceLoss``: a callable ``(anchor, positive,
    negative) -> triplet_margin_with_distance_loss(...)``.

    Args:
        options: ``distance_function``, ``margin``, ``swap``, ``reduction``
            (keyword-only, as torch), as ``triplet_margin_with_distance_loss`` takes
            them (same defaults).

    Returns:
        A frozen callable; calling it returns the functional's loss.

    Raises:
        ValueError: an unknown ``reduction`` or ``margin <= 0``. Raised at
            construction, not at the call.

    Example:
        >>> a, pos, neg = jnp.zeros((1, 2)), jnp.zeros((1, 2)), jnp.ones((1, 2))
        >>> round(float(TripletMarginWithDistanceLoss(margin=2.0)(a, pos, neg)), 4)
        0.5858
    """

    _: KW_ONLY
    distance_function: Callable[[jax.Array, jax.Array], jax.Array] | None = None
    margin: float = 1.0
    swap: bool = False
    reduction: str = "mean"

    def __post_init__(self) -> None:
        check_reduction(self.reduction)
        check_distance_margin(self.margin)

    def __call__(
        self, anchor: ArrayLike, positive: ArrayLike, negative: ArrayLike
    ) -> jax.Array:
        return triplet_margin_with_distance_loss(
            anchor,
            positive,
            negative,
            distance_function=self.distance_function,
            margin=self.margin,
            swap=self.swap,
            reduction=self.reduction,
        )
