"""Reading a state_dict from an untrusted file: header first, only what is needed.

``read_state_dict(source, wanted)`` turns a ``.safetensors`` or torch ``.pt`` path
into a name -> array mapping for ``load_torch_state_dict``. A ``.safetensors``
file is opened lazily (``safetensors.safe_open``): its header gives the names and
shapes, and only tensors the model has (``wanted``: name -> element count) with
the model's element count are read; the others are represented by zero-cost
broadcast placeholders of their saved shape, so the mismatch report still names
them. A torch file is opened with ``torch.load(weights_only=True, mmap=True)``
(no code runs, tensors are paged in only when touched) after a size check. Every
error names the file.

torch: ``safetensors.torch.load_file(path)`` / ``torch.load(path,
weights_only=True)``, which read everything first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["MAX_FILE_BYTES", "read_safetensors", "read_state_dict"]

MAX_FILE_BYTES = 1 << 36  # 64 GiB: the largest weights file read (a typo guard)

_SAFE_DTYPES = {
    "BOOL": np.bool_,
    "U8": np.uint8,
    "I8": np.int8,
    "U16": np.uint16,
    "I16": np.int16,
    "F16": np.float16,
    "U32": np.uint32,
    "I32": np.int32,
    "F32": np.float32,
    "U64": np.uint64,
    "I64": np.int64,
    "F64": np.float64,
}


def _placeholder(shape, dtype_name: str) -> np.ndarray:
    """A read-only array of ``shape`` that costs no memory (never read)."""
    dtype = _SAFE_DTYPES.get(dtype_name, np.uint8)
    return np.broadcast_to(np.zeros((), dtype), tuple(shape))


def _size_checked(path: str) -> None:
    size = os.stat(path).st_size
    if size > MAX_FILE_BYTES:
        raise RuntimeError(
            f"{path} has {size} bytes, more than the {MAX_FILE_BYTES} a weights "
            "file may have; not read"
        )


def read_safetensors(
    path: str | os.PathLike, wanted: Mapping[str, int] | None = None
) -> dict[str, np.ndarray]:
    """The tensors of a ``.safetensors`` file, reading only the ``wanted`` ones.

    Args:
        path: the file.
        wanted: name -> element count of the model's entries (None: read all).
            Other names, and wanted names whose element count differs, come back
            as placeholders of their saved shape (their data is not read).

    Raises:
        FileNotFoundError: no such file.
        RuntimeError: not a safetensors file (bad header or offsets), naming it.

    Example:
        >>> import tempfile
        >>> from safetensors.numpy import save_file
        >>> p = os.path.join(tempfile.mkdtemp(), "w.safetensors")
        >>> save_file({"a": np.ones(2, np.float32), "b": np.ones(3)}, p)
        >>> sd = read_safetensors(p, {"a": 2})
        >>> sd["a"].tolist(), sd["b"].shape, sd["b"].strides
        ([1.0, 1.0], (3,), (0,))
    """
    from safetensors import safe_open

    path = os.fspath(path)
    _size_checked(path)
    out: dict[str, np.ndarray] = {}
    try:
        with safe_open(path, framework="np") as f:
            for name in f.keys():
                part = f.get_slice(name)
                shape = tuple(part.get_shape())
                if wanted is None or wanted.get(name) == int(np.prod(shape)):
                    out[name] = f.get_tensor(name)
                else:
                    out[name] = _placeholder(shape, part.get_dtype())
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as err:  # safetensors' own error types are not public
        raise RuntimeError(
            f"{path} is not a readable safetensors file: {_first_line(err)}"
        ) from None
    return out


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:300]


def _read_torch(path: str) -> Mapping[str, Any]:
    try:
        import torch
    except ImportError as err:
        raise RuntimeError(
            f"loading {path!r} needs torch (torch.load(weights_only=True)); install "
            "torch or save the weights as .safetensors"
        ) from err
    _size_checked(path)
    try:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as err:
            if "mmap" not in str(err):
                raise
            # a legacy (non-zip) torch file cannot be memory-mapped
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as err:  # pickle/zip errors of several types
        raise RuntimeError(
            f"{path} is not a readable torch weights file (torch.load with "
            f"weights_only=True): {_first_line(err)}"
        ) from None
    if not isinstance(loaded, Mapping):
        raise TypeError(
            f"{path} holds a {type(loaded).__name__}, not a state_dict (a mapping "
            "of name -> tensor)"
        )
    return loaded


def read_state_dict(
    source: Any, wanted: Mapping[str, int] | None = None
) -> Mapping[str, Any]:
    """A mapping from a dict, a ``.safetensors`` path or a torch ``.pt`` path.

    Args:
        source: a mapping (returned as is) or a path.
        wanted: name -> element count of the model's entries; a ``.safetensors``
            file reads only those (see ``read_safetensors``).

    Raises:
        TypeError: ``source`` is neither a mapping nor a path, or the file does not
            hold a mapping.
        RuntimeError: the file cannot be read as weights (the message names it).

    Example:
        >>> read_state_dict({"w": np.ones(1)})["w"].tolist()
        [1.0]
    """
    if isinstance(source, Mapping):
        return source
    if not isinstance(source, str | os.PathLike):
        raise TypeError(
            "state_dict must be a mapping of name -> array, a .safetensors path or a "
            f"torch .pt path, but got {type(source).__name__}"
        )
    path = os.fspath(source)
    if path.endswith(".safetensors"):
        return read_safetensors(path, wanted)
    return _read_torch(path)
