"""Big numpy arrays reach worker processes through shared memory, not pickles.

Fork-server workers get the dataset as a pickle. Pickling a 60,000 x 784 float32
array into each of two workers took ~3 s here, where torch's ``fork`` costs nothing.
Instead, each array of at least 1 MiB is copied into a shared-memory segment; the
pickle only names it and every worker maps it copy-on-write (the same semantics as
fork: a worker may modify its copy, nobody else sees it). The next pass of the same
workers reuses the segment of an array it sees again (refreshed with one copy, no
new pages). The pool unlinks its segments when it shuts down, and a pickle that
fails unlinks the ones it made; if the main process dies first, multiprocessing's
resource tracker removes them.
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
    def __init__(
        self, file: io.BytesIO, cache: dict[int, Any], created: list[Any]
    ) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._cache, self._created = cache, created
        self.used: dict[int, tuple[np.ndarray, Any]] = {}

    def reducer_override(self, obj: Any) -> Any:
        if (
            type(obj) is not np.ndarray
            or obj.nbytes < _MIN_BYTES
            or obj.dtype.hasobject
        ):
            return NotImplemented
        hit = self._cache.get(id(obj)) or self.used.get(id(obj))
        if hit is not None and hit[0] is obj and hit[1].size >= obj.nbytes:
            segment = hit[1]  # the same array again: refresh its copy in place
        else:
            segment = shared_memory.SharedMemory(create=True, size=obj.nbytes)
            self._created.append(segment)
        np.ndarray(obj.shape, dtype=obj.dtype, buffer=segment.buf)[...] = obj
        self.used[id(obj)] = (obj, segment)
        return _attach, (segment.name, obj.shape, obj.dtype.str)


def dumps_shared(obj: Any, segments: dict[int, Any]) -> bytes:
    """Pickle ``obj``, its big arrays copied into shared-memory segments.

    ``segments`` maps ``id(array) -> (array, segment)`` from an earlier call for
    the same workers: an array pickled again reuses (and refreshes) its segment,
    which costs a copy but no new pages. Afterwards ``segments`` holds exactly the
    segments this pickle names; the others are released. If pickling fails, the
    segments it created are released and the error propagates.
    """
    buffer, created = io.BytesIO(), []
    pickler = _Pickler(buffer, segments, created)
    try:
        pickler.dump(obj)
    except BaseException:
        release(created)
        raise
    stale = [seg for key, (_, seg) in segments.items() if key not in pickler.used]
    segments.clear()
    segments.update(pickler.used)
    release(stale)
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
