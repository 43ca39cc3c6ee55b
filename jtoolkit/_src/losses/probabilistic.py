"""Negative log-likelihoods of distributions: Poisson and Gaussian NLL losses.

Public through ``jtoolkit.losses``; see that module for the overview.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jtoolkit._src.core.eager_jit import check_values, eager_jit
from jtoolkit._src.losses.checks import (
    as_float,
    check_broadcast,
    check_reduction,
)
from jtoolkit._src.losses.elementwise import reduce

__all__ = ["gaussian_nll_loss", "poisson_nll_loss"]


def _stirling(y: jax.Array) -> jax.Array:
    """torch's Stirling term ``y log y - y + log(2 pi y) / 2``, 0 where ``y <= 1``.

    ``y`` is replaced by 2 where masked so the unused branch (``log 0``) cannot turn
    a zero cotangent into nan.
    """
    big = y > 1
    safe = jnp.where(big, y, jnp.full_like(y, 2.0))
    term = safe * jnp.log(safe) - safe + 0.5 * jnp.log(2 * math.pi * safe)
    return jnp.where(big, term, jnp.zeros_like(y))


@eager_jit
def poisson_nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    log_input: bool = True,
    full: bool = False,
    *,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> jax.Array:
    """Poisson negative log-likelihood of ``target`` counts under rate ``input``.

    torch counterpart: ``torch.nn.functional.poisson_nll_loss``. With ``log_input``
    the input is the log-rate and the loss is ``exp(x) - y x``; otherwise it is the
    rate and the loss is ``x - y log(x + eps)``. ``full=True`` adds the Stirling
    approximation of ``log(y!)``, ``y log y - y + log(2 pi y) / 2``, only where
    ``y > 1`` (0 elsewhere), as torch.

    Args:
        input: float array, any shape (log-rate, or rate when ``log_input=False``).
        target: counts, broadcastable with ``input``.
        log_input: whether ``input`` is the log of the rate.
        full: add the Stirling term.
        eps: added to the rate inside the log when ``log_input=False``.
        reduction: "mean", "sum" or "none".

    Returns:
        The scalar loss, or the broadcast per-element losses with "none".

    Raises:
        LossInputError: shapes that do not broadcast. ValueError: an unknown
            ``reduction``.

    Example:
        >>> x, y = jnp.array([0.0, 1.0]), jnp.array([1.0, 3.0])
        >>> [round(float(v), 4) for v in poisson_nll_loss(x, y, reduction="none")]
        [1.0, -0.2817]
    """
    check_reduction(reduction)
    x = as_float(input)
    y = as_float(target, x.dtype)
    check_broadcast(x.shape, y.shape)
    loss = jnp.exp(x) - y * x if log_input else x - y * jnp.log(x + eps)
    if full:
        loss = loss + _stirling(y)
    return reduce(loss, reduction)


def _non_negative_var(values) -> None:
    if (values < 0).any():
        raise ValueError(
            f"var has negative entry/entries: {values[values < 0].ravel()[0]}"
        )


def _var_shape(var: jax.Array, input_shape: tuple[int, ...]) -> jax.Array:
    """torch's homoscedastic cases: ``var`` one dim short, or one size-1 dim."""
    if var.shape == input_shape:
        return var
    if var.shape == input_shape[:-1]:
        return var[..., None]
    if var.ndim == len(input_shape) and (
        sum(v for i, v in zip(input_shape, var.shape, strict=True) if i != v) == 1
    ):
        return var
    raise ValueError(
        f"var is of incorrect size: var {list(var.shape)} for input "
        f"{list(input_shape)}; pass the input's shape, the input's shape without its "
        "last dim, or the input's shape with one dim of size 1."
    )


def _clamp_min_no_grad(v: jax.Array, eps: float) -> jax.Array:
    """``max(v, eps)`` whose gradient is 1 everywhere, as torch's no-grad clamp_."""
    return jax.lax.stop_gradient(jnp.maximum(v, eps)) + (v - jax.lax.stop_gradient(v))


@eager_jit
def gaussian_nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    var: ArrayLike | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> jax.Array:
    """Gaussian negative log-likelihood ``(log var + (x - y)² / var) / 2``.

    torch counterpart: ``torch.nn.functional.gaussian_nll_loss``. ``var`` is clamped
    at ``eps`` for the value only: as torch (a clamp under ``no_grad``), the gradient
    passes through the clamp unchanged. ``full=True`` adds ``log(2 pi) / 2``.

    Args:
        input: predicted means, float array of any shape.
        target: array broadcastable with ``input``.
        var: non-negative variances: a Python number, an array of the input's
            shape, of the input's shape without its last dim, or of the input's
            shape with exactly one dim of size 1 (homoscedastic along it).
        full: add the constant term.
        eps: the variance is clamped below at ``eps``.
        reduction: "mean", "sum" or "none".

    Returns:
        The scalar loss, or the broadcast per-element losses with "none".

    Raises:
        ValueError: a negative variance (checked when ``var`` is concrete), a ``var``
            of another shape, an unknown ``reduction``. LossInputError: input and
            target shapes that do not broadcast.

    Example:
        >>> x, y = jnp.array([1.0, 2.0]), jnp.array([0.0, 2.0])
        >>> round(float(gaussian_nll_loss(x, y, 1.0)), 4)
        0.25
    """
    x = as_float(input)
    y = as_float(target, x.dtype)
    if isinstance(var, numbers.Real):
        if var < 0:
            raise ValueError(f"var has negative entry/entries: var={var}")
        v = jnp.full(x.shape, var, x.dtype)
    else:
        v = as_float(var, x.dtype)
        check_values(v, _non_negative_var)
        v = _var_shape(v, x.shape)
    check_reduction(reduction)
    check_broadcast(x.shape, y.shape)
    v = _clamp_min_no_grad(v, eps)
    d = x - y
    loss = 0.5 * (jnp.log(v) + d * d / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce(loss, reduction)
