"""Gradient clipping, accumulation and the learning rate held in optimizer state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtoolkit._optim_groups import ParamGroupsState
from jtoolkit._optim_transforms import LearningRateState, ScheduledLearningRateState

__all__ = [
    "ClipGradNormState",
    "accumulate",
    "clip_grad_norm",
    "current_lr",
    "global_norm",
    "set_lr",
]

_LR_STATES = (LearningRateState, ScheduledLearningRateState)


def _norm_type(norm_type: float | str) -> float:
    try:
        return float(norm_type)
    except (TypeError, ValueError):
        raise ValueError(
            f"norm_type must be a number or 'inf', got norm_type={norm_type!r}"
        ) from None


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
    p = _norm_type(norm_type)
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
        raise ValueError(f"max_norm must be a number, got {max_norm=}") from None
    p = _norm_type(norm_type)

    def init_fn(params: optax.Params) -> ClipGradNormState:
        del params
        return ClipGradNormState(jnp.zeros([], jnp.float32))

    def update_fn(updates, state, params=None):
        del params, state
        total = global_norm(updates, p)
        coef = jnp.minimum(max_norm / (total + 1e-6), 1.0)
        clipped = jax.tree.map(lambda g: (g * coef).astype(g.dtype), updates)
        return clipped, ClipGradNormState(total.astype(jnp.float32))

    return optax.GradientTransformation(init_fn, update_fn)


def accumulate(
    optimizer: optax.GradientTransformation, every_k: int
) -> optax.GradientTransformation:
    """Average ``every_k`` gradients, then step ``optimizer`` once; zeros in between.

    torch: ``(loss / k).backward()`` on each batch and ``optimizer.step();
    optimizer.zero_grad()`` every k batches. The inner optimizer (and its lr
    schedule) advances once per real step, as torch's does. To clip the
    accumulated gradient as torch does, accumulate the chain:
    ``accumulate(optax.chain(clip_grad_norm(1.0), adam()), 4)``.

    Args:
        optimizer: any ``optax.GradientTransformation``.
        every_k: number of batches per optimizer step (a positive int).

    Returns:
        An ``optax.GradientTransformation`` (``optax.MultiSteps``, gradient mean).

    Raises:
        ValueError: if ``every_k`` is not a positive integer.

    Example:
        >>> from jtoolkit.optim import sgd
        >>> tx = accumulate(sgd(lr=1.0), every_k=2)
        >>> p = {"w": jnp.zeros(1)}
        >>> s = tx.init(p)
        >>> u1, s = tx.update({"w": jnp.array([1.0])}, s, p)
        >>> u2, s = tx.update({"w": jnp.array([3.0])}, s, p)
        >>> u1["w"].tolist() == [0.0], u2["w"].tolist()
        (True, [-2.0])
    """
    if isinstance(every_k, bool) or not isinstance(every_k, int) or every_k < 1:
        raise ValueError(
            f"every_k must be a positive integer (batches per optimizer step), "
            f"got every_k={every_k!r}"
        )
    return optax.MultiSteps(
        optimizer, every_k, use_grad_mean=True
    ).gradient_transformation()


def _is_lr_node(x: Any) -> bool:
    return isinstance(x, (*_LR_STATES, ParamGroupsState))


def _collect(tree: Any) -> tuple[list[Any], bool]:
    nodes, grouped = [], False
    for leaf in jax.tree.leaves(tree, is_leaf=_is_lr_node):
        if isinstance(leaf, ParamGroupsState):
            grouped = True
            nodes.extend(_collect(leaf.inner)[0])
        elif isinstance(leaf, _LR_STATES):
            nodes.append(leaf)
    return nodes, grouped


def _lr_nodes(opt_state: Any) -> tuple[list[Any], bool]:
    """The lr-holding states in pytree order, and whether param groups hold them."""
    nodes, grouped = _collect(opt_state)
    if not nodes:
        raise ValueError(
            "opt_state holds no learning rate: build the optimizer with "
            "jtoolkit.optim (sgd, adam, ...), possibly wrapped in accumulate, "
            "param_groups or optax.chain"
        )
    return nodes, grouped


def current_lr(opt_state: Any) -> jax.Array | list[jax.Array]:
    """The learning rate the last update used (before any: the first one).

    torch: ``optimizer.param_groups[0]["lr"]``; a list in group order for a
    `param_groups` state, as ``[g["lr"] for g in optimizer.param_groups]``.
    Works through ``accumulate`` and ``optax.chain``.

    Args:
        opt_state: the state of a `jtoolkit.optim` optimizer.

    Returns:
        A float32 scalar, or a list of them for param groups.

    Raises:
        ValueError: if ``opt_state`` holds no learning rate.

    Example:
        >>> from jtoolkit.optim import sgd
        >>> current_lr(sgd(lr=0.5).init({"w": jnp.zeros(1)})).tolist()
        0.5
    """
    nodes, grouped = _lr_nodes(opt_state)
    lrs = [node.lr for node in nodes]
    return lrs if grouped or len(lrs) > 1 else lrs[0]


def set_lr(opt_state: Any, lr: float | Sequence[float]) -> Any:
    """A new state whose next update uses ``lr`` (a scalar, or one per group).

    torch: ``for g in optimizer.param_groups: g["lr"] = lr`` (the manual warmup
    loop). Works through ``accumulate`` and ``optax.chain``; the state keeps its
    structure and dtypes, so a jitted step does not recompile.

    Args:
        opt_state: the state of a `jtoolkit.optim` optimizer built with a float lr.
        lr: the new learning rate, or a list with one per param group.

    Returns:
        The updated state (the input is not modified).

    Raises:
        ValueError: for an optimizer built with an lr schedule, or a list whose
            length is not the number of groups.

    Example:
        >>> from jtoolkit.optim import sgd
        >>> state = set_lr(sgd(lr=0.5).init({"w": jnp.zeros(1)}), 0.25)
        >>> current_lr(state).tolist()
        0.25
    """
    nodes, _ = _lr_nodes(opt_state)
    if any(isinstance(n, ScheduledLearningRateState) for n in nodes):
        raise ValueError(
            "set_lr cannot change a learning rate that comes from a schedule; "
            "build the optimizer with a float lr to set it by hand, or put the "
            "change into the schedule"
        )
    if isinstance(lr, Sequence) and not isinstance(lr, str):
        values = list(lr)
        if len(values) != len(nodes):
            raise ValueError(
                f"set_lr got {len(values)} learning rates for {len(nodes)} param "
                f"groups; pass one per group or a single float"
            )
    else:
        values = [lr] * len(nodes)
    todo = iter(values)

    def replace(node: Any) -> Any:
        if isinstance(node, LearningRateState):
            return LearningRateState(jnp.asarray(next(todo), node.lr.dtype))
        return node

    return jax.tree.map(replace, opt_state, is_leaf=lambda x: isinstance(x, _LR_STATES))
