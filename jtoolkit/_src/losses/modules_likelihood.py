"""Module-style constructors of the likelihood losses: Poisson, Gaussian, CTC.

Same frozen-dataclass base as ``modules.py``; public through ``jtoolkit.losses``.
"""

from __future__ import annotations

from dataclasses import KW_ONLY

import jax
from jax.typing import ArrayLike

from jtoolkit._src.losses.checks import check_reduction
from jtoolkit._src.losses.ctc import ctc_loss
from jtoolkit._src.losses.modules import LossBase, frozen_loss
from jtoolkit._src.losses.probabilistic import gaussian_nll_loss, poisson_nll_loss

__all__ = ["CTCLoss", "GaussianNLLLoss", "PoissonNLLLoss"]


@frozen_loss
class PoissonNLLLoss(LossBase):
    """``nn.PoissonNLLLoss``: a callable ``(input, target) -> poisson_nll_loss(...)``.

    Args:
        options: ``log_input``, ``full``, ``eps``, ``reduction``, as
            ``poisson_nll_loss`` takes them (same defaults).

    Returns:
        A frozen callable; calling it returns ``poisson_nll_loss(..., **options)``.

    Raises:
        ValueError: an unknown ``reduction``. Raised at construction, not at the call.

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

    def __post_init__(self) -> None:
        check_reduction(self.reduction)

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return poisson_nll_loss(
            input,
            target,
            self.log_input,
            self.full,
            eps=self.eps,
            reduction=self.reduction,
        )


@frozen_loss
class GaussianNLLLoss(LossBase):
    """``nn.GaussianNLLLoss``: a callable ``(input, target, var) -> loss``.

    Args:
        options: ``full``, ``eps``, ``reduction`` (keyword-only, as torch), as
            ``gaussian_nll_loss`` takes them (same defaults).

    Returns:
        A frozen callable; calling it returns ``gaussian_nll_loss(..., **options)``.

    Raises:
        ValueError: an unknown ``reduction``. Raised at construction, not at the call.

    Example:
        >>> criterion = GaussianNLLLoss(reduction="sum")
        >>> float(criterion(jnp.array([1.0, 2.0]), jnp.array([0.0, 2.0]), 1.0))
        0.5
    """

    _: KW_ONLY
    full: bool = False
    eps: float = 1e-6
    reduction: str = "mean"

    def __post_init__(self) -> None:
        check_reduction(self.reduction)

    def __call__(
        self, input: ArrayLike, target: ArrayLike, var: ArrayLike | float
    ) -> jax.Array:
        return gaussian_nll_loss(
            input, target, var, self.full, self.eps, self.reduction
        )


@frozen_loss
class CTCLoss(LossBase):
    """``nn.CTCLoss``: a callable ``(log_probs, targets, input_lengths,
    target_lengths) -> ctc_loss(...)``.

    Args:
        options: ``blank``, ``reduction``, ``zero_infinity``, as ``ctc_loss`` takes
            them (same defaults).

    Returns:
        A frozen callable; calling it returns ``ctc_loss(..., **options)``.

    Raises:
        ValueError: an unknown ``reduction``. Raised at construction, not at the call.

    Example:
        >>> lp = jnp.log(jnp.full((2, 1, 2), 0.5))
        >>> criterion = CTCLoss(reduction="sum")
        >>> criterion, round(float(criterion(lp, jnp.array([[1]]), [2], [1])), 4)
        (CTCLoss(reduction='sum'), 0.2877)
    """

    blank: int = 0
    reduction: str = "mean"
    zero_infinity: bool = False

    def __post_init__(self) -> None:
        check_reduction(self.reduction)

    def __call__(
        self,
        log_probs: ArrayLike,
        targets: ArrayLike,
        input_lengths: ArrayLike,
        target_lengths: ArrayLike,
    ) -> jax.Array:
        return ctc_loss(
            log_probs,
            targets,
            input_lengths,
            target_lengths,
            self.blank,
            self.reduction,
            self.zero_infinity,
        )
