"""Small torch-exact gradient transformations that `jtoolkit.optim` chains together.

Each transform reproduces one piece of a ``torch.optim`` single-tensor step in torch's
operation order (torch 2.13), where optax's closest transform differs: the learning
rate held in the state (``param_group["lr"]``), SGD's momentum buffer (first step is a
copy of the gradient, dampening afterwards), RMSprop's eps after the square root,
Adagrad's eps after the square root and its ``lr_decay``, Adadelta. The Adam family
lives in ``adam.py``.

A hyperparameter written as ``Schedulable`` is a float or a schedule ``count -> value``
evaluated at the number of updates already applied (torch's scheduler stepped once
after each ``optimizer.step()``).
"""

from __future__ import annotations

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
    "TorchMomentumState",
    "maximize_sign",
    "scale_by_lr_decay",
    "scale_by_torch_adadelta",
    "scale_by_torch_rms",
    "scale_by_torch_rss",
    "torch_momentum",
]


def maximize_sign(maximize: bool) -> optax.GradientTransformation:
    """Negate the gradient when ``maximize`` (torch's ``grad = -grad``), else pass."""
    return optax.scale(-1.0) if maximize else optax.identity()


class TorchMomentumState(NamedTuple):
    """SGD/RMSprop momentum buffer and the number of updates done."""

    count: jax.Array
    momentum_buffer: optax.Params


def torch_momentum(
    momentum: Schedulable, dampening: float = 0.0, nesterov: bool = False
) -> optax.GradientTransformation:
    """torch's momentum buffer: ``buf = g`` first, then ``buf = m*buf + (1-d)*g``.

    With ``nesterov`` the output is ``g + m*buf``, otherwise ``buf``. RMSprop's
    buffer (``buf = m*buf + g/avg`` from zero) is the same with ``dampening=0``.
    """

    def init_fn(params: optax.Params) -> TorchMomentumState:
        return TorchMomentumState(zero_count(), zeros_like_tree(params))

    def update_fn(updates, state, params=None):
        del params
        mom = value_at(momentum, state.count)
        first = state.count == 0

        def new_buf(g, buf):
            return jnp.where(first, g, mom * buf + (1 - dampening) * g).astype(g.dtype)

        buf = jax.tree.map(new_buf, updates, state.momentum_buffer)
        if nesterov:
            out = jax.tree.map(lambda g, b: (g + mom * b).astype(g.dtype), updates, buf)
        else:
            out = buf
        return out, TorchMomentumState(state.count + 1, buf)

    return optax.GradientTransformation(init_fn, update_fn)


class TorchRmsState(NamedTuple):
    """RMSprop's running mean of squares (and of gradients when centered)."""

    square_avg: optax.Params
    grad_avg: optax.Params


def scale_by_torch_rms(
    alpha: float, eps: float, centered: bool
) -> optax.GradientTransformation:
    """``g / (sqrt(v) + eps)``, or ``g / (sqrt(v - mean(g)^2) + eps)`` when centered."""

    def init_fn(params: optax.Params) -> TorchRmsState:
        grad_avg = zeros_like_tree(params) if centered else ()
        return TorchRmsState(zeros_like_tree(params), grad_avg)

    def update_fn(updates, state, params=None):
        del params
        v = jax.tree.map(
            lambda s, g: s * alpha + (1 - alpha) * g * g, state.square_avg, updates
        )
        if centered:
            ga = jax.tree.map(
                lambda a, g: lerp(a, g, 1 - alpha), state.grad_avg, updates
            )
            avg = jax.tree.map(lambda s, a: jnp.sqrt(s - a * a) + eps, v, ga)
        else:
            ga = ()
            avg = jax.tree.map(lambda s: jnp.sqrt(s) + eps, v)
        out = jax.tree.map(lambda g, a: g / a, updates, avg)
        return out, TorchRmsState(v, ga)

    return optax.GradientTransformation(init_fn, update_fn)


class TorchRssState(NamedTuple):
    """Adagrad's running sum of squared gradients."""

    state_sum: optax.Params


def scale_by_torch_rss(
    initial_accumulator_value: float, eps: float
) -> optax.GradientTransformation:
    """Adagrad's ``g / (sqrt(sum g^2) + eps)`` with torch's init and eps placement."""

    def init_fn(params: optax.Params) -> TorchRssState:
        return TorchRssState(
            jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value), params)
        )

    def update_fn(updates, state, params=None):
        del params
        s = jax.tree.map(lambda a, g: a + g * g, state.state_sum, updates)
        out = jax.tree.map(lambda g, a: g / (jnp.sqrt(a) + eps), updates, s)
        return out, TorchRssState(s)

    return optax.GradientTransformation(init_fn, update_fn)


class LrDecayState(NamedTuple):
    """Number of updates done, for Adagrad's ``lr_decay``."""

    count: jax.Array


def scale_by_lr_decay(lr_decay: float) -> optax.GradientTransformation:
    """Divide by ``1 + count * lr_decay`` (Adagrad's ``clr``); identity when 0."""
    if lr_decay == 0:
        return optax.identity()

    def init_fn(params: optax.Params) -> LrDecayState:
        del params
        return LrDecayState(zero_count())

    def update_fn(updates, state, params=None):
        del params
        denom = 1 + state.count.astype(hyper_dtype(updates)) * lr_decay
        out = jax.tree.map(lambda u: (u / denom).astype(u.dtype), updates)
        return out, LrDecayState(state.count + 1)

    return optax.GradientTransformation(init_fn, update_fn)


class TorchAdadeltaState(NamedTuple):
    """Adadelta's running means of squared gradients and squared deltas."""

    square_avg: optax.Params
    acc_delta: optax.Params


def scale_by_torch_adadelta(rho: float, eps: float) -> optax.GradientTransformation:
    """Adadelta's ``sqrt(u + eps) / sqrt(v + eps) * g`` in torch's order."""

    def init_fn(params: optax.Params) -> TorchAdadeltaState:
        return TorchAdadeltaState(zeros_like_tree(params), zeros_like_tree(params))

    def update_fn(updates, state, params=None):
        del params
        v = jax.tree.map(
            lambda s, g: s * rho + (1 - rho) * g * g, state.square_avg, updates
        )
        delta = jax.tree.map(
            lambda s, u, g: jnp.sqrt(u + eps) / jnp.sqrt(s + eps) * g,
            v,
            state.acc_delta,
            updates,
        )
        acc = jax.tree.map(
            lambda u, d: u * rho + (1 - rho) * d * d, state.acc_delta, delta
        )
        return delta, TorchAdadeltaState(v, acc)

    return optax.GradientTransformation(init_fn, update_fn)
