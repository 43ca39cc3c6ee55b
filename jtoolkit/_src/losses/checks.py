"""Argument and input checks shared by the losses, raised before any computation.

Shapes are static under ``jax.jit``, so shape and dtype checks always run. Value checks
(class indices in range, probabilities in [0, 1]) need concrete data: they run on numpy
arrays, Python lists and non-traced ``jax.Array``s, and are skipped for traced values
(inside ``jax.jit``/``jax.grad``/``jax.vmap``), where a Python exception cannot
depend on data. There the bad elements give ``nan`` instead (see each loss's docstring).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core.checks import shape_str
from jtoolkit._src.core.eager_jit import (
    NeedsValues,
    check_values,
    tracing_for_eager_jit,
)

__all__ = [
    "LossInputError",
    "TargetOutOfBoundsError",
    "as_float",
    "check_broadcast",
    "check_label_smoothing",
    "check_positive",
    "check_reduction",
    "check_same_shape",
    "check_unit_interval",
    "check_weight_broadcasts",
    "concrete_values",
    "warn_if_broadcasting",
]


REDUCTIONS = ("mean", "sum", "none")


class LossInputError(ValueError, RuntimeError):
    """Bad loss input: both a ValueError and a RuntimeError, as torch raises either.

    torch raises ValueError for some shape mismatches (BCE target size, batch sizes)
    and RuntimeError for others (K-dim target size, broadcasting, dtypes, value
    ranges); this class satisfies ``except`` clauses written for either.
    """


class TargetOutOfBoundsError(IndexError, LossInputError):
    """A class index outside ``[0, C-1]``; torch raises ``IndexError`` for it."""


def concrete_values(x) -> np.ndarray | None:
    """``x`` as a numpy array, or None when it is traced (its values unknown).

    Uses the public ``jax.errors.TracerArrayConversionError`` rather than an
    ``isinstance`` check on ``jax.core.Tracer`` (an internal module).
    """
    try:
        return np.asarray(x)
    except (
        jax.errors.TracerArrayConversionError,
        jax.errors.ConcretizationTypeError,
    ):
        if tracing_for_eager_jit():  # the caller has the values: check eagerly
            raise NeedsValues("a check needs concrete values") from None
        return None


def check_reduction(reduction, allowed: Sequence[str] = REDUCTIONS) -> None:
    """Raise ValueError unless ``reduction`` is one of ``allowed``."""
    if not isinstance(reduction, str) or reduction not in allowed:
        names = ", ".join(repr(a) for a in allowed)
        raise ValueError(
            f"{reduction!r} is not a valid value for reduction; "
            f"expected one of {names}."
        )


def as_float(x, dtype=None) -> jax.Array:
    """``x`` as a floating ``jax.Array`` (ints and bools become the default float)."""
    arr = jnp.asarray(x)
    if dtype is not None:
        return arr.astype(dtype)
    if not jnp.issubdtype(arr.dtype, jnp.inexact):
        arr = arr.astype(jnp.result_type(float))
    return arr


def check_positive(name: str, value, *, fn: str, allow_zero: bool = False) -> None:
    """Raise like torch when a Python-number option is negative (or zero).

    torch's wording (``"huber_loss does not support non-positive values for
    delta"``) rather than core's grammar, so a user can search for it.
    """
    if not isinstance(value, numbers.Real):
        return  # a traced option cannot be checked
    bad = value < 0 if allow_zero else value <= 0
    if bad or math.isnan(value):
        kind = "negative" if allow_zero else "non-positive"
        raise LossInputError(
            f"{fn} does not support {kind} values for {name}; got {name}={value}."
        )


def check_label_smoothing(label_smoothing) -> None:
    """Raise unless a Python-number ``label_smoothing`` lies in [0, 1]."""
    if (
        isinstance(label_smoothing, numbers.Real)
        and not 0.0 <= float(label_smoothing) <= 1.0
    ):
        raise LossInputError(
            "label_smoothing must be between 0.0 and 1.0. "
            f"Got: {label_smoothing}; pass a value in [0.0, 1.0]."
        )


def _broadcast_shape(a: Sequence[int], b: Sequence[int], what: str) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(tuple(a), tuple(b)))
    except ValueError:
        pass
    for dim in range(-1, -min(len(a), len(b)) - 1, -1):
        if a[dim] != b[dim] and 1 not in (a[dim], b[dim]):
            break
    raise LossInputError(
        f"The size of tensor a ({a[dim]}) must match the size of tensor b ({b[dim]}) "
        f"at non-singleton dimension {max(len(a), len(b)) + dim}: {what} "
        f"{shape_str(a)} and {shape_str(b)} do not broadcast; pass arrays of the "
        "same shape."
    )


def check_broadcast(
    input_shape, target_shape, what: str = "input and target shapes"
) -> tuple[int, ...]:
    """The broadcast shape of input and target, or LossInputError naming both."""
    return _broadcast_shape(input_shape, target_shape, what)


def warn_if_broadcasting(
    input_shape, target_shape, stacklevel: int = 3
) -> tuple[int, ...]:
    """torch's UserWarning when input and target differ in shape but broadcast."""
    out = check_broadcast(input_shape, target_shape)
    if tuple(input_shape) != tuple(target_shape):
        warnings.warn(
            f"Using a target size ({shape_str(target_shape)}) that is different to the "
            f"input size ({shape_str(input_shape)}). This will likely lead to "
            "incorrect "
            "results due to broadcasting. Please ensure they have the same size.",
            UserWarning,
            stacklevel=stacklevel,
        )
    return out


def check_same_shape(input_shape, target_shape, message: str) -> None:
    """LossInputError with ``message`` (formatted with both shapes) unless equal."""
    if tuple(input_shape) != tuple(target_shape):
        raise LossInputError(
            message.format(target=shape_str(target_shape), input=shape_str(input_shape))
        )


def check_weight_broadcasts(weight_shape, input_shape, name: str = "weight") -> None:
    """LossInputError unless ``weight`` broadcasts to exactly ``input_shape``."""
    out = _broadcast_shape(weight_shape, input_shape, f"{name} and input shapes")
    if out != tuple(input_shape):
        raise LossInputError(
            f"{name} of shape {shape_str(weight_shape)} must broadcast to the input "
            "shape "
            f"{shape_str(input_shape)}, but broadcasting gives {shape_str(out)}."
        )


def check_unit_interval(x, name: str) -> None:
    """When concrete, raise like torch unless every element lies in [0, 1] (no nan)."""

    def in_unit_interval(values: np.ndarray) -> None:
        ok = (values >= 0) & (values <= 1)
        if not ok.all():
            bad = values[~ok].ravel()[0]
            raise LossInputError(
                f"all elements of {name} should be between 0 and 1, but got {bad} "
                f"({int((~ok).sum())} of {values.size} elements are outside [0, 1] "
                "or nan)."
            )

    check_values(x, in_unit_interval)
