"""Checksums and the manifest that make a damaged checkpoint detectable.

Each checkpoint carries a manifest (JSON): the tree path, shape, dtype and SHA-256
of every array, and the SHA-256 of the ``extra`` JSON item, plus a checksum of the
manifest itself. Restoring recomputes them, so a flipped bit, a truncated file or a
missing part is reported instead of restored.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np

__all__ = [
    "CheckpointCorruptError",
    "array_digest",
    "json_digest",
    "make_manifest",
    "read_json_item",
    "read_manifest",
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
    h.update(arr.view(np.uint8).reshape(-1) if arr.size else b"")
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
