"""Per-element loss kernels with torch's gradients, and torch's reductions.

Every loss is "one value per element, then the reduction". The kernels here are the
places where plain JAX autodiff differs from torch (torch-semantics.md §0 and §3):

* ``torch_abs``: torch's ``abs`` has gradient 0 at 0 (``jnp.abs`` gives 1).
* ``clamp_min0``: torch's ``clamp_min(x, 0)`` passes the gradient at x == 0.
* ``vector_norm``: torch's norm of a zero vector has gradient 0 (JAX gives nan).
* ``bce_elementwise``: log clamped at -100 and torch's clamped backward
  ``(p - y) / max(p (1 - p), 1e-12)``, finite at p = 0 and p = 1.
* ``bce_with_logits_elementwise``: torch's backward ``(pw y + 1 - y) σ(z) - pw y``,
  which keeps tiny gradients (σ(z) ~ 1e-7) that autodiff of the stable forward
  formula loses to cancellation (``1 - σ(-z)``).
* ``class_index_terms``: gather with ``ignore_index`` masked by ``jnp.where`` so
  ignored rows get exactly zero gradient, as torch's ``nll_loss`` backward.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

__all__ = [
    "bce_elementwise",
    "bce_with_logits_elementwise",
    "clamp_min0",
    "class_index_terms",
    "reduce",
    "torch_abs",
    "vector_norm",
]


_BCE_LOG_FLOOR = -100.0


_BCE_GRAD_EPS = 1e-12


def reduce(loss: jax.Array, reduction: str) -> jax.Array:
    """torch's ``reduction``: the elements, their sum, or their mean (nan if empty).

    Example:
        >>> reduce(jnp.array([1.0, 2.0, 6.0]), "mean")
        Array(3., dtype=float32)
    """
    if reduction == "none":
        return loss
    if reduction == "sum":
        return jnp.sum(loss)
    return jnp.mean(loss)


@jax.custom_jvp
def torch_abs(x: jax.Array) -> jax.Array:
    """``|x|`` whose derivative is ``sign(x)`` (0 at 0), as torch's ``abs``.

    Example:
        >>> jax.grad(torch_abs)(0.0)
        Array(0., dtype=float32, weak_type=True)
    """
    return jnp.abs(x)


@torch_abs.defjvp
def _torch_abs_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return jnp.abs(x), jnp.sign(x) * dx


def clamp_min0(x: jax.Array) -> jax.Array:
    """``max(x, 0)`` with torch's ``clamp_min`` gradient (1 at x == 0, inclusive)."""
    return jnp.where(x < 0, jnp.zeros_like(x), x)  # NaN stays NaN, as torch


def vector_norm(v: jax.Array, p: float, axis: int = -1) -> jax.Array:
    """torch's ``linalg.vector_norm(v, p, axis)``; gradient 0 at the zero vector.

    ``p`` is a Python number: ``inf`` (max |v|), 0 (count of non-zeros), 1, 2 or any
    other positive value.

    Example:
        >>> float(vector_norm(jnp.array([3.0, -4.0]), 2))
        5.0
        >>> jax.grad(lambda v: vector_norm(v, 2))(jnp.zeros(2)).tolist()
        [0.0, 0.0]
    """
    if math.isinf(p):
        return jnp.max(torch_abs(v), axis=axis)
    if p == 0:
        return jnp.sum(jax.lax.stop_gradient(v) != 0, axis=axis).astype(v.dtype)
    if p == 1:
        return jnp.sum(torch_abs(v), axis=axis)
    powered = v * v if p == 2 else torch_abs(v) ** p
    total = jnp.sum(powered, axis=axis)
    is_zero = total == 0
    safe = jnp.where(is_zero, jnp.ones_like(total), total)
    root = jnp.sqrt(safe) if p == 2 else safe ** (1.0 / p)
    return jnp.where(is_zero, jnp.zeros_like(total), root)


def _clamped_logs(p: jax.Array) -> tuple[jax.Array, jax.Array]:
    log_p = jnp.maximum(jnp.log(p), _BCE_LOG_FLOOR)
    log_1mp = jnp.maximum(jnp.log1p(-p), _BCE_LOG_FLOOR)
    return log_p, log_1mp


@jax.custom_jvp
def bce_elementwise(p: jax.Array, y: jax.Array) -> jax.Array:
    """torch's unweighted ``binary_cross_entropy`` per element, including its backward.

    Value ``-(y max(log p, -100) + (1 - y) max(log(1 - p), -100))``; derivative in ``p``
    ``(p - y) / max(p (1 - p), 1e-12)`` and in ``y`` ``log(1 - p) - log(p)``, both as
    torch 2.13 computes them (so the gradient at p = 0 or 1 is finite, ±1e12 or 0).

    Example:
        >>> p, y = jnp.array([0.0, 1.0, 0.3]), jnp.array([1.0, 1.0, 1.0])
        >>> np.asarray(bce_elementwise(p, y), dtype=float).round(3).tolist()
        [100.0, -0.0, 1.204]
        >>> jax.grad(lambda p: bce_elementwise(p, y).sum())(p).tolist()[:2]
        [-999999995904.0, 0.0]
    """
    log_p, log_1mp = _clamped_logs(p)
    return -(y * log_p + (1 - y) * log_1mp)


def _bce_jvp(primals, tangents):
    p, y = primals
    dp, dy = tangents
    out = bce_elementwise(p, y)
    tangent = jnp.zeros_like(out)
    if not isinstance(dp, SymbolicZero):
        tangent = tangent + dp * (p - y) / jnp.maximum(p * (1 - p), _BCE_GRAD_EPS)
    if not isinstance(dy, SymbolicZero):
        tangent = tangent + dy * (jnp.log1p(-p) - jnp.log(p))
    return out, tangent


bce_elementwise.defjvp(_bce_jvp, symbolic_zeros=True)


@jax.custom_jvp
def bce_with_logits_elementwise(
    z: jax.Array, y: jax.Array, pos_weight: jax.Array
) -> jax.Array:
    """torch's unweighted ``binary_cross_entropy_with_logits`` per element and backward.

    Value ``(1 - y) z - (1 + (pw - 1) y) log σ(z)`` (stable for any |z|); derivative
    in ``z`` ``(pw y + 1 - y) σ(z) - pw y``, in ``y`` ``log σ(-z) - pw log σ(z)``
    and in ``pw`` ``-y log σ(z)``, the formulas of torch 2.13's backward.

    Example:
        >>> z, y = jnp.array([-20.0, 100.0]), jnp.array([0.0, 0.0])
        >>> bce_with_logits_elementwise(z, y, 1.0).tolist()  # as torch, in float32
        [0.0, 100.0]
        >>> jax.grad(lambda z: bce_with_logits_elementwise(z, y, 1.0).sum())(z).tolist()
        [2.06115369216775e-09, 1.0]
    """
    log_weight = 1 + (pos_weight - 1) * y
    return (1 - y) * z - log_weight * jax.nn.log_sigmoid(z)


def _bce_with_logits_jvp(primals, tangents):
    z, y, pw = primals
    dz, dy, dpw = tangents
    out = bce_with_logits_elementwise(z, y, pw)
    tangent = jnp.zeros_like(out)
    if not isinstance(dz, SymbolicZero):
        pw_y = pw * y
        tangent = tangent + dz * ((pw_y + 1 - y) * jax.nn.sigmoid(z) - pw_y)
    if not isinstance(dy, SymbolicZero):
        log_sig, log_sig_neg = jax.nn.log_sigmoid(z), jax.nn.log_sigmoid(-z)
        tangent = tangent + dy * (log_sig_neg - pw * log_sig)
    if not isinstance(dpw, SymbolicZero):
        tangent = tangent - dpw * y * jax.nn.log_sigmoid(z)
    return out, tangent


bce_with_logits_elementwise.defjvp(_bce_with_logits_jvp, symbolic_zeros=True)


def class_index_terms(
    logp: jax.Array, target: jax.Array, weight: jax.Array | None, ignore_index: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per-element ``-w[y] logp[y]``, the per-element ``w[y]``, and the valid mask.

    Args:
        logp: log-probabilities ``[N, C, d1, ...]`` (classes at dim 1).
        target: integer class indices ``[N, d1, ...]``.
        weight: per-class weights ``[C]`` or None (all ones).
        ignore_index: targets equal to it contribute 0 and are left out of the
            weighted-mean denominator.

    Returns:
        ``(nll, weights, valid)``, each of the target's shape; ``nll`` and
        ``weights`` are 0 where ``valid`` is False. An index outside ``[0, C-1]``
        that is not ``ignore_index`` gives ``nan`` (traced data cannot raise).
    """
    num_classes = logp.shape[1]
    valid = target != ignore_index
    in_range = (target >= 0) & (target < num_classes)
    index = jnp.where(valid & in_range, target, 0)
    picked = jnp.squeeze(
        jnp.take_along_axis(logp, jnp.expand_dims(index, 1), axis=1), axis=1
    )
    w_y = jnp.ones_like(picked) if weight is None else weight[index]
    zero = jnp.zeros_like(picked)
    nll = jnp.where(valid, -picked * w_y, zero)
    nll = jnp.where(valid & ~in_range, jnp.full_like(picked, jnp.nan), nll)
    return nll, jnp.where(valid, w_y, zero), valid
