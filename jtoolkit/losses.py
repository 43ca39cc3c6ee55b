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
* ``soft_margin_loss`` is a softplus: finite where torch's ``log1p(exp(-y x))``
  overflows to inf. ``poisson_nll_loss(full=True)``'s gradient with respect to a
  target of 0 is finite (torch: nan).
* ``ctc_loss`` runs the log-space forward recursion under ``lax.scan`` (jittable,
  lengths and targets may be traced); its gradient with respect to ``log_probs``
  is torch's, including the ``exp(log_probs)`` term torch's kernel adds.

Example:
    >>> criterion = CrossEntropyLoss()
    >>> logits, labels = jnp.array([[1.0, 2.0, 0.5]]), jnp.array([1])
    >>> round(float(criterion(logits, labels)), 4)
    0.4644
"""

from jtoolkit._src.losses.checks import LossInputError, TargetOutOfBoundsError
from jtoolkit._src.losses.classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)
from jtoolkit._src.losses.ctc import ctc_loss
from jtoolkit._src.losses.custom import alpha_mse_l1_loss, custom_loss, multi_task_loss
from jtoolkit._src.losses.embedding import (
    cosine_embedding_loss,
    triplet_margin_with_distance_loss,
)
from jtoolkit._src.losses.margin import (
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
)
from jtoolkit._src.losses.modules import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    CTCLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    NLLLoss,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)
from jtoolkit._src.losses.probabilistic import gaussian_nll_loss, poisson_nll_loss
from jtoolkit._src.losses.regression import (
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    smooth_l1_loss,
)
from jtoolkit._src.losses.triplet import triplet_margin_loss

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
    "LossInputError",
    "MSELoss",
    "MarginRankingLoss",
    "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "NLLLoss",
    "PoissonNLLLoss",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "TargetOutOfBoundsError",
    "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
    "alpha_mse_l1_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "ctc_loss",
    "custom_loss",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "margin_ranking_loss",
    "mse_loss",
    "multi_margin_loss",
    "multi_task_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]
