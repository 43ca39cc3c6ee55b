"""The learning rate held in the optimizer state (torch's ``param_group['lr']``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import jax
import jax.numpy as jnp
import optax

from jtoolkit._src.optim.groups import ParamGroupsState
from jtoolkit._src.optim.schedulable import Schedulable, hyper_dtype, zero_count

__all__ = [
    "LearningRateState",
    "ScheduledLearningRateState",
    "current_lr",
    "lr_state_init",
    "lr_state_read",
    "next_lr",
    "scale_by_torch_lr",
    "set_lr",
]


class LearningRateState(NamedTuple):
    """State of a float learning rate: the twin of ``param_group["lr"]``."""

    lr: jax.Array


class ScheduledLearningRateState(NamedTuple):
    """State of a scheduled learning rate.

    ``count`` updates done, ``lr`` the one the last update used and ``next_lr``
    the one the next update will use (torch's ``param_group["lr"]`` after
    ``scheduler.step()``).
    """

    count: jax.Array
    lr: jax.Array
    next_lr: jax.Array


def lr_state_init(
    lr: Schedulable, params: optax.Params | None = None
) -> LearningRateState | ScheduledLearningRateState:
    """The lr state before any update (a schedule is evaluated at count 0).

    The lr takes the parameters' `hyper_dtype` (float64 for a float64 model, as
    torch's Python float).
    """
    dtype = hyper_dtype(params)
    if callable(lr):
        count = zero_count()
        first = jnp.asarray(lr(count), dtype)
        return ScheduledLearningRateState(count, first, first)
    return LearningRateState(jnp.asarray(lr, dtype))


def lr_state_read(
    lr: Schedulable, state: LearningRateState | ScheduledLearningRateState
) -> tuple[jax.Array, LearningRateState | ScheduledLearningRateState]:
    """The lr this update uses (torch's ``group["lr"]``) and the next lr state."""
    if callable(lr):
        # lr_state_init gives a schedule this state (a NamedTuple whose
        # ``count`` the type checker would otherwise take for tuple.count).
        state = cast(ScheduledLearningRateState, state)
        dtype = state.lr.dtype
        lr_t = jnp.asarray(lr(state.count), dtype)
        count = state.count + 1
        return lr_t, ScheduledLearningRateState(
            count, lr_t, jnp.asarray(lr(count), dtype)
        )
    return state.lr, state


def _scale(updates: optax.Updates, factor: jax.Array) -> optax.Updates:
    return jax.tree.map(lambda u: (factor * u).astype(u.dtype), updates)


def scale_by_torch_lr(lr: Schedulable) -> optax.GradientTransformation:
    """Multiply updates by ``-lr``, keeping lr in the state (torch's ``param_group``).

    A float lr lives in `LearningRateState` (in the parameters' `hyper_dtype`:
    float64 for a float64 model, as torch's Python float) so ``set_lr`` can
    replace it between steps; a schedule is evaluated at the update count and the
    value used is kept in `ScheduledLearningRateState` for ``current_lr``.
    """

    def init_fn(params: optax.Params):
        return lr_state_init(lr, params)

    def update_fn(updates, state, params=None):
        del params
        lr_t, new_state = lr_state_read(lr, state)
        return _scale(updates, -lr_t), new_state

    return optax.GradientTransformation(init_fn, update_fn)


_LR_STATES = (LearningRateState, ScheduledLearningRateState)


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

    torch: ``optimizer.param_groups[0]["lr"]`` read *before* ``scheduler.step()``
    (after it, torch shows the next lr: that is `next_lr`); a list in group order
    for a `param_groups` state, as ``[g["lr"] for g in optimizer.param_groups]``.
    Works through ``accumulate`` and ``optax.chain``.

    Args:
        opt_state: the state of a `jtoolkit.optim` optimizer.

    Returns:
        A scalar (float32, float64 for a float64 model), or a list of them
        for param groups.

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


def next_lr(opt_state: Any) -> jax.Array | list[jax.Array]:
    """The learning rate the next update will use: torch's reading after a step.

    torch: ``optimizer.param_groups[0]["lr"]`` (or ``scheduler.get_last_lr()``)
    after ``optimizer.step(); scheduler.step()``: the scheduler has already moved
    the lr on. `current_lr` is the lr the last update used; the two differ only
    for an optimizer built with a schedule (``next_lr`` is the schedule at the
    number of updates done). A list in group order for `param_groups`.

    Args:
        opt_state: the state of a `jtoolkit.optim` optimizer.

    Returns:
        A scalar (float32, float64 for a float64 model), or a list of them.

    Raises:
        ValueError: if ``opt_state`` holds no learning rate.

    Example:
        >>> import optax
        >>> from jtoolkit.optim import sgd
        >>> from jtoolkit.schedules import step_lr
        >>> tx = sgd(lr=step_lr(1.0, step_size=1, gamma=0.5))
        >>> state = tx.init({"w": jnp.zeros(1)})
        >>> _, state = tx.update({"w": jnp.ones(1)}, state)
        >>> current_lr(state).tolist(), next_lr(state).tolist()
        (1.0, 0.5)
    """
    nodes, grouped = _lr_nodes(opt_state)
    lrs = [getattr(node, "next_lr", node.lr) for node in nodes]
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
