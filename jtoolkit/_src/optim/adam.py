"""torch-exact Adam-family scalings (Adam/AMSGrad, Adamax, NAdam, RAdam).

Each returns the update *before* the learning rate (``scale_by_torch_lr`` follows).
Bias corrections ``1 - beta**t`` are computed as ``-expm1(t * log(beta))`` with
``log(beta)`` taken in float64 on the host when beta is a float: in float32,
``1 - 0.999**t`` loses ~1e-5 relative (0.999 rounds to 0.99900001), a drift that
grows linearly with the step count. A scheduled ``beta1`` (OneCycleLR's momentum
cycling) is evaluated at the step, as torch reads ``betas[0]`` from its param group.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtoolkit._src.optim.schedulable import (
    Schedulable,
    hyper_dtype,
    lerp,
    value_at,
    zero_count,
    zeros_like_tree,
)

__all__ = [
    "TorchAdamState",
    "TorchAdamaxState",
    "TorchAmsgradState",
    "TorchNAdamState",
    "scale_by_torch_adam",
    "scale_by_torch_adamax",
    "scale_by_torch_nadam",
    "scale_by_torch_radam",
]


def _log_beta(beta: Schedulable, count: jax.Array, dtype) -> jax.Array | float:
    """``log(beta)``: float64 on the host for a constant, ``dtype`` for a schedule."""
    if callable(beta):
        return jnp.log(jnp.asarray(beta(count), dtype))
    return math.log(beta) if beta > 0 else -math.inf


def _bias_correction(beta: Schedulable, count: jax.Array, t: jax.Array) -> jax.Array:
    """``1 - beta**t`` accurately in ``t``'s dtype (``-expm1(t * log(beta))``)."""
    return -jnp.expm1(t * _log_beta(beta, count, t.dtype))


def _second_moment(nu: optax.Params, g: optax.Updates, b2: float) -> optax.Params:
    return jax.tree.map(lambda v, gg: v * b2 + (1 - b2) * gg * gg, nu, g)


def _first_moment(mu: optax.Params, g: optax.Updates, b1) -> optax.Params:
    return jax.tree.map(lambda m, gg: lerp(m, gg, 1 - b1), mu, g)


class TorchAdamState(NamedTuple):
    """Adam's step count and moments (torch's ``exp_avg``, ``exp_avg_sq``)."""

    count: jax.Array
    exp_avg: optax.Params
    exp_avg_sq: optax.Params


class TorchAmsgradState(NamedTuple):
    """AMSGrad adds the running maximum of the *raw* second moment."""

    count: jax.Array
    exp_avg: optax.Params
    exp_avg_sq: optax.Params
    max_exp_avg_sq: optax.Params


def scale_by_torch_adam(
    b1: Schedulable, b2: float, eps: float, amsgrad: bool = False
) -> optax.GradientTransformation:
    """``(m / bc1) / (sqrt(v) / sqrt(bc2) + eps)``; amsgrad uses ``max`` of raw v."""

    def init_fn(params: optax.Params):
        count = zero_count()
        if amsgrad:
            return TorchAmsgradState(
                count,
                zeros_like_tree(params),
                zeros_like_tree(params),
                zeros_like_tree(params),
            )
        return TorchAdamState(count, zeros_like_tree(params), zeros_like_tree(params))

    def update_fn(updates, state, params=None):
        del params
        t = (state.count + 1).astype(hyper_dtype(updates))
        beta1 = value_at(b1, state.count)
        mu = _first_moment(state.exp_avg, updates, beta1)
        nu = _second_moment(state.exp_avg_sq, updates, b2)
        bc1 = _bias_correction(b1, state.count, t)
        bc2_sqrt = jnp.sqrt(_bias_correction(b2, state.count, t))
        v_used = nu
        if amsgrad:
            v_used = jax.tree.map(jnp.maximum, state.max_exp_avg_sq, nu)
        out = jax.tree.map(
            lambda m, v: (m / (jnp.sqrt(v) / bc2_sqrt + eps) / bc1).astype(m.dtype),
            mu,
            v_used,
        )
        if amsgrad:
            return out, TorchAmsgradState(state.count + 1, mu, nu, v_used)
        return out, TorchAdamState(state.count + 1, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


class TorchAdamaxState(NamedTuple):
    """Adamax's step count, first moment and infinity norm (``exp_inf``)."""

    count: jax.Array
    exp_avg: optax.Params
    exp_inf: optax.Params


def scale_by_torch_adamax(
    b1: Schedulable, b2: float, eps: float
) -> optax.GradientTransformation:
    """``(m / u) / bc1`` with ``u = max(b2 * u, |g| + eps)``."""

    def init_fn(params: optax.Params) -> TorchAdamaxState:
        return TorchAdamaxState(
            zero_count(), zeros_like_tree(params), zeros_like_tree(params)
        )

    def update_fn(updates, state, params=None):
        del params
        t = (state.count + 1).astype(hyper_dtype(updates))
        mu = _first_moment(state.exp_avg, updates, value_at(b1, state.count))
        inf = jax.tree.map(
            lambda u, g: jnp.maximum(u * b2, jnp.abs(g) + eps), state.exp_inf, updates
        )
        bc1 = _bias_correction(b1, state.count, t)
        out = jax.tree.map(lambda m, u: (m / u / bc1).astype(m.dtype), mu, inf)
        return out, TorchAdamaxState(state.count + 1, mu, inf)

    return optax.GradientTransformation(init_fn, update_fn)


class TorchNAdamState(NamedTuple):
    """NAdam's step count, moments and product of momentum coefficients."""

    count: jax.Array
    mu_product: jax.Array
    exp_avg: optax.Params
    exp_avg_sq: optax.Params


def scale_by_torch_nadam(
    b1: Schedulable, b2: float, eps: float, momentum_decay: float
) -> optax.GradientTransformation:
    """NAdam's ``(1-mu)/(1-prod) * g/denom + mu_next/(1-prod_next) * m/denom``."""
    log_096 = math.log(0.96) * momentum_decay

    def init_fn(params: optax.Params) -> TorchNAdamState:
        one = jnp.ones([], hyper_dtype(params))
        return TorchNAdamState(
            zero_count(), one, zeros_like_tree(params), zeros_like_tree(params)
        )

    def update_fn(updates, state, params=None):
        del params
        t = (state.count + 1).astype(hyper_dtype(updates))
        beta1 = value_at(b1, state.count)
        mom = beta1 * (1.0 - 0.5 * jnp.exp(t * log_096))
        mom_next = beta1 * (1.0 - 0.5 * jnp.exp((t + 1) * log_096))
        prod = state.mu_product * mom
        prod_next = prod * mom_next
        mu = _first_moment(state.exp_avg, updates, beta1)
        nu = _second_moment(state.exp_avg_sq, updates, b2)
        bc2 = _bias_correction(b2, state.count, t)
        c_grad = (1.0 - mom) / (1.0 - prod)
        c_avg = mom_next / (1.0 - prod_next)

        def step(g, m, v):
            denom = jnp.sqrt(v / bc2) + eps
            return (c_grad * (g / denom) + c_avg * (m / denom)).astype(g.dtype)

        out = jax.tree.map(step, updates, mu, nu)
        return out, TorchNAdamState(state.count + 1, prod, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


def _radam_rho(b2: float, t: jax.Array) -> jax.Array:
    """RAdam's ``rho_t = rho_inf - 2 t b2^t / (1 - b2^t)`` without cancellation.

    With ``x = -t log(b2)``: ``2 t b2^t / (1 - b2^t) = (2 / -log b2) * x / expm1(x)``
    and ``rho_inf - 2 / -log b2`` is a float64 host constant, so
    ``rho_t = c0 + (2 / -log b2) * (1 - x / expm1(x))``; the last bracket uses its
    Taylor series for x < 1, where the direct form cancels.
    """
    neg_log = -math.log(b2)
    scale = 2.0 / neg_log
    c0 = (2.0 / (1.0 - b2) - 1.0) - scale
    x = t * neg_log
    x2 = x * x
    # 1 - x/expm1(x) = x/2 - x^2/12 + x^4/720 - x^6/30240 + x^8/1209600 - ...
    tail = x2 * x2 * (1 / 720 - x2 * (1 / 30240 - x2 * (1 / 1209600 - x2 / 47900160)))
    series = x / 2 - x2 / 12 + tail
    direct = 1 - x / jnp.expm1(jnp.maximum(x, 1.0))
    return c0 + scale * jnp.where(x < 1.0, series, direct)


def scale_by_torch_radam(
    b1: Schedulable, b2: float, eps: float
) -> optax.GradientTransformation:
    """RAdam: rectified ``m/bc1 * sqrt(bc2)/(sqrt(v)+eps) * rect`` once rho_t > 5."""
    rho_inf = 2.0 / (1.0 - b2) - 1.0

    def init_fn(params: optax.Params) -> TorchAdamState:
        return TorchAdamState(
            zero_count(), zeros_like_tree(params), zeros_like_tree(params)
        )

    def update_fn(updates, state, params=None):
        del params
        t = (state.count + 1).astype(hyper_dtype(updates))
        mu = _first_moment(state.exp_avg, updates, value_at(b1, state.count))
        nu = _second_moment(state.exp_avg_sq, updates, b2)
        bc1 = _bias_correction(b1, state.count, t)
        bc2 = _bias_correction(b2, state.count, t)
        rho_t = _radam_rho(b2, t)
        rect_sq = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2))
        rect = jnp.sqrt(jnp.maximum(rect_sq / rho_t, 0.0))
        rectify = rho_t > 5.0

        def step(m, v):
            adaptive = jnp.sqrt(bc2) / (jnp.sqrt(v) + eps)
            m_hat = m / bc1
            return jnp.where(rectify, m_hat * adaptive * rect, m_hat).astype(m.dtype)

        out = jax.tree.map(step, mu, nu)
        return out, TorchAdamState(state.count + 1, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)
