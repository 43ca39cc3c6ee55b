"""Module-style losses, as torch's ``criterion = nn.CrossEntropyLoss()``: one base.

Each module is a frozen dataclass whose fields are its loss function's options
(torch's module arguments, same names and defaults) and whose ``loss_fn`` is that
function; calling the module forwards the inputs and the options to it (optax's
``alias.py`` partial style), so a module and its function cannot drift apart.
Options are validated once, at construction; the repr, like torch's, lists only
the options that differ from their defaults. Modules hold no state and no
parameters; ``weight``/``pos_weight`` arrays are captured as constants. Public
through ``jtoolkit.losses``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import KW_ONLY
from typing import Any, ClassVar

import jax
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import shape_str
from jtoolkit._src.losses.checks import (
    LossInputError,
    check_label_smoothing,
    check_positive,
    check_reduction,
)
from jtoolkit._src.losses.classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)
from jtoolkit._src.losses.ctc import (
    ctc_loss,
)
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
from jtoolkit._src.losses.probabilistic import (
    gaussian_nll_loss,
    poisson_nll_loss,
)
from jtoolkit._src.losses.regression import (
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    smooth_l1_loss,
)
from jtoolkit._src.losses.triplet import (
    check_triplet_options,
    triplet_margin_loss,
)

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CTCLoss",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "GaussianNLLLoss",
    "HingeEmbeddingLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "LossBase",
    "MSELoss",
    "MarginRankingLoss",
    "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "NLLLoss",
    "PoissonNLLLoss",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
    "frozen_loss",
]


frozen_loss = dataclasses.dataclass(frozen=True, eq=False, repr=False)


def _show(value: Any) -> str:
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"array(shape={shape_str(value.shape)}, dtype={value.dtype})"
    return repr(value)


def _is_default(value: Any, default: Any) -> bool:
    if value is default:
        return True
    scalar = (str, int, float, bool)
    return (
        isinstance(value, scalar) and isinstance(default, scalar) and value == default
    )


def _class_weight_1d(weight: Any) -> None:
    if weight is not None and np.ndim(weight) != 1:
        raise LossInputError(
            f"weight must be a 1-d array of per-class weights [C], got shape "
            f"{shape_str(np.shape(weight))}."
        )


class LossBase:
    """The base of every loss module: its options in, its function's value out.

    A subclass sets ``loss_fn`` (the functional loss) and declares the options as
    dataclass fields; ``_check`` adds construction-time checks beyond
    ``reduction``'s. What every loss module shares is said here once:

    Returns:
        A frozen callable; calling it returns ``loss_fn(*inputs, **options)``.

    Raises:
        ValueError: an unknown ``reduction`` (and what the subclass lists), raised
            at construction, not at the call.
    """

    loss_fn: ClassVar[Callable[..., jax.Array]]
    reductions: ClassVar[tuple[str, ...]] = ("mean", "sum", "none")

    def __post_init__(self) -> None:
        check_reduction(self.reduction, self.reductions)  # type: ignore[attr-defined]
        self._check()

    def _check(self) -> None:
        """Checks of a subclass's options, raised at construction."""

    def __call__(self, *inputs: Any, **named: Any) -> jax.Array:
        """``loss_fn(*inputs, **options)``: torch's ``criterion(input, target)``."""
        options = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return type(self).loss_fn(*inputs, **named, **options)

    __dataclass_fields__: ClassVar[dict[str, Any]]  # every loss is a dataclass

    def __repr__(self) -> str:
        shown = [
            f"{f.name}={_show(getattr(self, f.name))}"
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if not _is_default(getattr(self, f.name), f.default)
        ]
        return f"{type(self).__name__}({', '.join(shown)})"


@frozen_loss
class CrossEntropyLoss(LossBase):
    """``nn.CrossEntropyLoss``: a callable ``(input, target) -> cross_entropy(...)``.

    Args:
        options: ``weight``, ``ignore_index``, ``reduction``, ``label_smoothing``, as
            ``cross_entropy`` takes them (same defaults).

    Raises:
        ValueError: an unknown ``reduction``. LossInputError: ``label_smoothing``
            outside [0, 1] or a ``weight`` that is not 1-d. Raised at construction, not
            at the call.

    Example:
        >>> criterion = CrossEntropyLoss(label_smoothing=0.1)
        >>> criterion
        CrossEntropyLoss(label_smoothing=0.1)
        >>> round(float(criterion(jnp.array([[2.0, 0.0]]), jnp.array([0]))), 4)
        0.2269
    """

    weight: ArrayLike | None = None
    _: KW_ONLY
    ignore_index: int = -100
    reduction: str = "mean"
    label_smoothing: float = 0.0
    loss_fn = staticmethod(cross_entropy)

    def _check(self) -> None:
        check_label_smoothing(self.label_smoothing)
        _class_weight_1d(self.weight)


@frozen_loss
class NLLLoss(LossBase):
    """``nn.NLLLoss``: a callable ``(input, target) -> nll_loss(...)``.

    Args:
        options: ``weight``, ``ignore_index``, ``reduction``, as ``nll_loss`` takes them
            (same defaults).

    Raises:
        ValueError: an unknown ``reduction``. LossInputError: a ``weight`` that is not
            1-d. Raised at construction, not at the call.

    Example:
        >>> logp = jnp.log(jnp.array([[0.5, 0.5]]))
        >>> round(float(NLLLoss()(logp, jnp.array([1]))), 4)
        0.6931
    """

    weight: ArrayLike | None = None
    _: KW_ONLY
    ignore_index: int = -100
    reduction: str = "mean"
    loss_fn = staticmethod(nll_loss)

    def _check(self) -> None:
        _class_weight_1d(self.weight)


@frozen_loss
class BCELoss(LossBase):
    """``nn.BCELoss``: a callable ``(input, target) -> binary_cross_entropy(...)``.

    Args:
        options: ``weight``, ``reduction``, as ``binary_cross_entropy`` takes them (same
            defaults).

    Example:
        >>> round(float(BCELoss()(jnp.array([0.5]), jnp.array([1.0]))), 4)
        0.6931
    """

    weight: ArrayLike | None = None
    _: KW_ONLY
    reduction: str = "mean"
    loss_fn = staticmethod(binary_cross_entropy)


@frozen_loss
class BCEWithLogitsLoss(LossBase):
    """``nn.BCEWithLogitsLoss``: a callable ``(input, target) -> loss``.

    Args:
        options: ``weight``, ``reduction``, ``pos_weight``, as
            ``binary_cross_entropy_with_logits`` takes them (same defaults).

    Example:
        >>> criterion = BCEWithLogitsLoss(pos_weight=jnp.array([2.0]))
        >>> criterion
        BCEWithLogitsLoss(pos_weight=array(shape=[1], dtype=float32))
        >>> round(float(criterion(jnp.array([0.0]), jnp.array([1.0]))), 4)
        1.3863
    """

    weight: ArrayLike | None = None
    _: KW_ONLY
    reduction: str = "mean"
    pos_weight: ArrayLike | None = None
    loss_fn = staticmethod(binary_cross_entropy_with_logits)


@frozen_loss
class MSELoss(LossBase):
    """``nn.MSELoss``: a callable ``(input, target) -> mse_loss(...)``.

    Args:
        options: ``reduction``, as ``mse_loss`` takes them (same defaults).

    Example:
        >>> criterion = MSELoss(reduction="sum")
        >>> criterion, float(criterion(jnp.array([1.0, 2.0]), jnp.zeros(2)))
        (MSELoss(reduction='sum'), 5.0)
    """

    _: KW_ONLY
    reduction: str = "mean"
    loss_fn = staticmethod(mse_loss)


@frozen_loss
class L1Loss(LossBase):
    """``nn.L1Loss``: a callable ``(input, target) -> l1_loss(...)``.

    Args:
        options: ``reduction``, as ``l1_loss`` takes them (same defaults).

    Example:
        >>> float(L1Loss()(jnp.array([1.0, -3.0]), jnp.zeros(2)))
        2.0
    """

    _: KW_ONLY
    reduction: str = "mean"
    loss_fn = staticmethod(l1_loss)


@frozen_loss
class HuberLoss(LossBase):
    """``nn.HuberLoss``: a callable ``(input, target) -> huber_loss(...)``.

    Args:
        options: ``reduction``, ``delta``, as ``huber_loss`` takes them (same defaults).

    Raises:
        ValueError: an unknown ``reduction``. LossInputError: ``delta <= 0``. Raised at
            construction, not at the call.

    Example:
        >>> float(HuberLoss(delta=2.0)(jnp.array([3.0]), jnp.array([0.0])))
        4.0
    """

    reduction: str = "mean"
    delta: float = 1.0
    loss_fn = staticmethod(huber_loss)

    def _check(self) -> None:
        check_positive("delta", self.delta, fn="huber_loss")


@frozen_loss
class SmoothL1Loss(LossBase):
    """``nn.SmoothL1Loss``: a callable ``(input, target) -> smooth_l1_loss(...)``.

    Args:
        options: ``reduction``, ``beta``, as ``smooth_l1_loss`` takes them (same
            defaults).

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
    loss_fn = staticmethod(smooth_l1_loss)

    def _check(self) -> None:
        check_positive("beta", self.beta, fn="smooth_l1_loss", allow_zero=True)


@frozen_loss
class TripletMarginLoss(LossBase):
    """``nn.TripletMarginLoss``: a callable ``(anchor, positive, negative) -> loss``.

    Args:
        options: ``margin``, ``p``, ``eps``, ``swap``, ``reduction``, as
            ``triplet_margin_loss`` takes them (same defaults).

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
    loss_fn = staticmethod(triplet_margin_loss)

    def _check(self) -> None:
        check_triplet_options(self.margin, self.p)


@frozen_loss
class KLDivLoss(LossBase):
    """``nn.KLDivLoss``: a callable ``(input, target) -> kl_div(...)``.

    Args:
        options: ``reduction``, ``log_target``, as ``kl_div`` takes them (same
            defaults).

    Example:
        >>> logq = jnp.log(jnp.array([[0.5, 0.5]]))
        >>> KLDivLoss(reduction="batchmean")(logq, jnp.array([[0.5, 0.5]])).tolist()
        0.0
    """

    _: KW_ONLY
    reduction: str = "mean"
    log_target: bool = False
    loss_fn = staticmethod(kl_div)
    reductions = ("mean", "batchmean", "sum", "none")


@frozen_loss
class CosineEmbeddingLoss(LossBase):
    """``nn.CosineEmbeddingLoss``: a callable ``(input1, input2, target) -> loss``.

    Args:
        options: ``margin``, ``reduction``, as ``cosine_embedding_loss`` takes them
            (same defaults).

    Example:
        >>> x = jnp.array([[1.0, 0.0]])
        >>> CosineEmbeddingLoss(margin=0.5)(x, x, jnp.array([-1])).tolist()
        0.5
    """

    margin: float = 0.0
    _: KW_ONLY
    reduction: str = "mean"
    loss_fn = staticmethod(cosine_embedding_loss)


@frozen_loss
class MarginRankingLoss(LossBase):
    """``nn.MarginRankingLoss``: a callable ``(input1, input2, target) -> loss``.

    Args:
        options: ``margin``, ``reduction``, as ``margin_ranking_loss`` takes them
            (same defaults).

    Example:
        >>> criterion = MarginRankingLoss(margin=1.0)
        >>> float(criterion(jnp.array([0.5]), jnp.array([0.0]), jnp.array([1.0])))
        0.5
    """

    margin: float = 0.0
    _: KW_ONLY
    reduction: str = "mean"
    loss_fn = staticmethod(margin_ranking_loss)


@frozen_loss
class HingeEmbeddingLoss(LossBase):
    """``nn.HingeEmbeddingLoss``: a callable ``(input, target) -> loss``.

    Args:
        options: ``margin``, ``reduction``, as ``hinge_embedding_loss`` takes them
            (same defaults).

    Example:
        >>> float(HingeEmbeddingLoss(margin=2.0)(jnp.array([0.5]), jnp.array([-1.0])))
        1.5
    """

    margin: float = 1.0
    _: KW_ONLY
    reduction: str = "mean"
    loss_fn = staticmethod(hinge_embedding_loss)


@frozen_loss
class SoftMarginLoss(LossBase):
    """``nn.SoftMarginLoss``: a callable ``(input, target) -> soft_margin_loss(...)``.

    Args:
        options: ``reduction``, as ``soft_margin_loss`` takes it (same default).

    Example:
        >>> round(float(SoftMarginLoss()(jnp.array([0.0]), jnp.array([1.0]))), 4)
        0.6931
    """

    _: KW_ONLY
    reduction: str = "mean"
    loss_fn = staticmethod(soft_margin_loss)


@frozen_loss
class MultiLabelSoftMarginLoss(LossBase):
    """``nn.MultiLabelSoftMarginLoss``: a callable ``(input, target) -> loss``.

    Args:
        options: ``weight``, ``reduction``, as ``multilabel_soft_margin_loss`` takes
            them (same defaults).

    Example:
        >>> criterion = MultiLabelSoftMarginLoss(weight=jnp.array([2.0, 0.0]))
        >>> round(float(criterion(jnp.zeros((1, 2)), jnp.array([[1.0, 0.0]]))), 4)
        0.6931
    """

    weight: ArrayLike | None = None
    _: KW_ONLY
    reduction: str = "mean"
    loss_fn = staticmethod(multilabel_soft_margin_loss)


@frozen_loss
class MultiMarginLoss(LossBase):
    """``nn.MultiMarginLoss``: a callable ``(input, target) -> multi_margin_loss(...)``.

    Args:
        options: ``p``, ``margin``, ``weight``, ``reduction``, as
            ``multi_margin_loss`` takes them (same defaults).

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
    loss_fn = staticmethod(multi_margin_loss)

    def _check(self) -> None:
        check_multi_margin_options(self.p, self.weight)


@frozen_loss
class MultiLabelMarginLoss(LossBase):
    """``nn.MultiLabelMarginLoss``: a callable ``(input, target) -> loss``.

    Args:
        options: ``reduction``, as ``multilabel_margin_loss`` takes it.

    Example:
        >>> x, y = jnp.array([[0.1, 0.2, 0.4, 0.8]]), jnp.array([[3, 0, -1, 1]])
        >>> round(float(MultiLabelMarginLoss()(x, y)), 4)
        0.85
    """

    _: KW_ONLY
    reduction: str = "mean"
    loss_fn = staticmethod(multilabel_margin_loss)


@frozen_loss
class TripletMarginWithDistanceLoss(LossBase):
    """``nn.TripletMarginWithDistanceLoss``: a callable ``(anchor, positive,
    negative) -> triplet_margin_with_distance_loss(...)``.

    Args:
        options: ``distance_function``, ``margin``, ``swap``, ``reduction``
            (keyword-only, as torch), as ``triplet_margin_with_distance_loss`` takes
            them (same defaults).

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
    loss_fn = staticmethod(triplet_margin_with_distance_loss)

    def _check(self) -> None:
        check_distance_margin(self.margin)


@frozen_loss
class PoissonNLLLoss(LossBase):
    """``nn.PoissonNLLLoss``: a callable ``(input, target) -> poisson_nll_loss(...)``.

    Args:
        options: ``log_input``, ``full``, ``eps``, ``reduction``, as
            ``poisson_nll_loss`` takes them (same defaults).

    Example:
        >>> criterion = PoissonNLLLoss(log_input=False)
        >>> criterion, round(float(criterion(jnp.array([2.0]), jnp.array([2.0]))), 4)
        (PoissonNLLLoss(log_input=False), 0.6137)
    """

    log_input: bool = True
    full: bool = False
    _: KW_ONLY
    eps: float = 1e-8
    reduction: str = "mean"
    loss_fn = staticmethod(poisson_nll_loss)


@frozen_loss
class GaussianNLLLoss(LossBase):
    """``nn.GaussianNLLLoss``: a callable ``(input, target, var) -> loss``.

    Args:
        options: ``full``, ``eps``, ``reduction`` (keyword-only, as torch), as
            ``gaussian_nll_loss`` takes them (same defaults).

    Example:
        >>> criterion = GaussianNLLLoss(reduction="sum")
        >>> float(criterion(jnp.array([1.0, 2.0]), jnp.array([0.0, 2.0]), 1.0))
        0.5
    """

    _: KW_ONLY
    full: bool = False
    eps: float = 1e-6
    reduction: str = "mean"
    loss_fn = staticmethod(gaussian_nll_loss)


@frozen_loss
class CTCLoss(LossBase):
    """``nn.CTCLoss``: a callable ``(log_probs, targets, input_lengths,
    target_lengths) -> ctc_loss(...)``.

    Args:
        options: ``blank``, ``reduction``, ``zero_infinity``, as ``ctc_loss`` takes
            them (same defaults).

    Example:
        >>> lp = jnp.log(jnp.full((2, 1, 2), 0.5))
        >>> criterion = CTCLoss(reduction="sum")
        >>> criterion, round(float(criterion(lp, jnp.array([[1]]), [2], [1])), 4)
        (CTCLoss(reduction='sum'), 0.2877)
    """

    blank: int = 0
    reduction: str = "mean"
    zero_infinity: bool = False
    loss_fn = staticmethod(ctc_loss)
