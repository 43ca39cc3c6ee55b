"""Averaged SGD (torch.optim.ASGD) with torch's ``eta``/``mu`` recursions."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtoolkit._src.optim.lr import lr_state_init, lr_state_read
from jtoolkit._src.optim.schedulable import Schedulable, hyper_dtype, zero_count

__all__ = ["TorchAsgdState", "asgd", "scale_by_torch_asgd"]


class TorchAsgdState(NamedTuple):
    """ASGD's lr (``param_group["lr"]``), step count, ``eta``, ``mu`` and average."""

    lr: Any
    count: jax.Array
    eta: jax.Array
    mu: jax.Array
    ax: optax.Params


def scale_by_torch_asgd(
    lr: Schedulable, lambd: float, alpha: float, t0: float, weight_decay: float
) -> optax.GradientTransformation:
    """torch's ASGD step on maximize-signed gradients; the update is ``p_new - p``.

    ``p_new = p * (1 - lambd * eta) - eta * (g + wd * p)`` with ``eta = lr`` on the
    first step, then ``eta = lr / (1 + lambd * lr * t)^alpha`` computed after step
    ``t`` with that step's lr (so a changed lr acts one step late, as in torch).
    ``ax`` is the running average torch keeps (``mu = 1 / max(1, t - t0)``).
    """

    def init_fn(params: optax.Params) -> TorchAsgdState:
        one = jnp.ones([], hyper_dtype(params))
        ax = jax.tree.map(jnp.zeros_like, params)
        return TorchAsgdState(lr_state_init(lr, params), zero_count(), one, one, ax)

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("asgd needs params: call tx.update(grads, state, params)")
        lr_t, lr_state = lr_state_read(lr, state.lr)
        eta = jnp.where(state.count == 0, lr_t, state.eta)
        step = (state.count + 1).astype(hyper_dtype(updates))

        def new_param(g, p):
            if weight_decay:
                g = g + weight_decay * p
            return (p * (1 - lambd * eta) - eta * g).astype(p.dtype)

        new_p = jax.tree.map(new_param, updates, params)
        keep = state.mu != 1
        ax = jax.tree.map(
            lambda a, p: jnp.where(keep, a + (p - a) * state.mu, p).astype(a.dtype),
            state.ax,
            new_p,
        )
        new_eta = lr_t / (1 + lambd * lr_t * step) ** alpha
        new_mu = 1 / jnp.maximum(1.0, step - t0)
        out = jax.tree.map(lambda n, p: n - p, new_p, params)
        new_state = TorchAsgdState(lr_state, state.count + 1, new_eta, new_mu, ax)
        return out, new_state

    return optax.GradientTransformation(init_fn, update_fn)


def asgd(
    lr: Schedulable = 1e-2,
    lambd: float = 1e-4,
    alpha: float = 0.75,
    t0: float = 1e6,
    weight_decay: float = 0,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Averaged stochastic gradient descent.

    torch: ``torch.optim.ASGD``. ``p = p * (1 - lambd * eta) - eta * g`` with
    ``eta_1 = lr`` and ``eta_{t+1} = lr / (1 + lambd * lr * t)^alpha``; the averaged
    parameters torch keeps in ``state["ax"]`` are the ``ax`` field of the state.
    The lr is read inside the step (not a final ``-lr`` scaling), from an lr state
    nested in the ASGD state, so ``current_lr``/``set_lr`` work as for `sgd`.

    Args:
        lr: learning rate, a float or a schedule ``count -> lr``.
        lambd: decay term.
        alpha: power of the ``eta`` update.
        t0: step at which averaging starts.
        weight_decay: L2 penalty added to the gradient.
        maximize: ascend the objective instead of descending it.

    Returns:
        An ``optax.GradientTransformation`` whose ``update`` needs ``params``.

    Raises:
        ValueError: torch's messages, e.g. ``Invalid learning rate: -1.0``.

    Example:
        >>> from jtoolkit.optim import asgd
        >>> tx = asgd(lr=0.1, lambd=0.0)
        >>> p = {"w": jnp.ones(1)}
        >>> u, _ = tx.update({"w": jnp.ones(1)}, tx.init(p), p)
        >>> [round(x, 6) for x in u["w"].tolist()]
        [-0.1]
    """
    if not callable(lr) and not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    return optax.chain(
        optax.scale(-1.0) if maximize else optax.identity(),
        scale_by_torch_asgd(lr, lambd, alpha, t0, weight_decay),
    )
