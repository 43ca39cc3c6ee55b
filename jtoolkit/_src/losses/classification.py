"""Classification losses: cross_entropy, nll_loss and the two binary cross-entropies.

Public through ``jtoolkit.losses``; see that module for the overview.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import shape_str
from jtoolkit._src.core.eager_jit import check_values, eager_jit
from jtoolkit._src.losses.checks import (
    LossInputError,
    TargetOutOfBoundsError,
    as_float,
    check_label_smoothing,
    check_reduction,
    check_same_shape,
    check_unit_interval,
    check_weight_broadcasts,
)
from jtoolkit._src.losses.elementwise import (
    bce_elementwise,
    bce_with_logits_elementwise,
    class_index_terms,
    reduce,
)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "nll_loss",
]


def _class_input(input: ArrayLike, loss: str) -> jax.Array:
    x = as_float(input)
    if x.ndim == 0:
        raise LossInputError(
            f"{loss} expects input of shape [C], [N, C] or [N, C, d1, ...] with the "
            f"classes at dim 1, but got a 0-d input of shape {shape_str(x.shape)}."
        )
    return x


def _class_weight(weight, num_classes: int, dtype) -> jax.Array | None:
    if weight is None:
        return None
    w = as_float(weight, dtype)
    if w.shape != (num_classes,):
        raise LossInputError(
            f"weight tensor should be defined either for all {num_classes} classes or "
            f"no classes but got weight tensor of shape: {shape_str(w.shape)}."
        )
    return w


def _check_index_target(
    x: jax.Array, target: jax.Array, ignore_index: int
) -> jax.Array:
    """Shape, dtype and (when concrete) range checks of class-index targets.

    Returns the target; a ``[1]`` target of a 1-d input is its scalar, as torch.
    """
    expected = x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()
    if x.ndim == 1 and target.shape == (1,):
        target = target.reshape(())
    if target.shape != expected:
        batch = (
            f"Expected input batch_size ({x.shape[0]}) to match target batch_size "
            f"({target.shape[0] if target.ndim else 'none'}). "
            if x.ndim == 2
            else ""
        )
        raise LossInputError(
            f"{batch}Expected target size {shape_str(expected)}, got "
            f"{shape_str(target.shape)}: input {shape_str(x.shape)} has its classes "
            "at dim 1 (or dim 0 when 1-d), and class-index targets have the input's "
            "shape without that dim."
        )
    if not jnp.issubdtype(target.dtype, jnp.integer):
        raise LossInputError(
            f"expected target dtype to be an integer type (class indices), but got "
            f"{target.dtype} for target of shape {shape_str(target.shape)}; "
            f"probability targets must have the input's shape {shape_str(x.shape)}."
        )
    num_classes = x.shape[1] if x.ndim > 1 else x.shape[0]

    def in_range(t: np.ndarray) -> None:
        bad = (t != ignore_index) & ((t < 0) | (t >= num_classes))
        if bad.any():
            raise TargetOutOfBoundsError(
                f"Target {t[bad].ravel()[0]} is out of bounds: class indices must lie "
                f"in [0, {num_classes - 1}] (input has {num_classes} classes) or equal "
                f"ignore_index={ignore_index}."
            )

    check_values(target, in_range)
    return target


def _is_zero(value) -> bool:
    """True for a Python-number 0 (a traced option is never skipped)."""
    return isinstance(value, numbers.Real) and value == 0


def _weighted_reduce(loss: jax.Array, w_y: jax.Array, reduction: str) -> jax.Array:
    """torch's nll reduction; "mean" divides by the sum of the targets' weights."""
    if reduction == "mean":
        return jnp.sum(loss) / jnp.sum(w_y)
    return reduce(loss, reduction)


def _index_loss(logp, target, weight, ignore_index, reduction, label_smoothing):
    """Class-index cross-entropy on ``[N, C, ...]`` log-probabilities."""
    nll, w_y, valid = class_index_terms(logp, target, weight, ignore_index)
    out = _weighted_reduce(nll, w_y, reduction)
    if _is_zero(label_smoothing):
        return out
    num_classes = logp.shape[1]
    w_c = 1.0 if weight is None else weight.reshape((-1,) + (1,) * (logp.ndim - 2))
    smooth = jnp.where(valid, -jnp.sum(logp * w_c, axis=1), jnp.zeros_like(nll))
    smooth_out = _weighted_reduce(smooth, w_y, reduction)
    return (1 - label_smoothing) * out + label_smoothing / num_classes * smooth_out


def _probability_loss(logp, target, weight, reduction, label_smoothing):
    """Cross-entropy with class-probability targets ``[N, C, ...]``; mean over N..."""
    num_classes = logp.shape[1]
    p = as_float(target, logp.dtype)
    if not _is_zero(label_smoothing):
        p = p * (1 - label_smoothing) + label_smoothing / num_classes
    terms = logp * p
    if weight is not None:
        terms = terms * weight.reshape((-1,) + (1,) * (logp.ndim - 2))
    return reduce(-jnp.sum(terms, axis=1), reduction)


@eager_jit
def cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> jax.Array:
    """Cross-entropy of logits and class indices or class probabilities.

    torch counterpart: ``torch.nn.functional.cross_entropy`` (same formula, weighted
    mean, ``ignore_index`` and ``label_smoothing`` semantics; torch's deprecated
    ``size_average``/``reduce`` are not accepted).

    Args:
        input: logits, float ``[C]``, ``[N, C]`` or ``[N, C, d1, ...]`` (classes at
            dim 1, as torch).
        target: class indices, any integer dtype (JAX's default int32 included;
            torch wants int64), of shape ``[]``, ``[N]`` or ``[N, d1, ...]``; or
            class probabilities, float, of the input's shape.
        weight: per-class weights ``[C]``. With indices, "mean" divides by the sum
            of the targets' weights; with probabilities, by the element count.
        ignore_index: index targets equal to it count neither in the numerator nor
            in the denominator (all ignored gives nan, as torch). With probability
            targets only a negative value is allowed.
        reduction: "mean", "sum" or "none".
        label_smoothing: ε in [0, 1]; the loss becomes (1-ε)·CE + ε/C·Σ_c(-w_c·logp_c),
            both terms divided by the same weighted count in "mean", as torch.

    Returns:
        The scalar loss, or per-element losses of the target's shape with "none".

    Raises:
        LossInputError (a ValueError and a RuntimeError): shapes, dtypes or options
            that torch rejects, naming the shapes. TargetOutOfBoundsError (also an
            IndexError): a concrete index outside ``[0, C-1]``; under ``jax.jit`` such
            an index cannot raise and gives nan instead.
        ValueError: an unknown ``reduction``.

    Example:
        >>> logits = jnp.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> round(float(cross_entropy(logits, jnp.array([0, 2]))), 4)
        0.1755
    """
    check_reduction(reduction)
    check_label_smoothing(label_smoothing)
    x = _class_input(input, "cross_entropy")
    num_classes = x.shape[1] if x.ndim > 1 else x.shape[0]
    w = _class_weight(weight, num_classes, x.dtype)
    t = jnp.asarray(target)
    unbatched = x.ndim == 1
    if t.shape == x.shape:
        if not jnp.issubdtype(t.dtype, jnp.floating):
            raise LossInputError(
                f"Expected floating point type for target with class probabilities, "
                f"got {t.dtype}: a target of the input's shape {shape_str(x.shape)} "
                "holds probabilities; class indices have the input's shape without "
                "dim 1."
            )
        if ignore_index >= 0:
            raise LossInputError(
                "ignore_index is not supported for floating point target; got "
                f"ignore_index={ignore_index} with probability targets."
            )
        x, t = (x[None], t[None]) if unbatched else (x, t)
        logp = jax.nn.log_softmax(x, axis=1)
        out = _probability_loss(logp, t, w, reduction, label_smoothing)
    else:
        t = _check_index_target(x, t, ignore_index)
        x, t = (x[None], t[None]) if unbatched else (x, t)
        logp = jax.nn.log_softmax(x, axis=1)
        out = _index_loss(logp, t, w, ignore_index, reduction, label_smoothing)
    return out[0] if unbatched and reduction == "none" else out


@eager_jit
def nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> jax.Array:
    """Negative log-likelihood of log-probabilities at class-index targets.

    torch counterpart: ``torch.nn.functional.nll_loss``. ``nll_loss(log_softmax(x,
    1), t)`` equals ``cross_entropy(x, t)``.

    Args:
        input: log-probabilities, float ``[C]``, ``[N, C]`` or ``[N, C, d1, ...]``.
        target: integer class indices ``[]``, ``[N]`` or ``[N, d1, ...]``.
        weight: per-class weights ``[C]``; "mean" divides by the sum of the
            targets' weights.
        ignore_index: targets equal to it are left out of numerator and
            denominator (all ignored gives nan, as torch).
        reduction: "mean", "sum" or "none".

    Returns:
        The scalar loss, or per-element losses of the target's shape with "none".

    Raises:
        LossInputError: shape/dtype mismatch (float targets included), naming the
            shapes. TargetOutOfBoundsError: a concrete index outside ``[0, C-1]``
            (under ``jax.jit``: nan instead). ValueError: an unknown ``reduction``.

    Example:
        >>> logp = jnp.log(jnp.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
        >>> round(float(nll_loss(logp, jnp.array([0, 2]), reduction="sum")), 4)
        0.9163
    """
    check_reduction(reduction)
    x = _class_input(input, "nll_loss")
    num_classes = x.shape[1] if x.ndim > 1 else x.shape[0]
    w = _class_weight(weight, num_classes, x.dtype)
    t = jnp.asarray(target)
    t = _check_index_target(x, t, ignore_index)
    unbatched = x.ndim == 1
    x, t = (x[None], t[None]) if unbatched else (x, t)
    out = _index_loss(x, t, w, ignore_index, reduction, 0.0)
    return out[0] if unbatched and reduction == "none" else out


def _elementwise_weight(weight, x: jax.Array, name: str) -> jax.Array | None:
    if weight is None:
        return None
    w = as_float(weight, x.dtype)
    check_weight_broadcasts(w.shape, x.shape, name)
    return w


def _binary_operands(input, target, weight, reduction: str, logits: bool):
    """The BCE losses' prelude: ``reduction`` checked, input and target as one float
    dtype and one shape (torch's message otherwise), the weight broadcast."""
    check_reduction(reduction)
    x = as_float(input)
    y = as_float(target, x.dtype)
    if logits:
        message = "Target size ({target}) must be the same as input size ({input})."
    else:
        message = (
            "Using a target size ({target}) that is different to the input size "
            "({input}) is deprecated. Please ensure they have the same size."
        )
    check_same_shape(x.shape, y.shape, message)
    return x, y, _elementwise_weight(weight, x, "weight")


@eager_jit
def binary_cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    *,
    reduction: str = "mean",
) -> jax.Array:
    """Binary cross-entropy of probabilities, with torch's clamps in value and gradient.

    torch counterpart: ``torch.nn.functional.binary_cross_entropy``. Each log is
    clamped at -100 (p = 0 with y = 1 gives 100), and the gradient is torch's
    ``w (p - y) / max(p (1 - p), 1e-12)``: finite at p = 0 and p = 1, where plain
    JAX autodiff gives nan.

    Args:
        input: probabilities in [0, 1], float, any shape.
        target: targets in [0, 1] of the input's shape (ints are cast to float).
        weight: rescaling weight broadcastable to the input's shape.
        reduction: "mean", "sum" or "none" ("mean" is a plain mean of the weighted
            elements).

    Returns:
        The scalar loss, or per-element losses of the input's shape with "none".

    Raises:
        LossInputError: target or weight shape mismatch, naming both shapes; a
            concrete input or target outside [0, 1] (or nan), as torch. Under
            ``jax.jit`` such values cannot raise: out-of-range p gives nan.
        ValueError: an unknown ``reduction``.

    Example:
        >>> p, y = jnp.array([0.9, 0.2, 0.0]), jnp.array([1.0, 0.0, 1.0])
        >>> loss = binary_cross_entropy(p, y, reduction="none")
        >>> np.asarray(loss, dtype=float).round(4).tolist()
        [0.1054, 0.2231, 100.0]
    """
    x, y, w = _binary_operands(input, target, weight, reduction, logits=False)
    check_unit_interval(input, "input")
    check_unit_interval(target, "target")
    loss = bce_elementwise(x, y)
    return reduce(loss if w is None else loss * w, reduction)


@eager_jit
def binary_cross_entropy_with_logits(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    *,
    reduction: str = "mean",
    pos_weight: ArrayLike | None = None,
) -> jax.Array:
    """Sigmoid + binary cross-entropy in one numerically stable step.

    torch counterpart: ``torch.nn.functional.binary_cross_entropy_with_logits``:
    ``-w [pw y log σ(z) + (1 - y) log σ(-z)]``, computed as torch does,
    ``(1 - y) z - (1 + (pw - 1) y) log σ(z)``, finite for |z| ~ 100 and beyond, with
    torch's backward formula (accurate where σ(z) is tiny).

    Args:
        input: logits, float, any shape.
        target: targets (usually in [0, 1]) of the input's shape.
        weight: rescaling weight broadcastable to the input's shape.
        reduction: "mean", "sum" or "none" (plain mean of the weighted elements).
        pos_weight: weight of the positive term, broadcastable to the input's shape
            (usually ``[C]``, along the last dim).

    Returns:
        The scalar loss, or per-element losses of the input's shape with "none".

    Raises:
        LossInputError: target, weight or pos_weight shape mismatch, naming the
            shapes. ValueError: an unknown ``reduction``.

    Example:
        >>> z, y = jnp.array([100.0, -100.0, 0.0]), jnp.array([0.0, 1.0, 1.0])
        >>> binary_cross_entropy_with_logits(z, y, reduction="none").tolist()
        [100.0, 100.0, 0.6931471824645996]
    """
    z, y, w = _binary_operands(input, target, weight, reduction, logits=True)
    pw = _elementwise_weight(pos_weight, z, "pos_weight")
    pw = jnp.ones((), z.dtype) if pw is None else pw
    loss = bce_with_logits_elementwise(z, y, pw)
    return reduce(loss if w is None else loss * w, reduction)
