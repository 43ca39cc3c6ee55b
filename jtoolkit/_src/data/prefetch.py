"""``prefetch_to_device``: the one place where :mod:`jtoolkit.data` touches jax."""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from jtoolkit._src.core.checks import check_int

__all__ = ["prefetch_to_device"]


def _device_put(batch: Any, device: Any) -> Any:
    """Move every array leaf of ``batch`` with one ``jax.device_put`` call."""
    import jax

    leaves, treedef = jax.tree.flatten(batch)
    movable = [i for i, leaf in enumerate(leaves) if _movable(leaf, jax.Array)]
    moved = jax.device_put([leaves[i] for i in movable], device)
    for i, array in zip(movable, moved, strict=True):
        leaves[i] = array
    return jax.tree.unflatten(treedef, leaves)


def _movable(leaf: Any, array_type: type) -> bool:
    """Numeric leaves go to the device; strings and other objects stay."""
    if isinstance(leaf, np.ndarray | np.generic):
        return leaf.dtype.kind in "biufc"
    return isinstance(leaf, array_type | bool | int | float | complex)


def prefetch_to_device(
    iterable: Iterable[Any], size: int = 2, device: Any = None
) -> Iterator[Any]:
    """Yield the batches of ``iterable`` as ``jax.Array``s, ``size`` copies ahead.

    torch's counterpart is ``pin_memory=True`` plus ``.to(device, non_blocking=True)``.
    Each batch (a pytree of numpy arrays, e.g. from :class:`DataLoader`) goes to the
    device with one asynchronous ``jax.device_put``; ``size`` batches stay in flight,
    so the copy of the next batches overlaps the computation on the current one.
    Non-numeric leaves (lists of strings) pass through unchanged. float64 and int64
    arrays become float32 and int32 unless ``jax_enable_x64`` is set.

    Args:
        iterable: batches (pytrees of numpy arrays).
        size: batches in flight (>= 1).
        device: a ``jax.Device`` or a ``jax.sharding.Sharding`` (e.g. a
            ``NamedSharding`` that splits the batch axis); None is the default device.

    Returns:
        An iterator over the batches with ``jax.Array`` leaves, in the same order.

    Raises:
        ValueError: ``size`` < 1.

    Example:
        >>> batches = [np.arange(3, dtype=np.float32), np.ones(3, np.float32)]
        >>> [type(b).__name__ for b in prefetch_to_device(batches)]
        ['ArrayImpl', 'ArrayImpl']
    """
    size = check_int("size", size, fn="prefetch_to_device", minimum=1)
    return _prefetch(iter(iterable), size, device)


def _prefetch(it: Iterator[Any], size: int, device: Any) -> Iterator[Any]:
    queue: collections.deque = collections.deque()
    try:
        for batch in itertools.islice(it, size):
            queue.append(_device_put(batch, device))
        while queue:
            yield queue.popleft()
            for batch in itertools.islice(it, 1):
                queue.append(_device_put(batch, device))
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()
