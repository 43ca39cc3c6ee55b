"""Atomic, resumable checkpoints of a training state on orbax-checkpoint."""

from __future__ import annotations

import logging
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core.checks import check_int

__all__ = ["all_steps", "latest_step", "restore_checkpoint", "save_checkpoint"]


_STATE, _EXTRA, _LAYOUT = "state", "extra", "layout"


def _quiet_orbax() -> None:
    """Orbax logs each save/restore through absl; keep the user's output clean."""
    for name in ("absl", "orbax", "orbax.checkpoint"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _ocp():
    """orbax.checkpoint, imported on first use (it adds ~0.5 s to start-up)."""
    import orbax.checkpoint

    return orbax.checkpoint


def _manager(directory: str | os.PathLike, max_to_keep: int | None, create: bool):
    _quiet_orbax()
    ocp = _ocp()
    options = ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep,
        create=create,
        enable_async_checkpointing=False,
    )
    return ocp.CheckpointManager(os.path.abspath(os.fspath(directory)), options=options)


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_savable(leaf: Any) -> Any:
    """Typed PRNG keys as their raw uint32 data; Python scalars as numpy."""
    if _is_key(leaf):
        return jax.random.key_data(leaf)
    if isinstance(leaf, jax.Array | np.ndarray):
        return leaf
    return np.asarray(leaf)


def _abstract(leaf: Any) -> jax.ShapeDtypeStruct:
    """Shape and dtype as saved, without touching the (possibly donated) data."""
    if _is_key(leaf):
        return jax.eval_shape(jax.random.key_data, leaf)
    if isinstance(leaf, jax.Array | np.ndarray):
        return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype)
    arr = np.asarray(leaf)
    return jax.ShapeDtypeStruct(arr.shape, arr.dtype)


def _from_saved(saved: Any, target: Any) -> Any:
    if _is_key(target):
        return jax.random.wrap_key_data(saved, impl=jax.random.key_impl(target))
    if isinstance(target, bool | int | float):
        return type(target)(np.asarray(saved))
    return saved


def _flat(tree: Any) -> tuple[dict[str, Any], Any, list[Any]]:
    leaves, treedef = jax.tree.flatten(tree)
    return {f"{i:05d}": _to_savable(x) for i, x in enumerate(leaves)}, treedef, leaves


def save_checkpoint(
    directory: str | os.PathLike,
    state: Any,
    step: int,
    *,
    extra: dict | None = None,
    max_to_keep: int | None = None,
) -> str:
    """Save ``state`` (any pytree of arrays) as checkpoint ``step`` in ``directory``.

    The twin of ``torch.save(state_dict, f"{directory}/{step}")``, but atomic: the
    checkpoint is written to a temporary directory and renamed when complete.

    Args:
        directory: the run's checkpoint directory (created if missing).
        state: a pytree (``TrainState``, dict, ...); typed PRNG keys are supported.
        step: non-negative int naming the checkpoint (e.g. the epoch or the step).
        extra: JSON-serialisable dict of host-side state saved with the same step
            (epoch, ``loader.state_dict()``, plateau state, history).
        max_to_keep: keep only the newest N checkpoints (None: keep all).

    Returns:
        The path of the finished checkpoint.

    Raises:
        ValueError: negative ``step``.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> _ = save_checkpoint(d, {"w": jnp.ones(2)}, 3, extra={"epoch": 3})
        >>> latest_step(d)
        3
        >>> restore_checkpoint(d, {"w": jnp.zeros(2)})["w"].tolist()
        [1.0, 1.0]
    """
    step = check_int("step", step, fn="save_checkpoint", minimum=0)
    flat, _, _ = _flat(state)
    layout = {"shapes": [list(np.shape(x)) for x in flat.values()]}
    ocp = _ocp()
    items = {_STATE: ocp.args.StandardSave(flat), _LAYOUT: ocp.args.JsonSave(layout)}
    if extra is not None:
        items[_EXTRA] = ocp.args.JsonSave(extra)
    with _manager(directory, max_to_keep, create=True) as mngr:
        if step in mngr.all_steps():
            mngr.delete(step)
        mngr.save(step, args=ocp.args.Composite(**items), force=True)
        mngr.wait_until_finished()
    return os.path.join(os.path.abspath(os.fspath(directory)), str(step))


def _resolve_step(mngr: Any, directory: Any, step: int | None) -> int:
    steps = mngr.all_steps()
    if not steps:
        raise FileNotFoundError(f"no complete checkpoint found in {directory!s}")
    if step is None:
        return max(steps)
    if int(step) not in steps:
        raise FileNotFoundError(
            f"checkpoint step {step} not found in {directory!s}; available steps: "
            f"{sorted(steps)}"
        )
    return int(step)


def restore_checkpoint(
    directory: str | os.PathLike,
    target: Any,
    step: int | None = None,
    *,
    with_extra: bool = False,
) -> Any:
    """Restore checkpoint ``step`` (default: the latest complete one) into ``target``.

    The twin of ``model.load_state_dict(torch.load(path)["model"])``: ``target`` gives
    the structure, shapes and dtypes (a freshly created ``TrainState`` for the same
    model and optimizer); the result has ``target``'s structure with saved values.

    Args:
        directory: the checkpoint directory given to ``save_checkpoint``.
        target: a pytree with the same structure as the saved state.
        step: which checkpoint; None for the latest complete one.
        with_extra: also return the JSON ``extra`` dict (None if none was saved).

    Returns:
        The restored pytree, or ``(state, extra)`` with ``with_extra=True``.

    Raises:
        FileNotFoundError: ``directory`` is missing, holds no complete checkpoint, or
            lacks ``step``.
        ValueError: the saved state does not match ``target`` (leaf count or shapes).

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> _ = save_checkpoint(d, {"w": jnp.ones(2)}, 1)
        >>> _ = save_checkpoint(d, {"w": jnp.full(2, 5.0)}, 2)
        >>> restore_checkpoint(d, {"w": jnp.zeros(2)}, step=1)["w"].tolist()
        [1.0, 1.0]
    """
    if not os.path.isdir(os.fspath(directory)):
        raise FileNotFoundError(f"checkpoint directory not found: {directory!s}")
    _, treedef, target_leaves = _flat(target)
    with _manager(directory, None, create=False) as mngr:
        step = _resolve_step(mngr, directory, step)
        saved = _restore_flat(mngr, step, target_leaves, directory)
        extra = _restore_json(mngr, step, _EXTRA) if with_extra else None
    restored = [_from_saved(s, t) for s, t in zip(saved, target_leaves, strict=True)]
    state = jax.tree.unflatten(treedef, restored)
    return (state, extra) if with_extra else state


def _restore_flat(mngr: Any, step: int, target_leaves: list, directory: Any) -> list:
    layout = _restore_json(mngr, step, _LAYOUT)
    shapes = None if layout is None else [tuple(s) for s in layout["shapes"]]
    if shapes is not None and len(shapes) != len(target_leaves):
        raise ValueError(
            f"checkpoint {step} in {directory!s} holds {len(shapes)} arrays but the "
            f"target has {len(target_leaves)}: restore into a state built from the "
            "same model and optimizer"
        )
    abstract = {}
    for i, leaf in enumerate(target_leaves):
        arr = _abstract(leaf)
        if shapes is not None and shapes[i] != arr.shape:
            raise ValueError(
                f"checkpoint {step} leaf {i} has shape {shapes[i]} but the target's "
                f"has shape {arr.shape}: restore into a state built from the same "
                "model and optimizer"
            )
        abstract[f"{i:05d}"] = arr
    ocp = _ocp()
    out = mngr.restore(
        step, args=ocp.args.Composite(**{_STATE: ocp.args.StandardRestore(abstract)})
    )
    return [out[_STATE][f"{i:05d}"] for i in range(len(target_leaves))]


def _restore_json(mngr: Any, step: int, name: str) -> Any:
    """A JSON item of checkpoint ``step``, or None when it was not saved."""
    if not os.path.isdir(os.path.join(str(mngr.directory), str(step), name)):
        return None
    ocp = _ocp()
    out = mngr.restore(step, args=ocp.args.Composite(**{name: ocp.args.JsonRestore()}))
    return out[name]


def all_steps(directory: str | os.PathLike) -> list[int]:
    """Sorted steps of the complete checkpoints in ``directory`` ([] if none).

    Example:
        >>> import tempfile
        >>> all_steps(tempfile.mkdtemp())
        []
    """
    if not os.path.isdir(os.fspath(directory)):
        return []
    with _manager(directory, None, create=False) as mngr:
        return sorted(mngr.all_steps())


def latest_step(directory: str | os.PathLike) -> int | None:
    """The newest complete checkpoint's step in ``directory``, or None.

    Example:
        >>> import tempfile
        >>> latest_step(tempfile.mkdtemp()) is None
        True
    """
    steps = all_steps(directory)
    return steps[-1] if steps else None
