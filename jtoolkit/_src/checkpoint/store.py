"""Atomic, resumable checkpoints of a training state on orbax-checkpoint.

Each process writes its own shards (orbax) and the digests of the blocks it wrote
(from its own device data): nothing is gathered to one host, so a state sharded
over several processes saves, and restores onto any topology (its target's
shardings decide where the arrays land).
"""

from __future__ import annotations

import contextlib
import errno
import os
import warnings
from collections.abc import Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.checkpoint import steps
from jtoolkit._src.checkpoint.collective import barrier, is_primary
from jtoolkit._src.checkpoint.errors import quiet_orbax, write_failure
from jtoolkit._src.checkpoint.integrity import (
    FILES,
    CheckpointCorruptError,
    array_digest,
    check_step_dir,
    json_digest,
    make_manifest,
    read_json_item,
    read_manifest,
    read_shard_digests,
    verify_file_sums,
    write_file_sums,
    write_shard_digests,
)
from jtoolkit._src.checkpoint.lock import hold_writer_lock, lost_directory
from jtoolkit._src.core.checks import check_int
from jtoolkit._src.core.files import UnsafePathError

__all__ = [
    "all_steps",
    "latest_step",
    "prune_checkpoints",
    "restore_checkpoint",
    "save_checkpoint",
    "wait_until_finished",
]


_STATE, _EXTRA, _LAYOUT = "state", "extra", "layout"


def _ocp():
    """orbax.checkpoint, imported on first use (it adds ~0.5 s to start-up)."""
    import orbax.checkpoint

    return orbax.checkpoint


def _checkpointer():
    """One orbax Checkpointer per process (a new one per save leaks memory)."""
    global _CHECKPOINTER
    if _CHECKPOINTER is None:
        ocp = _ocp()
        _CHECKPOINTER = ocp.Checkpointer(ocp.CompositeCheckpointHandler())
    return _CHECKPOINTER


_CHECKPOINTER = None


def _async_checkpointer():
    """One orbax AsyncCheckpointer per process: it copies the arrays to the host
    and writes them in a background thread."""
    global _ASYNC_CHECKPOINTER
    if _ASYNC_CHECKPOINTER is None:
        ocp = _ocp()
        handler = ocp.CompositeCheckpointHandler()
        _ASYNC_CHECKPOINTER = ocp.AsyncCheckpointer(handler)
    return _ASYNC_CHECKPOINTER


_ASYNC_CHECKPOINTER = None


class _Pending(NamedTuple):
    """An asynchronous save whose files are still being written."""

    root: str
    step: int
    final: str
    max_to_keep: int | None
    digests: dict
    signals: set | None = None  # orbax's signal keys before the save began


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_savable(leaf: Any) -> Any:
    """Typed PRNG keys as their raw uint32 data; Python scalars as numpy."""
    if _is_key(leaf):
        return jax.random.key_data(leaf)
    if isinstance(leaf, jax.Array | np.ndarray):
        return leaf
    return np.asarray(leaf)


_KEY_DATA: dict[tuple, jax.ShapeDtypeStruct] = {}


def _key_data_struct(leaf: Any) -> jax.ShapeDtypeStruct:
    """Shape and dtype of ``key_data(leaf)``, traced once per key shape and impl
    (``jax.eval_shape`` per restore kept ~4 KB of trace caches per call)."""
    index = (leaf.shape, leaf.dtype)
    if index not in _KEY_DATA:
        _KEY_DATA[index] = jax.eval_shape(jax.random.key_data, leaf)
    return _KEY_DATA[index]


def _signal_keys() -> tuple[Any, set | None]:
    """orbax's in-process signalling client and its current keys (None: a
    multi-process run's signals live in the distributed key-value store)."""
    try:
        from orbax.checkpoint._src.futures import signaling_client

        client = signaling_client.get_signaling_client()
    except (ImportError, AttributeError, RuntimeError):
        client = None
    data = getattr(client, "_data", None)
    return client, set(data) if isinstance(data, dict) else None


def _drop_signals(client: Any, before: set | None) -> None:
    """Delete the signal keys added since ``before`` (orbax never does)."""
    data = getattr(client, "_data", None)
    if before is None or not isinstance(data, dict):
        return
    for key in set(data) - before:
        client.key_value_delete(key)


@contextlib.contextmanager
def _forget_orbax_signals() -> Iterator[None]:
    """Drop the completion-signal keys one finished orbax call leaves behind.

    In a single process orbax signals completion through a process-wide dict
    that it never empties (two keys per save: RSS grew with every call). An
    asynchronous save's keys are dropped after ``wait_until_finished`` instead
    (its background thread still waits on them).
    """
    client, before = _signal_keys()
    try:
        yield
    finally:
        _drop_signals(client, before)


def _abstract(leaf: Any) -> jax.ShapeDtypeStruct:
    """Shape, dtype and placement to restore into, without touching the (possibly
    donated) data. The target's sharding decides where the arrays land, whatever
    topology saved them (8 devices -> 1, 1 -> a mesh, 2 processes -> 1)."""
    if _is_key(leaf):
        data = _key_data_struct(leaf)
        return jax.ShapeDtypeStruct(data.shape, data.dtype, sharding=leaf.sharding)
    if isinstance(leaf, jax.Array):
        return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=leaf.sharding)
    arr = np.asarray(leaf)
    local = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    return jax.ShapeDtypeStruct(arr.shape, arr.dtype, sharding=local)


def _from_saved(saved: Any, target: Any) -> Any:
    if _is_key(target):
        return jax.random.wrap_key_data(saved, impl=jax.random.key_impl(target))
    if isinstance(target, bool | int | float):
        return type(target)(np.asarray(saved))
    return saved


def _flat(tree: Any) -> tuple[list[str], list[Any], Any, list[Any]]:
    """``(paths, savable leaves, treedef, leaves)`` of a pytree."""
    with_paths, treedef = jax.tree_util.tree_flatten_with_path(tree)
    paths = [jax.tree_util.keystr(k) for k, _ in with_paths]
    leaves = [x for _, x in with_paths]
    return paths, [_to_savable(x) for x in leaves], treedef, leaves


def _key(i: int) -> str:
    return f"{i:05d}"


def _bounds(index: tuple, shape: tuple) -> list[list[int]]:
    """``[[start, stop], ...]`` per dimension of a shard's index (slices)."""
    out = []
    for sl, n in zip(index, shape, strict=True):
        start, stop, _ = sl.indices(n)
        out.append([start, stop])
    return out


def _owned_blocks(array: Any) -> list[tuple[list, np.ndarray]]:
    """``(bounds, host copy)`` of each block this process writes: its shards of
    replica 0 (one copy of each block in the whole job); a host array: process 0."""
    if isinstance(array, jax.Array):
        return [
            (_bounds(s.index, array.shape), np.asarray(s.data))
            for s in array.addressable_shards
            if s.replica_id == 0
        ]
    if not is_primary():
        return []
    return [([[0, n] for n in np.shape(array)], np.asarray(array))]


def _block_digests(arrays: list[Any]) -> dict[int, list]:
    """This process's ``{array index: [(bounds, sha256)]}``, one shard at a time."""
    return {
        i: [(b, array_digest(block)) for b, block in _owned_blocks(a)]
        for i, a in enumerate(arrays)
    }


def _inside(inner: list, outer: list) -> bool:
    return all(
        o0 <= i0 and i1 <= o1 for (i0, i1), (o0, o1) in zip(inner, outer, strict=True)
    )


def _check_blocks(where: str, path: str, value: Any, blocks: list) -> None:
    """Check the saved blocks that lie inside this process's restored shards of
    ``value`` against their digests (a block split over several processes' shards
    is covered by the files' checksums only)."""
    shards = (
        [
            (_bounds(s.index, value.shape), s.data)
            for s in value.addressable_shards
            if s.replica_id == 0
        ]
        if isinstance(value, jax.Array)
        else [([[0, n] for n in np.shape(value)], value)]
    )
    for outer, data in shards:
        host = None
        for bounds, digest in blocks:
            if not _inside(bounds, outer):
                continue
            host = np.asarray(data) if host is None else host
            rel = tuple(
                slice(b0 - o0, b1 - o0)
                for (b0, b1), (o0, _) in zip(bounds, outer, strict=True)
            )
            if array_digest(host[rel]) != digest:
                raise CheckpointCorruptError(
                    f"checkpoint {where} is damaged: block {bounds} of array {path} "
                    f"in {where}/{_STATE} fails its checksum"
                )


def save_checkpoint(
    directory: str | os.PathLike,
    state: Any,
    step: int,
    *,
    extra: dict | None = None,
    max_to_keep: int | None = None,
    blocking: bool = True,
) -> str:
    """Save ``state`` (any pytree of arrays) as checkpoint ``step`` in ``directory``.

    The twin of ``torch.save(state_dict, f"{directory}/{step}")``, but atomic and
    checked: the checkpoint is written to a temporary directory and renamed when
    complete, with a manifest holding every array's tree path, shape and dtype
    (and the ``extra`` item's SHA-256) and, per process, the SHA-256 of every
    shard it wrote, verified by ``restore_checkpoint``. Every process writes its
    own shards (orbax): nothing is gathered to one host, so a state sharded over
    several processes (FSDP) saves, and restores onto any topology.
    Saving over an existing step writes the new copy completely before the old
    one is removed, so a kill at any moment leaves one complete copy.

    Args:
        directory: the run's checkpoint directory (created if missing).
        state: a pytree (``TrainState``, dict, ...); typed PRNG keys are supported.
        step: non-negative int naming the checkpoint (e.g. the epoch or the step).
        extra: JSON-serialisable dict of host-side state saved with the same step
            (epoch, ``loader.state_dict()``, plateau state, history).
        max_to_keep: keep only the newest N checkpoints (None: keep all); older
            ones are deleted at every save.
        blocking: False returns once the arrays are copied to the host, and
            orbax writes them in a background thread (the state may be donated
            to the next step at once); the save is finished (checksummed, swapped
            in, old steps pruned) by the next ``save_checkpoint`` or
            ``wait_until_finished``, which raise its error naming the path.
            Until then the previous step is the latest.

    Returns:
        The path of the checkpoint (finished, or being written).

    Raises:
        ValueError: negative ``step``.
        TypeError: ``extra`` is not JSON-serialisable.
        NotADirectoryError: ``directory`` is a file.
        CheckpointLockedError: another live process writes to ``directory``
            (one writer per directory; the lock is held until this process exits).
        CheckpointWriteError: an ``OSError`` (full disk, read-only file system,
            no permission, vanished directory, ...) naming the operation and the
            path; the checkpoints saved before are intact, the newest still latest.

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
    wait_until_finished()  # the previous asynchronous save, finished or raised
    root = os.path.abspath(os.fspath(directory))
    if os.path.exists(root) and not os.path.isdir(root):
        raise NotADirectoryError(f"checkpoint directory {root} is a file")
    paths, arrays, _, _ = _flat(state)
    shapes, dtypes = [np.shape(a) for a in arrays], [a.dtype for a in arrays]
    manifest = make_manifest(paths, shapes, dtypes, extra, jax.process_count())
    digests = _block_digests(arrays)  # now: the caller may donate the state next
    ocp = _ocp()
    items = {
        _STATE: ocp.args.StandardSave({_key(i): a for i, a in enumerate(arrays)}),
        _LAYOUT: ocp.args.JsonSave(manifest),
    }
    if extra is not None:
        items[_EXTRA] = ocp.args.JsonSave(extra)
    final = os.path.join(root, str(step))
    what = f"save_checkpoint: writing step {step}"
    if is_primary():
        _tidy(root, what)
    barrier("save_checkpoint", final)  # every process is here, the directory tidy
    # Written beside the step, checksummed, then swapped in: a kill at any moment
    # leaves a complete copy (the old one, or the new one with its checksums).
    pending = _Pending(root, step, final, max_to_keep, digests, _signal_keys()[1])
    try:
        checkpointer = _checkpointer() if blocking else _async_checkpointer()
        with (
            quiet_orbax(),
            _forget_orbax_signals() if blocking else contextlib.nullcontext(),
        ):
            checkpointer.save(
                final + steps.NEW, args=ocp.args.Composite(**items), force=True
            )
    except (OSError, ValueError, UnsafePathError) as err:
        if is_primary():
            _discard(root)
        raise write_failure(what, final, err) from None
    if blocking:
        _finish(pending)
    else:
        global _PENDING
        _PENDING = pending
    return final


_PENDING: _Pending | None = None


def _finish(pending: _Pending) -> None:
    """The file steps after orbax wrote a save: each process's shard digests,
    then (process 0) the files' checksums, the swap into place and retention."""
    root, final = pending.root, pending.final
    what = f"save_checkpoint: writing step {pending.step}"
    try:
        barrier("save_checkpoint", final)  # orbax's directory is complete
        write_shard_digests(final + steps.NEW, jax.process_index(), pending.digests)
        barrier("save_checkpoint", final)
        if is_primary():  # jtoolkit's own file steps: one process, between barriers
            write_file_sums(final + steps.NEW)
            steps.replace_step(root, pending.step)
            steps.prune(root, pending.max_to_keep, protect=pending.step)
    except (OSError, ValueError, UnsafePathError) as err:
        if is_primary():
            _discard(root)
        raise write_failure(what, final, err) from None
    barrier("save_checkpoint", final)


def wait_until_finished() -> None:
    """Finish this process's asynchronous save (``blocking=False``), if any.

    Waits for orbax's background write, then checksums the step and swaps it in
    (every process must call it, as ``save_checkpoint``). A no-op without one.
    The twin of orbax's ``AsyncCheckpointer.wait_until_finished``.

    Raises:
        CheckpointWriteError: the background write failed; the message names
            the checkpoint's path and the cause. The unfinished copy is removed
            and the previous step stays the latest.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> _ = save_checkpoint(d, {"w": jnp.ones(2)}, 5, blocking=False)
        >>> wait_until_finished()
        >>> latest_step(d)
        5
    """
    global _PENDING
    pending, _PENDING = _PENDING, None
    if pending is None:
        return
    try:
        with quiet_orbax():
            _async_checkpointer().wait_until_finished()
    except Exception as err:  # whatever the background thread raised
        if is_primary():
            _discard(pending.root)
        what = f"save_checkpoint: writing step {pending.step} in the background"
        raise write_failure(what, pending.final, err) from err
    finally:
        _drop_signals(_signal_keys()[0], pending.signals)
    _finish(pending)


def _tidy(root: str, what: str) -> None:
    """Create the directory, take its writer lock, finish interrupted saves."""
    try:
        if lost_directory(root):
            raise FileNotFoundError(
                errno.ENOENT,
                "the directory was removed while this process was writing to it",
                root,
            )
        os.makedirs(root, exist_ok=True)
        hold_writer_lock(root)
        steps.recover(root)
    except OSError as err:
        raise write_failure(what, root, err) from None


def _discard(root: str) -> None:
    """Remove an unfinished save, so the previous step stays the latest."""
    try:
        steps.recover(root)
    except OSError:
        pass  # left for the next save's tidy-up; readers ignore it anyway


def _describe(directory: Any, paths: dict[int, str]) -> str:
    return f"{directory!s}" + (f" (steps {sorted(paths)})" if paths else "")


def restore_checkpoint(
    directory: str | os.PathLike,
    target: Any,
    step: int | None = None,
    *,
    with_extra: bool = False,
) -> Any:
    """Restore checkpoint ``step`` (default: the newest intact one) into ``target``.

    The twin of ``model.load_state_dict(torch.load(path)["model"])``: ``target`` gives
    the structure, shapes and dtypes (a freshly created ``TrainState`` for the same
    model and optimizer); the result has ``target``'s structure with saved values,
    matched by tree path. Every array and the ``extra`` item are checked against
    the checksums saved with them. With ``step=None`` a damaged or incomplete
    newest checkpoint is skipped with a ``UserWarning`` naming its path and the
    newest intact one is restored.

    Args:
        directory: the checkpoint directory given to ``save_checkpoint``.
        target: a pytree with the same structure as the saved state.
        step: which checkpoint; None for the newest intact one.
        with_extra: also return the JSON ``extra`` dict (None if none was saved).

    Returns:
        The restored pytree, or ``(state, extra)`` with ``with_extra=True``.

    Raises:
        FileNotFoundError: ``directory`` is missing, holds no checkpoint, or lacks
            ``step``.
        CheckpointCorruptError: ``step`` (or, with ``step=None``, every checkpoint)
            is damaged; the message names the path and what is wrong.
        ValueError: the saved state does not match ``target`` (paths or shapes).

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> _ = save_checkpoint(d, {"w": jnp.ones(2)}, 1)
        >>> _ = save_checkpoint(d, {"w": jnp.full(2, 5.0)}, 2)
        >>> restore_checkpoint(d, {"w": jnp.zeros(2)}, step=1)["w"].tolist()
        [1.0, 1.0]
    """
    root = os.path.abspath(os.fspath(directory))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"checkpoint directory not found: {directory!s}")
    found = steps.step_paths(root)
    if not found:
        raise FileNotFoundError(f"no complete checkpoint found in {directory!s}")
    if step is not None:
        step = check_int("step", step, fn="restore_checkpoint", minimum=0)
        if step not in found:
            raise FileNotFoundError(
                f"checkpoint step {step} not found in {directory!s}; available steps: "
                f"{sorted(found)}"
            )
        state, extra = _restore_step(found[step], target, with_extra)
        return (state, extra) if with_extra else state
    skipped = []
    for candidate in sorted(found, reverse=True):
        try:
            state, extra = _restore_step(found[candidate], target, with_extra)
        except CheckpointCorruptError as err:
            skipped.append(str(err))
            continue
        if skipped:
            warnings.warn(
                f"skipped {len(skipped)} damaged checkpoint(s), restored step "
                f"{candidate} of {directory!s}: " + "; ".join(skipped),
                UserWarning,
                stacklevel=2,
            )
        return (state, extra) if with_extra else state
    raise CheckpointCorruptError(
        f"no intact checkpoint in {directory!s}: " + "; ".join(skipped)
    )


def _order(manifest: dict, paths: list[str], shapes: list, where: str) -> list[int]:
    """Saved index of each target leaf, matched by tree path; mismatches raise."""
    saved_shapes = [tuple(s) for s in manifest["shapes"]]
    saved_paths = manifest.get("paths")
    if saved_paths is None:  # format 1: positional
        if len(saved_shapes) != len(paths):
            raise ValueError(
                f"checkpoint {where} holds {len(saved_shapes)} arrays but the target "
                f"has {len(paths)}: restore into a state built from the same model "
                "and optimizer"
            )
        order = list(range(len(paths)))
    else:
        index = {p: i for i, p in enumerate(saved_paths)}
        missing = [p for p in paths if p not in index]
        unexpected = [p for p in saved_paths if p not in set(paths)]
        if missing or unexpected:
            raise ValueError(
                f"checkpoint {where} holds {len(saved_paths)} arrays but the target "
                f"has {len(paths)}; "
                + (f"not in the checkpoint: {missing[0]}; " if missing else "")
                + (f"not in the target: {unexpected[0]}; " if unexpected else "")
                + "restore into a state built from the same model and optimizer"
            )
        order = [index[p] for p in paths]
    for p, i, shape in zip(paths, order, shapes, strict=True):
        if saved_shapes[i] != shape:
            raise ValueError(
                f"checkpoint {where} leaf {p or i} has shape {saved_shapes[i]} but the "
                f"target's has shape {shape}: restore into a state built from the "
                "same model and optimizer"
            )
    return order


def _restore_step(where: str, target: Any, with_extra: bool) -> tuple[Any, Any]:
    """Restore and verify one step directory; damage raises CheckpointCorruptError."""
    check_step_dir(where)
    has_sums = verify_file_sums(where)
    manifest = read_manifest(where)
    if not has_sums and manifest["format"] >= 2:
        raise CheckpointCorruptError(
            f"checkpoint {where} is incomplete: {where}/{FILES} is missing"
        )
    paths, _, treedef, target_leaves = _flat(target)
    abstract = [_abstract(leaf) for leaf in target_leaves]
    order = _order(manifest, paths, [a.shape for a in abstract], where)
    verified = manifest["format"] >= 2
    blocks = read_shard_digests(where, manifest) if manifest["format"] >= 3 else None
    extra = None
    if verified and manifest["extra_sha256"] is not None:
        extra = read_json_item(where, _EXTRA)
        if json_digest(extra) != manifest["extra_sha256"]:
            raise CheckpointCorruptError(
                f"checkpoint {where} is damaged: {where}/{_EXTRA}/metadata fails its "
                "checksum"
            )
    elif with_extra and os.path.isdir(os.path.join(where, _EXTRA)):
        extra = read_json_item(where, _EXTRA)
    ocp = _ocp()
    wanted = {_key(i): a for i, a in zip(order, abstract, strict=True)}
    try:
        with quiet_orbax(), _forget_orbax_signals():
            out = _checkpointer().restore(
                where,
                args=ocp.args.Composite(**{_STATE: ocp.args.StandardRestore(wanted)}),
            )[_STATE]
        saved = [out[_key(i)] for i in order]
    except Exception as err:  # any failure to read is damage
        first = (str(err).strip().splitlines() or [""])[0][:200]
        raise CheckpointCorruptError(
            f"checkpoint {where} is damaged: {where}/{_STATE} cannot be read "
            f"({type(err).__name__}: {first})"
        ) from None
    if blocks is not None:
        for p, i, value in zip(paths, order, saved, strict=True):
            _check_blocks(where, p, value, blocks[i])
    elif verified:  # format 2: one digest of each whole array
        for p, i, value in zip(paths, order, saved, strict=True):
            if array_digest(jax.device_get(value)) != manifest["sha256"][i]:
                raise CheckpointCorruptError(
                    f"checkpoint {where} is damaged: array {p} in {where}/{_STATE} "
                    "fails its checksum"
                )
    restored = [_from_saved(s, t) for s, t in zip(saved, target_leaves, strict=True)]
    return jax.tree.unflatten(treedef, restored), extra


def all_steps(directory: str | os.PathLike) -> list[int]:
    """Sorted steps of the checkpoints in ``directory`` ([] if none).

    Only finished saves are listed (an interrupted save leaves none); whether a
    listed step is intact is checked when it is restored.

    Example:
        >>> import tempfile
        >>> all_steps(tempfile.mkdtemp())
        []
    """
    return sorted(steps.step_paths(os.path.abspath(os.fspath(directory))))


def latest_step(directory: str | os.PathLike) -> int | None:
    """The newest checkpoint's step in ``directory``, or None.

    Example:
        >>> import tempfile
        >>> latest_step(tempfile.mkdtemp()) is None
        True
    """
    found = all_steps(directory)
    return found[-1] if found else None


def prune_checkpoints(
    directory: str | os.PathLike, max_to_keep: int | None, protect: int | None = None
) -> list[int]:
    """Delete all but the newest ``max_to_keep`` checkpoints (and step ``protect``).

    ``save_checkpoint`` does this at every save; call it at start-up to enforce the
    limit after a kill. Returns the deleted steps.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> for s in range(4):
        ...     _ = save_checkpoint(d, {"w": jnp.ones(1)}, s)
        >>> prune_checkpoints(d, 2), all_steps(d)
        ([1, 0], [2, 3])
    """
    root = os.path.abspath(os.fspath(directory))
    removed: list[int] = []
    if is_primary() and os.path.isdir(root):
        what = "prune_checkpoints"
        _tidy(root, what)
        try:
            removed = steps.prune(root, max_to_keep, protect)
        except OSError as err:
            raise write_failure(what, root, err) from None
    barrier("prune_checkpoints", root)
    return removed
