"""Big numpy arrays reach worker processes through shared memory, not pickles.

Workers start from a fork server, so the dataset travels as a pickle. Pickling a
60,000 x 784 float32 array into each of two workers took ~3 s here, every epoch
without ``persistent_workers``, where torch's ``fork`` costs nothing. Instead, each
array of at least 1 MiB is copied once per worker pool into a shared-memory
segment; the pickle only names it and every worker maps it copy-on-write (the same
semantics as fork: a worker may modify its copy, nobody else sees it). The pool
unlinks its segments when it shuts down; if the main process dies first,
multiprocessing's resource tracker removes them.
"""

from __future__ import annotations

import io
import math
import mmap
import os
import pickle
from multiprocessing import shared_memory
from typing import Any

import numpy as np

__all__: list[str] = []


_MIN_BYTES = 1 << 20


_KEEP: list[Any] = []  # worker side: SharedMemory handles of the fallback path


def _attach(name: str, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """The worker's copy-on-write view of segment ``name``."""
    count = math.prod(shape)
    path = os.path.join("/dev/shm", name.lstrip("/"))
    if os.path.exists(path):
        with open(path, "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
        return np.frombuffer(mapped, dtype=dtype, count=count).reshape(shape)
    segment = shared_memory.SharedMemory(name)  # no /dev/shm: shared, read-only
    _KEEP.append(segment)
    array = np.ndarray(shape, dtype=dtype, buffer=segment.buf)
    array.flags.writeable = False
    return array


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, segments: list[Any]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._segments = segments

    def reducer_override(self, obj: Any) -> Any:
        if (
            type(obj) is not np.ndarray
            or obj.nbytes < _MIN_BYTES
            or obj.dtype.hasobject
        ):
            return NotImplemented
        segment = shared_memory.SharedMemory(create=True, size=obj.nbytes)
        self._segments.append(segment)
        np.ndarray(obj.shape, dtype=obj.dtype, buffer=segment.buf)[...] = obj
        return _attach, (segment.name, obj.shape, obj.dtype.str)


def dumps_shared(obj: Any, segments: list[Any]) -> bytes:
    """Pickle ``obj`` with its big arrays in new segments (appended to ``segments``)."""
    buffer = io.BytesIO()
    _Pickler(buffer, segments).dump(obj)
    return buffer.getvalue()


def release(segments: list[Any]) -> None:
    """Unlink the segments (workers that mapped them keep their mappings)."""
    while segments:
        segment = segments.pop()
        segment.close()
        try:
            segment.unlink()
        except FileNotFoundError:
            pass
