"""Adafactor as torch.optim.Adafactor computes it (not optax's formula).

torch's variant (2.5+) differs from optax.adafactor: the second-moment decay is
``1 - beta2_t = t^beta2_decay`` applied with ``lerp``, the relative step is
``rho_t = min(lr, 1/sqrt(t))`` times ``max(eps2, rms(p))``, the row/column factors
are means of squares (not plus eps) and the update is clipped by its own RMS ``d``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtoolkit._src.optim.lr import lr_state_init, lr_state_read
from jtoolkit._src.optim.schedulable import (
    Schedulable,
    hyper_dtype,
    lerp,
    zero_count,
)

__all__ = ["TorchAdafactorState", "adafactor", "scale_by_torch_adafactor"]


class TorchAdafactorState(NamedTuple):
    """lr state, step count and per-param factors: ``(row_var, col_var)`` for
    matrices (and batches of them), ``variance`` for vectors and scalars."""

    lr: Any
    count: jax.Array
    factors: Any


def _init_factor(p: jax.Array) -> tuple[jax.Array, ...]:
    if p.ndim > 1:
        row = jnp.zeros((*p.shape[:-1], 1), p.dtype)
        col = jnp.zeros((*p.shape[:-2], 1, p.shape[-1]), p.dtype)
        return (row, col)
    return (jnp.zeros_like(p),)


def scale_by_torch_adafactor(
    lr: Schedulable,
    beta2_decay: float,
    eps1: float | None,
    eps2: float,
    d: float,
    weight_decay: float,
) -> optax.GradientTransformation:
    """torch's Adafactor step on maximize-signed gradients; update ``p_new - p``."""

    def init_fn(params: optax.Params) -> TorchAdafactorState:
        factors = jax.tree.map(_init_factor, params)
        return TorchAdafactorState(lr_state_init(lr, params), zero_count(), factors)

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError(
                "adafactor needs params: call tx.update(grads, state, params)"
            )
        lr_t, lr_state = lr_state_read(lr, state.lr)
        t = (state.count + 1).astype(hyper_dtype(updates))
        weight = t**beta2_decay
        rho = jnp.minimum(lr_t, 1 / jnp.sqrt(t))

        def one(g, p, factor):
            e1 = jnp.finfo(p.dtype).eps if eps1 is None else eps1
            rms_p = jnp.sqrt(jnp.sum(p * p)) / math.sqrt(p.size)
            step = jnp.maximum(eps2, rms_p) * rho
            if weight_decay:
                p = p * (1 - lr_t * weight_decay)
            if g.ndim > 1:
                row = lerp(
                    factor[0], jnp.sum(g * g, -1, keepdims=True) / g.shape[-1], weight
                )
                col = lerp(
                    factor[1], jnp.sum(g * g, -2, keepdims=True) / g.shape[-2], weight
                )
                var = row @ col
                var = var / jnp.maximum(jnp.mean(row, -2, keepdims=True), e1)
                new_factor = (row, col)
            else:
                var = lerp(factor[0], g * g, weight)
                new_factor = (var,)
            u = jax.lax.rsqrt(jnp.maximum(var, e1 * e1)) * g
            rms_u = jnp.sqrt(jnp.sum(u * u)) / (math.sqrt(u.size) * d)
            denom = jnp.maximum(1.0, rms_u)
            return (p - step / denom * u).astype(p.dtype), new_factor

        leaves, treedef = jax.tree.flatten(updates)
        ps = treedef.flatten_up_to(params)
        fs = treedef.flatten_up_to(state.factors)
        res = [one(g, p, f) for g, p, f in zip(leaves, ps, fs, strict=True)]
        new_p = treedef.unflatten([r[0] for r in res])
        factors = treedef.unflatten([r[1] for r in res])
        out = jax.tree.map(lambda n, p: n - p, new_p, params)
        return out, TorchAdafactorState(lr_state, state.count + 1, factors)

    return optax.GradientTransformation(init_fn, update_fn)


def adafactor(
    lr: Schedulable = 1e-2,
    beta2_decay: float = -0.8,
    eps: tuple[float | None, float] = (None, 1e-3),
    d: float = 1.0,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Adafactor with torch's formula (factored second moment, relative step size).

    torch: ``torch.optim.Adafactor``. With ``t`` the step:
    ``v = lerp(v, g^2, t^beta2_decay)`` (factored into row and column means for
    parameters with ndim >= 2), ``u = g / sqrt(max(v, eps1^2))``,
    ``p = p (1 - lr wd) - max(eps2, rms(p)) min(lr, 1/sqrt t) u / max(1, rms(u)/d)``.
    optax's ``adafactor`` uses another decay, eps placement and step size.
    The lr is read inside the step (``min(lr, 1/sqrt t)``) from an lr state nested
    in the Adafactor state, so ``current_lr``/``set_lr`` work as for `sgd`.

    Args:
        lr: learning rate, a float or a schedule ``count -> lr``.
        beta2_decay: exponent of the second-moment decay (``<= 0``).
        eps: ``(eps1, eps2)``; eps1 None means the parameter dtype's machine eps.
        d: clipping threshold on the update's RMS (``>= 1``).
        weight_decay: decoupled decay coefficient.
        maximize: ascend the objective instead of descending it.

    Returns:
        An ``optax.GradientTransformation`` whose ``update`` needs ``params``.

    Raises:
        ValueError: torch's messages, e.g. ``Learning rate should be >= 0 but is:
            -1.0``.

    Example:
        >>> from jtoolkit.optim import adafactor
        >>> tx = adafactor(lr=0.1)
        >>> p = {"w": jnp.full((2, 2), 2.0)}
        >>> u, _ = tx.update({"w": jnp.ones((2, 2))}, tx.init(p), p)
        >>> [round(x, 6) for x in u["w"].ravel().tolist()]
        [-0.2, -0.2, -0.2, -0.2]
    """
    if not callable(lr) and not 0.0 <= lr:
        raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
    if not 0.0 >= beta2_decay:
        raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
    eps1, eps2 = eps
    if eps1 is not None and not 0.0 <= eps1:
        raise ValueError(f"epsilon1 should be >= 0 but is: {eps1}")
    if not 0.0 <= eps2:
        raise ValueError(f"epsilon2 should be >= 0 but is: {eps2}")
    if not 1.0 <= d:
        raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
    return optax.chain(
        optax.scale(-1.0) if maximize else optax.identity(),
        scale_by_torch_adafactor(lr, beta2_decay, eps1, eps2, d, weight_decay),
    )
