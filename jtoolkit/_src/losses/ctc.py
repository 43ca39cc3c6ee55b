"""Connectionist temporal classification: ``ctc_loss`` (torch.nn.functional).

The negative log-likelihood of each target sequence is the log-space forward
(alpha) recursion of Graves et al. over the blank-interleaved labels, one
``lax.scan`` step per time step; its gradient is JAX's autodiff of that recursion,
which is the occupation probability ``-γ``. torch's backward adds ``exp(log_probs)``
to it (its kernel assumes the input came out of ``log_softmax``: then the two
gradients agree once they pass through ``log_softmax``); that term is added here
too, so the gradient with respect to ``log_probs`` itself equals torch's.

Public through ``jtoolkit.losses``.
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
    as_float,
    check_reduction,
    concrete_values,
)

__all__ = ["ctc_loss"]


def _logsumexp(*terms: jax.Array) -> jax.Array:
    """``log Σ exp(term)``, -inf when all are -inf, with a zero (not nan) gradient."""
    top = jax.lax.stop_gradient(terms[0])
    for t in terms[1:]:
        top = jnp.maximum(top, jax.lax.stop_gradient(t))
    top = jnp.where(jnp.isfinite(top), top, jnp.zeros_like(top))
    total = sum(jnp.exp(t - top) for t in terms)
    reachable = total > 0
    safe = jnp.where(reachable, total, jnp.ones_like(total))
    return jnp.where(reachable, top + jnp.log(safe), jnp.full_like(total, -jnp.inf))


def _shift(alpha: jax.Array, k: int) -> jax.Array:
    """``alpha[:, s - k]``, -inf where ``s < k`` (any width, 1 for empty targets)."""
    width = alpha.shape[-1]
    k = min(k, width)
    pad = jnp.full((*alpha.shape[:-1], k), -jnp.inf, alpha.dtype)
    return jnp.concatenate([pad, alpha[..., : width - k]], axis=-1)


def _log_likelihood(lp, labels, input_lengths, target_lengths, blank):
    """``log p(labels | lp)`` per sample: lp ``[T, N, C]``, labels ``[N, S]``."""
    num_steps, batch = lp.shape[:2]
    ext = jnp.full((batch, 2 * labels.shape[1] + 1), blank, labels.dtype)
    ext = ext.at[:, 1::2].set(labels)
    width = ext.shape[1]
    pad = jnp.full((batch, min(2, width)), blank, ext.dtype)
    two_back = jnp.concatenate([pad, ext[:, : max(width - 2, 0)]], 1)
    skip = (ext != blank) & (ext != two_back)
    emit = jnp.take_along_axis(lp, jnp.broadcast_to(ext, (num_steps, *ext.shape)), 2)
    first = jnp.where(jnp.arange(ext.shape[1]) < 2, emit[0], -jnp.inf)

    def step(alpha, inputs):
        emit_t, t = inputs
        from_skip = jnp.where(skip, _shift(alpha, 2), -jnp.inf)
        new = _logsumexp(alpha, _shift(alpha, 1), from_skip) + emit_t
        return jnp.where((t < input_lengths)[:, None], new, alpha), None

    alpha, _ = jax.lax.scan(step, first, (emit[1:], jnp.arange(1, num_steps)))
    end = 2 * target_lengths[:, None]
    last = jnp.take_along_axis(alpha, end, axis=1)[:, 0]
    before = jnp.take_along_axis(alpha, jnp.maximum(end - 1, 0), axis=1)[:, 0]
    before = jnp.where(target_lengths > 0, before, -jnp.inf)
    # no input frames: only the empty target has a path (probability 1), as torch
    empty = jnp.where(target_lengths == 0, 0.0, -jnp.inf).astype(lp.dtype)
    return jnp.where(input_lengths == 0, empty, _logsumexp(last, before))


@jax.custom_vjp
def _nan_gradient_where(x: jax.Array, poison: jax.Array) -> jax.Array:
    """``x``, whose gradient is nan where ``poison`` (torch's gradient of an inf)."""
    return x


def _nan_gradient_fwd(x, poison):
    return x, poison


def _nan_gradient_bwd(poison, g):
    return jnp.where(poison, jnp.full_like(g, jnp.nan), g), None


_nan_gradient_where.defvjp(_nan_gradient_fwd, _nan_gradient_bwd)


def _torch_gradient_term(lp, active, poison) -> jax.Array:
    """Per sample, 0 in value; gradient ``exp(lp)`` where active (nan where poison)."""
    e = jnp.exp(_nan_gradient_where(lp, active & poison[None, :, None]))
    zero = e - jax.lax.stop_gradient(e)
    return jnp.sum(jnp.where(active, zero, jnp.zeros_like(zero)), axis=(0, 2))


def _lengths(x, batch: int, name: str) -> jax.Array:
    arr = jnp.asarray(x)
    if not jnp.issubdtype(arr.dtype, jnp.integer):
        raise LossInputError(f"ctc_loss: {name} must be integers, got {arr.dtype}.")
    arr = arr.reshape(-1) if arr.ndim == 0 else arr
    if arr.shape != (batch,):
        raise LossInputError(
            f"{name} must be of size batch_size: expected [{batch}], got "
            f"{shape_str(arr.shape)}."
        )
    return arr


def _check_max(values, limit: int, what: str) -> None:

    def within(concrete: np.ndarray) -> None:
        if concrete.size and (concrete > limit).any():
            raise LossInputError(
                f"Expected {what} to have value at most {limit}, but got value "
                f"{int(concrete.max())}."
            )
        if concrete.size and (concrete < 0).any():
            raise LossInputError(
                f"ctc_loss: {what} must be >= 0, got {concrete.min()}."
            )

    check_values(values, within)


def _padded_targets(targets, target_lengths, batch: int) -> jax.Array:
    """Targets as ``[N, S]``: padded already, or split from the 1-D concatenation."""
    y = jnp.asarray(targets)
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise LossInputError(f"ctc_loss: targets must be integers, got {y.dtype}.")
    if y.ndim == 2:
        if y.shape[0] != batch:
            raise LossInputError(
                f"ctc_loss: padded targets {shape_str(y.shape)} must have batch size "
                f"{batch} (the log_probs' dim 1)."
            )
        _check_max(target_lengths, y.shape[1], "target_lengths")
        return y
    if y.ndim != 1:
        raise LossInputError(
            f"ctc_loss: targets must be [N, S] (padded) or 1-D (concatenated), got "
            f"{shape_str(y.shape)}."
        )
    lengths = concrete_values(target_lengths)
    if lengths is not None and int(lengths.sum()) > y.shape[0]:
        raise LossInputError(
            f"ctc_loss: the concatenated targets have {y.shape[0]} labels, but "
            f"target_lengths sum to {int(lengths.sum())}."
        )
    width = int(lengths.max()) if lengths is not None and lengths.size else y.shape[0]
    offsets = jnp.cumsum(target_lengths) - target_lengths
    index = jnp.minimum(offsets[:, None] + jnp.arange(width), max(y.shape[0] - 1, 0))
    return y[index] if y.shape[0] else jnp.zeros((batch, width), y.dtype)


def _reduce_ctc(loss: jax.Array, target_lengths: jax.Array, reduction: str):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return jnp.sum(loss)
    per_label = loss / jnp.maximum(target_lengths, 1).astype(loss.dtype)
    return jnp.mean(per_label)


@eager_jit
def ctc_loss(
    log_probs: ArrayLike,
    targets: ArrayLike,
    input_lengths: ArrayLike,
    target_lengths: ArrayLike,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> jax.Array:
    """Connectionist temporal classification loss ``-log p(target | log_probs)``.

    torch counterpart: ``torch.nn.functional.ctc_loss``. A target that no
    alignment can produce (input too short) has loss ``inf`` and a nan gradient,
    as torch; ``zero_infinity=True`` makes both 0. "mean" divides each sample's
    loss by its target length (at least 1), then takes the batch mean.

    Args:
        log_probs: ``[T, N, C]`` (or ``[T, C]`` unbatched) log-probabilities over
            ``C`` classes including the blank, e.g. a ``log_softmax`` output.
        targets: integer labels, padded ``[N, S]`` (``S >= max target length``) or
            concatenated 1-D (``sum(target_lengths)`` labels); ``[S]`` unbatched.
            Labels must not be ``blank``.
        input_lengths: ``[N]`` integers ``<= T`` (a list, tuple or array).
        target_lengths: ``[N]`` integers.
        blank: the blank class index.
        reduction: "mean", "sum" or "none".
        zero_infinity: replace infinite losses (and their gradients) by 0.

    Returns:
        The scalar loss, or ``[N]`` losses (a scalar unbatched) with "none".

    Raises:
        LossInputError (a ValueError and RuntimeError): wrong dims, lengths of the
            wrong size, an input length above ``T`` or a target length above ``S``
            (length checks need concrete values), non-integer targets or lengths,
            ``blank`` outside ``[0, C-1]``. ValueError: an unknown ``reduction``.

    Example:
        >>> lp = jnp.log(jnp.full((2, 1, 2), 0.5))  # T=2, N=1, C=2 (blank=0)
        >>> round(float(ctc_loss(lp, jnp.array([[1]]), [2], [1])), 4)  # 3 paths
        0.2877
    """
    check_reduction(reduction)
    lp = as_float(log_probs)
    if lp.ndim not in (2, 3):
        raise LossInputError(
            "ctc_loss: log_probs must be [T, N, C] or [T, C], got "
            f"{shape_str(lp.shape)}."
        )
    unbatched = lp.ndim == 2
    if unbatched:
        lp, targets = lp[:, None], jnp.asarray(targets)[None]
    num_steps, batch, num_classes = lp.shape
    if not isinstance(blank, numbers.Integral) or not 0 <= blank < num_classes:
        raise LossInputError(
            f"blank must be in label range: got blank={blank!r} for {num_classes} "
            "classes."
        )
    il = _lengths(input_lengths, batch, "input_lengths")
    tl = _lengths(target_lengths, batch, "target_lengths")
    _check_max(il, num_steps, "input_lengths")
    labels = _padded_targets(targets, tl, batch)
    ll = _log_likelihood(lp, labels, il, tl, blank)
    nll = -ll
    impossible = jax.lax.stop_gradient(jnp.isinf(nll))
    active = (jnp.arange(num_steps)[:, None] < il)[:, :, None]
    poison = impossible & (not zero_infinity)
    loss = nll + _torch_gradient_term(lp, active, poison)
    if zero_infinity:
        loss = jnp.where(impossible, jnp.zeros_like(loss), loss)
    out = _reduce_ctc(loss, tl, reduction)
    return out[0] if unbatched and reduction == "none" else out
