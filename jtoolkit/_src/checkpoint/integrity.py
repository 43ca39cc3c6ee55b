"""Checksums and the manifest that make a damaged checkpoint detectable.

Each checkpoint carries a manifest (JSON): the tree path, shape and dtype of every
array, the number of processes that wrote it and the SHA-256 of the ``extra`` JSON
item, plus a checksum of the manifest itself; ``jtoolkit-shards-<process>.json``
per process: the SHA-256 of every block (shard) of every array that this process
wrote, computed by that process from its own device data (no process ever holds
the whole state); and ``jtoolkit-files.json``: the size and SHA-256 of every file,
checked before orbax reads any of them. Restoring recomputes them, so a flipped
bit, a truncated file or a missing part is reported instead of restored.

The checksums detect accidental damage, not a writer with access to the directory
(who can rewrite a file and its checksum alike); with ``$JTOOLKIT_CHECKPOINT_KEY``
set, ``jtoolkit-files.json`` also carries an HMAC-SHA256 under that key, and a
checkpoint without it, or with a wrong one, is damage. Whatever the files say,
nothing outside the step directory is read: every listed path is a plain relative
path checked before use, a symlink anywhere in the step directory or a file not
listed is damage, and files are opened with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from typing import Any

import numpy as np

from jtoolkit._src.core.files import UnsafePathError, atomic_write, confined, open_read

__all__ = [
    "FILES",
    "KEY_ENV",
    "CheckpointCorruptError",
    "array_digest",
    "check_step_dir",
    "json_digest",
    "make_manifest",
    "read_json_item",
    "read_manifest",
    "read_shard_digests",
    "verify_file_sums",
    "write_file_sums",
    "write_shard_digests",
]

FORMAT = 3  # 2: one SHA-256 per whole array in the manifest; 3: per shard, per process


class CheckpointCorruptError(RuntimeError):
    """A checkpoint is damaged or incomplete; the message names its path.

    The twin of torch.load's ``RuntimeError`` on a damaged file.
    """


def array_digest(array: Any) -> str:
    """SHA-256 of an array's dtype, shape and bytes (C order), as hex."""
    arr = np.ascontiguousarray(np.asarray(array))
    h = hashlib.sha256(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(arr.view(np.uint8).reshape(-1).data if arr.size else b"")
    return h.hexdigest()


def json_digest(value: Any) -> str:
    """SHA-256 of ``value``'s canonical JSON text, as hex."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def make_manifest(paths, shapes, dtypes, extra: Any, processes: int = 1) -> dict:
    """The manifest of a checkpoint (paths, shapes, dtypes, the writing processes,
    the ``extra`` item's digest), self-checked. Reads no array data."""
    body = {
        "format": FORMAT,
        "paths": list(paths),
        "shapes": [[int(d) for d in shape] for shape in shapes],
        "dtypes": [np.dtype(d).str for d in dtypes],
        "processes": int(processes),
        "extra_sha256": None if extra is None else json_digest(extra),
    }
    return {**body, "manifest_sha256": json_digest(body)}


SHARDS = "jtoolkit-shards-{:05d}.json"


def write_shard_digests(step_dir: str, process: int, blocks: dict) -> None:
    """Write this process's block digests: ``blocks`` maps a saved array's index
    to ``[(bounds, sha256), ...]``, ``bounds`` the ``[start, stop]`` of each
    dimension of a block this process wrote."""
    body = {"process": int(process), "blocks": {str(k): v for k, v in blocks.items()}}
    record = {**body, "sha256": json_digest(body)}
    atomic_write(os.path.join(step_dir, SHARDS.format(process)), json.dumps(record))


def _volume(bounds: list) -> int:
    return int(np.prod([stop - start for start, stop in bounds]))


def read_shard_digests(step_dir: str, manifest: dict) -> dict[int, list]:
    """Every process's block digests, merged: ``{array index: [(bounds, sha)]}``.

    Raises:
        CheckpointCorruptError: a process's file is missing or fails its checksum,
            or the blocks of an array do not add up to the whole array.
    """
    merged: dict[int, list] = {i: [] for i in range(len(manifest["shapes"]))}
    for process in range(int(manifest.get("processes", 1))):
        name = SHARDS.format(process)
        try:
            record = _read_json(step_dir, name)
            body = {"process": record["process"], "blocks": record["blocks"]}
            ok = record["sha256"] == json_digest(body) and body["process"] == process
            for key, items in body["blocks"].items():
                merged[int(key)] += [(b, sha) for b, sha in items]
        except (ValueError, UnicodeDecodeError, KeyError, TypeError):
            ok = False
        if not ok:
            raise CheckpointCorruptError(
                f"checkpoint {step_dir} is damaged: {step_dir}/{name} fails its "
                "checksum"
            )
    for i, shape in enumerate(manifest["shapes"]):
        covered = sum(_volume(b) for b, _ in merged[i])
        if covered != int(np.prod(shape)):
            raise CheckpointCorruptError(
                f"checkpoint {step_dir} is incomplete: the shard digests of array "
                f"{manifest['paths'][i]} cover {covered} of {int(np.prod(shape))} "
                "elements"
            )
    return merged


_JSON_LIMIT = 1 << 28  # bytes of one JSON file read whole (a manifest, ``extra``)


def _read_json(step_dir: str, rel: str) -> Any:
    """JSON file ``rel`` of a step directory, read without following a symlink."""
    try:
        path = confined(step_dir, rel)
        with open_read(path) as f:
            size = os.fstat(f.fileno()).st_size
            if size > _JSON_LIMIT:
                raise UnsafePathError(f"{path} has {size} bytes, over {_JSON_LIMIT}")
            data = f.read()
    except FileNotFoundError:
        raise CheckpointCorruptError(
            f"checkpoint {step_dir} is incomplete: {os.path.join(step_dir, rel)} "
            "is missing"
        ) from None
    except UnsafePathError as err:
        raise CheckpointCorruptError(
            f"checkpoint {step_dir} is unsafe to read: {err}"
        ) from None
    except OSError as err:
        raise CheckpointCorruptError(
            f"checkpoint {step_dir}: {os.path.join(step_dir, rel)} cannot be read "
            f"({err.strerror})"
        ) from None
    return json.loads(data.decode())


def read_json_item(step_dir: str, name: str) -> Any:
    """JSON item ``name`` of a checkpoint, read from disk; damage raises."""
    path = os.path.join(step_dir, name, "metadata")
    try:
        return _read_json(step_dir, f"{name}/metadata")
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointCorruptError(
            f"checkpoint {step_dir} is damaged: {path} is not valid JSON ({err})"
        ) from None


def read_manifest(step_dir: str) -> dict:
    """The checkpoint's manifest, checked against its own checksum.

    A checkpoint written before manifests existed returns ``{"format": 1, ...}``
    with only ``shapes`` (nothing to verify against).
    """
    check_step_dir(step_dir)
    manifest = read_json_item(step_dir, "layout")
    if not isinstance(manifest, dict):
        raise CheckpointCorruptError(f"checkpoint {step_dir}: layout is not a manifest")
    if "format" not in manifest:
        if not isinstance(manifest.get("shapes"), list):
            raise CheckpointCorruptError(f"checkpoint {step_dir}: layout has no shapes")
        return {"format": 1, **manifest}
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    if manifest.get("manifest_sha256") != json_digest(body):
        raise CheckpointCorruptError(
            f"checkpoint {step_dir} is damaged: {step_dir}/layout/metadata fails its "
            "checksum"
        )
    return manifest


FILES = "jtoolkit-files.json"

KEY_ENV = "JTOOLKIT_CHECKPOINT_KEY"


def check_step_dir(step_dir: str) -> None:
    """A real (not symlinked), non-empty directory, else CheckpointCorruptError."""
    try:
        mode = os.lstat(step_dir).st_mode
    except OSError:
        mode = 0
    if stat.S_ISLNK(mode):
        raise CheckpointCorruptError(
            f"checkpoint {step_dir} is a symbolic link: not read"
        )
    if not stat.S_ISDIR(mode) or not os.listdir(step_dir):
        raise CheckpointCorruptError(f"checkpoint {step_dir} is empty")


def _key() -> bytes | None:
    key = os.environ.get(KEY_ENV)
    return key.encode() if key else None


def _mac(key: bytes, body: dict) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _file_digest(path: str) -> tuple[int, str]:
    """``(size, SHA-256)`` of a regular file, opened without following symlinks."""
    h = hashlib.sha256()
    size = 0
    with open_read(path) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def _walk(step_dir: str) -> list[str]:
    """Every file of a step directory, as ``/``-separated relative paths.

    Raises:
        UnsafePathError: a symlink or a special file in the directory.
    """
    out = []
    for root, dirs, names in os.walk(step_dir):
        for name in dirs + names:
            full = os.path.join(root, name)
            mode = os.lstat(full).st_mode
            if stat.S_ISLNK(mode):
                raise UnsafePathError(f"{full} is a symbolic link")
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise UnsafePathError(f"{full} is not a regular file")
            if stat.S_ISREG(mode):
                out.append(os.path.relpath(full, step_dir).replace(os.sep, "/"))
    return sorted(p for p in out if p != FILES)


def write_file_sums(step_dir: str) -> None:
    """Record the size and SHA-256 of every file of a finished checkpoint.

    With ``$JTOOLKIT_CHECKPOINT_KEY`` set, an HMAC-SHA256 of the record too.

    Raises:
        UnsafePathError: the directory holds a symlink (not written by orbax).
    """
    files = {
        rel: list(_file_digest(os.path.join(step_dir, rel))) for rel in _walk(step_dir)
    }
    body = {"files": files}
    record = {**body, "sha256": json_digest(body)}
    key = _key()
    if key is not None:
        record["hmac_sha256"] = _mac(key, body)
    atomic_write(os.path.join(step_dir, FILES), json.dumps(record))


def _record(step_dir: str) -> dict | None:
    """``jtoolkit-files.json``, checked against its checksum and key; None if absent."""
    path = os.path.join(step_dir, FILES)
    if not os.path.lexists(path):
        return None
    try:
        record = _read_json(step_dir, FILES)
        body = {"files": record["files"]}
        ok = record["sha256"] == json_digest(body) and all(
            isinstance(rel, str)
            and isinstance(v, list)
            and len(v) == 2
            and isinstance(v[0], int)
            and isinstance(v[1], str)
            for rel, v in body["files"].items()
        )
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise CheckpointCorruptError(
            f"checkpoint {step_dir} is damaged: {path} fails its checksum"
        )
    key = _key()
    if key is not None:
        mac = record.get("hmac_sha256")
        if not isinstance(mac, str):
            raise CheckpointCorruptError(
                f"checkpoint {step_dir} has no keyed checksum in {path}, but "
                f"${KEY_ENV} is set: written without the key, or tampered with"
            )
        if not hmac.compare_digest(mac, _mac(key, body)):
            raise CheckpointCorruptError(
                f"checkpoint {step_dir} fails its keyed checksum in {path}: "
                f"written with another ${KEY_ENV}, or tampered with"
            )
    return body


def verify_file_sums(step_dir: str) -> bool:
    """Check every file against ``jtoolkit-files.json`` before anything reads it.

    Returns False when the checkpoint has no such file (written before it existed:
    only its manifest can be checked); with ``$JTOOLKIT_CHECKPOINT_KEY`` set that
    is damage too. Damage raises CheckpointCorruptError naming the file, so orbax
    never reads a truncated or flipped file, nor one outside the directory: a
    listed path that is not plain and relative, a symlink anywhere in the step
    directory or a file that is not listed is damage.
    """
    check_step_dir(step_dir)
    body = _record(step_dir)
    if body is None:
        if _key() is not None:
            raise CheckpointCorruptError(
                f"checkpoint {step_dir} has no {FILES} (no keyed checksum), but "
                f"${KEY_ENV} is set"
            )
        return False
    listed = body["files"]
    for rel in sorted(listed):
        try:
            confined(step_dir, rel)
        except UnsafePathError as err:
            raise CheckpointCorruptError(
                f"checkpoint {step_dir} is damaged: {FILES} lists an unsafe path "
                f"({err}); nothing was read"
            ) from None
    try:
        present = _walk(step_dir)
    except UnsafePathError as err:
        raise CheckpointCorruptError(
            f"checkpoint {step_dir} is unsafe to read: {err}"
        ) from None
    missing = sorted(set(listed) - set(present))
    if missing:
        raise CheckpointCorruptError(
            f"checkpoint {step_dir} is incomplete: "
            f"{os.path.join(step_dir, missing[0])} is missing"
        )
    extra = sorted(set(present) - set(listed))
    if extra:
        raise CheckpointCorruptError(
            f"checkpoint {step_dir} is damaged: {os.path.join(step_dir, extra[0])} "
            f"is not in {FILES}"
        )
    for rel, (size, digest) in sorted(listed.items()):
        full = confined(step_dir, rel)
        try:
            got_size, got = _file_digest(full)
        except (OSError, UnsafePathError) as err:
            raise CheckpointCorruptError(
                f"checkpoint {step_dir} is damaged: {full} cannot be read ({err})"
            ) from None
        if got_size != size:
            raise CheckpointCorruptError(
                f"checkpoint {step_dir} is damaged: {full} has "
                f"{got_size} bytes, {size} were written (truncated?)"
            )
        if got != digest:
            raise CheckpointCorruptError(
                f"checkpoint {step_dir} is damaged: {full} fails its checksum"
            )
    return True
