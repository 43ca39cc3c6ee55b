"""Module-style loss constructors, as torch's ``criterion = nn.CrossEntropyLoss()``.

Each is a small frozen dataclass holding the options: built once (options validated
then), called like a function, ``criterion(output, target)``, anywhere the functional
loss can be called (eager, ``jax.jit``, ``jax.grad``). Its repr, like torch's, lists
only the options that differ from their defaults. They hold no state and no
parameters; ``weight``/``pos_weight`` arrays are captured as constants.

This file holds the shared base and the classification losses; the others are in
``modules_regression.py`` (regression and distance), ``modules_margin.py`` (margin,
hinge and embedding) and ``modules_likelihood.py`` (Poisson, Gaussian, CTC). Public
through ``jtoolkit.losses``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import KW_ONLY
from typing import Any, ClassVar

import jax
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import shape_str
from jtoolkit._src.losses.checks import (
    LossInputError,
    check_label_smoothing,
    check_reduction,
)
from jtoolkit._src.losses.classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "LossBase",
    "NLLLoss",
    "frozen_loss",
]


frozen_loss = dataclasses.dataclass(frozen=True, eq=False, repr=False)


def _show(value) -> str:
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"array(shape={shape_str(value.shape)}, dtype={value.dtype})"
    return repr(value)


def _is_default(value, default) -> bool:
    if value is default:
        return True
    scalar = (str, int, float, bool)
    return (
        isinstance(value, scalar) and isinstance(default, scalar) and value == default
    )


def _class_weight_1d(weight) -> None:
    if weight is not None and np.ndim(weight) != 1:
        raise LossInputError(
            f"weight must be a 1-d array of per-class weights [C], got shape "
            f"{shape_str(np.shape(weight))}."
        )


class LossBase:
    """torch-like repr: the class name and the options that differ from defaults."""

    __dataclass_fields__: ClassVar[dict[str, Any]]  # every loss is a dataclass

    def __repr__(self) -> str:
        shown = [
            f"{f.name}={_show(getattr(self, f.name))}"
            for f in dataclasses.fields(self)
            if not _is_default(getattr(self, f.name), f.default)
        ]
        return f"{type(self).__name__}({', '.join(shown)})"


@frozen_loss
class CrossEntropyLoss(LossBase):
    """``nn.CrossEntropyLoss``: a callable ``(input, target) -> cross_entropy(...)``.

    Args:
        options: ``weight``, ``ignore_index``, ``reduction``, ``label_smoothing``, as
            ``cross_entropy`` takes them (same defaults).

    Returns:
        A frozen callable; calling it returns ``cross_entropy(..., **options)``.

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

    def __post_init__(self) -> None:
        check_reduction(self.reduction)
        check_label_smoothing(self.label_smoothing)
        _class_weight_1d(self.weight)

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


@frozen_loss
class NLLLoss(LossBase):
    """``nn.NLLLoss``: a callable ``(input, target) -> nll_loss(...)``.

    Args:
        options: ``weight``, ``ignore_index``, ``reduction``, as ``nll_loss`` takes them
            (same defaults).

    Returns:
        A frozen callable; calling it returns ``nll_loss(..., **options)``.

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

    def __post_init__(self) -> None:
        check_reduction(self.reduction)
        _class_weight_1d(self.weight)

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return nll_loss(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )


@frozen_loss
class BCELoss(LossBase):
    """``nn.BCELoss``: a callable ``(input, target) -> binary_cross_entropy(...)``.

    Args:
        options: ``weight``, ``reduction``, as ``binary_cross_entropy`` takes them (same
            defaults).

    Returns:
        A frozen callable; calling it returns ``binary_cross_entropy(..., **options)``.

    Raises:
        ValueError: an unknown ``reduction``. Raised at construction, not at the call.

    Example:
        >>> round(float(BCELoss()(jnp.array([0.5]), jnp.array([1.0]))), 4)
        0.6931
    """

    weight: ArrayLike | None = None
    _: KW_ONLY
    reduction: str = "mean"

    def __post_init__(self) -> None:
        check_reduction(self.reduction)

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return binary_cross_entropy(
            input, target, self.weight, reduction=self.reduction
        )


@frozen_loss
class BCEWithLogitsLoss(LossBase):
    """``nn.BCEWithLogitsLoss``: a callable ``(input, target) -> loss``.

    Args:
        options: ``weight``, ``reduction``, ``pos_weight``, as
            ``binary_cross_entropy_with_logits`` takes them (same defaults).

    Returns:
        A frozen callable; calling it returns ``binary_cross_entropy_with_logits(...,
            **options)``.

    Raises:
        ValueError: an unknown ``reduction``. Raised at construction, not at the call.

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

    def __post_init__(self) -> None:
        check_reduction(self.reduction)

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return binary_cross_entropy_with_logits(
            input,
            target,
            self.weight,
            reduction=self.reduction,
            pos_weight=self.pos_weight,
        )
