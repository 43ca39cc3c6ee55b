"""Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtoolkit._src.core.checks import fail
from jtoolkit._src.optim.schedulable import hyper_dtype

__all__ = ["ClipGradNormState", "clip_grad_norm", "global_norm"]


def _norm_type(norm_type: float | str, fn: str) -> float:
    try:
        return float(norm_type)
    except (TypeError, ValueError):
        raise fail("norm_type", norm_type, "a number or 'inf'", fn=fn) from None


def global_norm(grads: Any, norm_type: float | str = 2.0) -> jax.Array:
    """The norm of all gradients together, as ``clip_grad_norm_`` computes it.

    torch: the ``total_norm`` returned by ``torch.nn.utils.clip_grad_norm_``: the
    ``norm_type`` norm of the per-tensor ``norm_type`` norms (``inf``: max |g|).

    Args:
        grads: a pytree of float arrays of any shapes.
        norm_type: the p of the p-norm, or ``inf``.

    Returns:
        A float32 scalar (0 for an empty pytree).

    Raises:
        ValueError: if ``norm_type`` is not a number.

    Example:
        >>> global_norm({"a": jnp.array([3.0]), "b": jnp.array([4.0])}).tolist()
        5.0
        >>> global_norm({"a": jnp.array([3.0]), "b": jnp.array([-4.0])}, "inf").tolist()
        4.0
    """
    p = _norm_type(norm_type, "global_norm")
    leaves = [jnp.ravel(g) for g in jax.tree.leaves(grads) if jnp.size(g)]
    if not leaves:
        return jnp.zeros([], jnp.float32)
    per_leaf = jnp.stack([jnp.linalg.norm(g, ord=p) for g in leaves])
    return jnp.linalg.norm(per_leaf, ord=p)


class ClipGradNormState(NamedTuple):
    """The total gradient norm seen by the last update (before clipping)."""

    total_norm: jax.Array


def clip_grad_norm(
    max_norm: float, norm_type: float | str = 2.0
) -> optax.GradientTransformation:
    """Scale gradients by ``min(max_norm / (total_norm + 1e-6), 1)``, as torch does.

    torch: ``torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)`` called
    between ``backward()`` and ``step()``; chain it before any optimizer:
    ``optax.chain(clip_grad_norm(1.0), adam(1e-3))``. Unlike
    ``optax.clip_by_global_norm`` it keeps torch's ``+ 1e-6`` (visible for norms
    below ~1e-3), supports ``inf`` and other p-norms, and is safe for all-zero
    gradients. The unclipped norm is kept in the state (``total_norm``).

    Args:
        max_norm: the largest allowed total norm.
        norm_type: the p of the p-norm, or ``inf`` / ``"inf"``.

    Returns:
        An ``optax.GradientTransformation`` with state `ClipGradNormState`.

    Raises:
        ValueError: if ``max_norm`` or ``norm_type`` is not a number.

    Example:
        >>> tx = clip_grad_norm(1.0)
        >>> g = {"w": jnp.array([3.0, 4.0])}
        >>> u, s = tx.update(g, tx.init(g))
        >>> [round(x, 6) for x in u["w"].tolist()], s.total_norm.tolist()
        ([0.6, 0.8], 5.0)
    """
    try:
        max_norm = float(max_norm)
    except (TypeError, ValueError):
        raise fail("max_norm", max_norm, "a number", fn="clip_grad_norm") from None
    p = _norm_type(norm_type, "clip_grad_norm")

    def init_fn(params: optax.Params) -> ClipGradNormState:
        return ClipGradNormState(jnp.zeros([], hyper_dtype(params)))

    def update_fn(updates, state, params=None):
        del params, state
        total = global_norm(updates, p)
        coef = jnp.minimum(max_norm / (total + 1e-6), 1.0)
        clipped = jax.tree.map(lambda g: (g * coef).astype(g.dtype), updates)
        return clipped, ClipGradNormState(total.astype(hyper_dtype(updates)))

    return optax.GradientTransformation(init_fn, update_fn)
