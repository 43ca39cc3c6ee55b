"""Resilient backpropagation (torch.optim.Rprop): sign steps with adaptive sizes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtoolkit._src.optim.lr import lr_state_init, lr_state_read
from jtoolkit._src.optim.schedulable import Schedulable, zero_count

__all__ = ["TorchRpropState", "rprop", "scale_by_torch_rprop"]


class TorchRpropState(NamedTuple):
    """Rprop's lr, step count, previous (masked) gradient and per-element sizes."""

    lr: Any
    count: jax.Array
    prev: optax.Params
    step_size: optax.Params


def scale_by_torch_rprop(
    lr: Schedulable, etas: tuple[float, float], step_sizes: tuple[float, float]
) -> optax.GradientTransformation:
    """torch's Rprop step: ``-sign(g) * step_size`` (sizes start at the first lr)."""
    etaminus, etaplus = etas
    size_min, size_max = step_sizes

    def init_fn(params: optax.Params) -> TorchRpropState:
        zeros = jax.tree.map(jnp.zeros_like, params)
        return TorchRpropState(lr_state_init(lr, params), zero_count(), zeros, zeros)

    def update_fn(updates, state, params=None):
        del params
        lr_t, lr_state = lr_state_read(lr, state.lr)
        first = state.count == 0

        def one(g, prev, size):
            size = jnp.where(first, jnp.full_like(size, lr_t), size)
            sign = jnp.sign(g * prev)
            factor = jnp.where(sign > 0, etaplus, jnp.where(sign < 0, etaminus, 1.0))
            size = jnp.clip(size * factor.astype(g.dtype), size_min, size_max)
            g = jnp.where(sign < 0, jnp.zeros_like(g), g)
            return (-jnp.sign(g) * size).astype(g.dtype), g, size.astype(g.dtype)

        leaves, treedef = jax.tree.flatten(updates)
        prevs = treedef.flatten_up_to(state.prev)
        sizes = treedef.flatten_up_to(state.step_size)
        res = [one(g, p, s) for g, p, s in zip(leaves, prevs, sizes, strict=True)]
        out, prev, size = (treedef.unflatten(list(r)) for r in zip(*res, strict=True))
        return out, TorchRpropState(lr_state, state.count + 1, prev, size)

    return optax.GradientTransformation(init_fn, update_fn)


def rprop(
    lr: Schedulable = 1e-2,
    etas: Sequence[float] = (0.5, 1.2),
    step_sizes: Sequence[float] = (1e-6, 50),
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Rprop: move each element by its own step size against the gradient's sign.

    torch: ``torch.optim.Rprop``. Sizes start at ``lr``, grow by ``etas[1]`` while
    the gradient keeps its sign, shrink by ``etas[0]`` when it flips (and that step
    is skipped), clipped to ``step_sizes``. As in torch, ``lr`` is only read on the
    first step (it fills the sizes); ``set_lr`` afterwards changes ``current_lr``
    but not the step.

    Args:
        lr: initial step size, a float or a schedule ``count -> lr``.
        etas: ``(etaminus, etaplus)``, with ``0 < etaminus < 1 < etaplus``.
        step_sizes: ``(min, max)`` allowed step size.
        maximize: ascend the objective instead of descending it.

    Returns:
        An ``optax.GradientTransformation``.

    Raises:
        ValueError: torch's messages, e.g. ``Invalid eta values: 1.5, 1.2``.

    Example:
        >>> from jtoolkit.optim import rprop
        >>> tx = rprop(lr=0.1)
        >>> state = tx.init({"w": jnp.zeros(2)})
        >>> u, _ = tx.update({"w": jnp.array([3.0, -2.0])}, state)
        >>> [round(x, 6) for x in u["w"].tolist()]
        [-0.1, 0.1]
    """
    if not callable(lr) and not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 < etas[0] < 1.0 < etas[1]:
        raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
    return optax.chain(
        optax.scale(-1.0) if maximize else optax.identity(),
        scale_by_torch_rprop(lr, (etas[0], etas[1]), (step_sizes[0], step_sizes[1])),
    )
