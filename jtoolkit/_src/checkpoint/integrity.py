"""Checksums and the manifest that make a damaged checkpoint detectable.

Each checkpoint carries a manifest (JSON): the tree path, shape, dtype and SHA-256
of every array, and the SHA-256 of the ``extra`` JSON item, plus a checksum of the
manifest itself; and ``jtoolkit-files.json``: the size and SHA-256 of every file,
checked before orbax reads any of them. Restoring recomputes both, so a flipped
bit, a truncated file or a missing part is reported instead of restored.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np

__all__ = [
    "FILES",
    "CheckpointCorruptError",
    "array_digest",
    "json_digest",
    "make_manifest",
    "read_json_item",
    "read_manifest",
    "verify_file_sums",
    "write_file_sums",
]

FORMAT = 2


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


def make_manifest(paths, arrays, extra: Any) -> dict:
    """The manifest of a checkpoint (paths, shapes, dtypes, digests), self-checked."""
    body = {
        "format": FORMAT,
        "paths": list(paths),
        "shapes": [list(np.shape(a)) for a in arrays],
        "dtypes": [np.asarray(a).dtype.str for a in arrays],
        "sha256": [array_digest(a) for a in arrays],
        "extra_sha256": None if extra is None else json_digest(extra),
    }
    return {**body, "manifest_sha256": json_digest(body)}


def read_json_item(step_dir: str, name: str) -> Any:
    """JSON item ``name`` of a checkpoint, read from disk; damage raises."""
    path = os.path.join(step_dir, name, "metadata")
    if not os.path.isfile(path):
        raise CheckpointCorruptError(
            f"checkpoint {step_dir} is incomplete: {path} is missing"
        )
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode())
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointCorruptError(
            f"checkpoint {step_dir} is damaged: {path} is not valid JSON ({err})"
        ) from None


def read_manifest(step_dir: str) -> dict:
    """The checkpoint's manifest, checked against its own checksum.

    A checkpoint written before manifests existed returns ``{"format": 1, ...}``
    with only ``shapes`` (nothing to verify against).
    """
    if not os.path.isdir(step_dir) or not os.listdir(step_dir):
        raise CheckpointCorruptError(f"checkpoint {step_dir} is empty")
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


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _walk(step_dir: str) -> list[str]:
    out = []
    for root, _, names in os.walk(step_dir):
        out += [os.path.relpath(os.path.join(root, n), step_dir) for n in names]
    return sorted(p for p in out if p != FILES)


def write_file_sums(step_dir: str) -> None:
    """Record the size and SHA-256 of every file of a finished checkpoint."""
    files = {
        rel: [
            os.path.getsize(os.path.join(step_dir, rel)),
            _file_digest(os.path.join(step_dir, rel)),
        ]
        for rel in _walk(step_dir)
    }
    body = {"files": files}
    tmp = os.path.join(step_dir, FILES + ".tmp")
    with open(tmp, "w") as f:
        json.dump({**body, "sha256": json_digest(body)}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(step_dir, FILES))


def verify_file_sums(step_dir: str) -> bool:
    """Check every file against ``jtoolkit-files.json`` before anything reads it.

    Returns False when the checkpoint has no such file (written before it existed:
    only its manifest can be checked). Damage raises CheckpointCorruptError naming
    the file, so orbax never reads a truncated or flipped file.
    """
    path = os.path.join(step_dir, FILES)
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as f:
            record = json.loads(f.read().decode())
        body = {"files": record["files"]}
        ok = record["sha256"] == json_digest(body)
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        ok = False
    if not ok:
        raise CheckpointCorruptError(
            f"checkpoint {step_dir} is damaged: {path} fails its checksum"
        )
    for rel, (size, digest) in sorted(record["files"].items()):
        full = os.path.join(step_dir, rel)
        if not os.path.isfile(full):
            raise CheckpointCorruptError(
                f"checkpoint {step_dir} is incomplete: {full} is missing"
            )
        if os.path.getsize(full) != size:
            raise CheckpointCorruptError(
                f"checkpoint {step_dir} is damaged: {full} has "
                f"{os.path.getsize(full)} bytes, {size} were written (truncated?)"
            )
        if _file_digest(full) != digest:
            raise CheckpointCorruptError(
                f"checkpoint {step_dir} is damaged: {full} fails its checksum"
            )
    return True
