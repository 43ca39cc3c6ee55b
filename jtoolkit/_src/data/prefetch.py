"""``prefetch_to_device``: the one place where :mod:`jtoolkit.data` touches jax."""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from jtoolkit._src.core.checks import check_int
from jtoolkit._src.core.protocols import SupportsSetEpoch, SupportsStateDict
from jtoolkit._src.data.padding import batch_rows, pad_batch

__all__ = ["DevicePrefetcher", "prefetch_to_device"]


def _place(leaves: list[Any], device: Any) -> list[Any]:
    """Place host leaves on ``device``; over several processes, as global arrays.

    With a sharding that spans other processes' devices each process contributes
    its local rows (``jax.make_array_from_process_local_data``): the global batch
    is the concatenation of the processes' batches, in process order.
    """
    import jax

    if isinstance(device, jax.sharding.Sharding) and not device.is_fully_addressable:
        return [jax.make_array_from_process_local_data(device, x) for x in leaves]
    try:
        return jax.device_put(leaves, device)
    except ValueError as err:
        shapes = sorted({np.shape(x) for x in leaves})
        raise ValueError(
            f"cannot place a batch with leaf shapes {shapes} on {device}: {err}. A "
            "sharded batch must split evenly over the devices; use a batch size "
            "divisible by the number of shards and drop_last=True, or let fit pad "
            "the last batch (fit(..., mesh=...))"
        ) from err


def _device_put(batch: Any, device: Any) -> Any:
    """Move every array leaf of ``batch`` with one placement call."""
    import jax

    leaves, treedef = jax.tree.flatten(batch)
    movable = [i for i, leaf in enumerate(leaves) if _movable(leaf, jax.Array)]
    moved = _place([leaves[i] for i in movable], device)
    for i, array in zip(movable, moved, strict=True):
        leaves[i] = array
    return jax.tree.unflatten(treedef, leaves)


def _movable(leaf: Any, array_type: type) -> bool:
    """Numeric leaves go to the device; strings and other objects stay."""
    if isinstance(leaf, np.ndarray | np.generic):
        return leaf.dtype.kind in "biufc"
    return isinstance(leaf, array_type | bool | int | float | complex)


class DevicePrefetcher:
    """A re-iterable of device batches over a host loader (``prefetch_to_device``).

    Each ``iter()`` is a new pass over the source (the next epoch of a
    ``DataLoader``); ``len``, ``set_epoch``, ``state_dict``/``load_state_dict`` and
    ``batch_size`` are the source's, so ``fit`` and checkpoints treat it as the
    loader itself. ``with_padding(size)`` yields ``(batch, mask, rows)`` with the
    ragged last batch padded on the host before it is placed, so it splits evenly
    over a sharding.
    """

    def __init__(self, iterable: Iterable[Any], size: int, device: Any) -> None:
        self.source, self.size, self.device = iterable, size, device
        self._current: Iterator[Any] | None = None

    def __iter__(self) -> Iterator[Any]:
        return _prefetch(iter(self.source), self.size, self.device)

    def __next__(self) -> Any:
        """Used as an iterator (``next(p)``): the batches of one running pass."""
        if self._current is None:
            self._current = iter(self)
        return next(self._current)

    def close(self) -> None:
        """Stop the running ``next()`` pass and close its source iterator."""
        if self._current is not None:
            self._current.close()  # type: ignore[attr-defined]
            self._current = None

    def __len__(self) -> int:
        return len(self.source)  # type: ignore[arg-type]

    @property
    def batch_size(self) -> int | None:
        """The source's batch size (per process), if it declares one."""
        return getattr(self.source, "batch_size", None)

    @property
    def batch_sampler(self) -> Any:
        return getattr(self.source, "batch_sampler", None)

    def set_epoch(self, epoch: int) -> None:
        """Forwarded to the source (its next pass is epoch ``epoch``)."""
        if isinstance(self.source, SupportsSetEpoch):
            self.source.set_epoch(epoch)

    def state_dict(self) -> dict | None:
        """The source's position (``DataLoader.state_dict``), or None."""
        if isinstance(self.source, SupportsStateDict):
            return self.source.state_dict()
        return None

    def load_state_dict(self, state: dict) -> None:
        """Forwarded to the source."""
        if not isinstance(self.source, SupportsStateDict):
            raise TypeError(
                f"{type(self.source).__name__} has no load_state_dict: this source "
                "cannot be resumed"
            )
        self.source.load_state_dict(state)

    def with_padding(self, size: int) -> Iterator[tuple[Any, Any, int]]:
        """One pass of ``(batch, mask, rows)``: every batch padded to ``size`` rows
        on the host (mask 1 for real rows) and then placed with its mask."""
        rows_seen: list[int] = []

        def counted():
            for batch in self.source:
                rows_seen.append(batch_rows(batch))
                b, m = pad_batch(batch, size)
                yield b, m

        for i, (batch, mask) in enumerate(_prefetch(counted(), self.size, self.device)):
            yield batch, mask, rows_seen[i]


def prefetch_to_device(
    iterable: Iterable[Any], size: int = 2, device: Any = None
) -> DevicePrefetcher:
    """Yield the batches of ``iterable`` as ``jax.Array``s, ``size`` copies ahead.

    torch's counterpart is ``pin_memory=True`` plus ``.to(device, non_blocking=True)``.
    Each batch (a pytree of numpy arrays, e.g. from :class:`DataLoader`) goes to the
    device with one asynchronous placement; ``size`` batches stay in flight, so the
    copy of the next batches overlaps the computation on the current one.
    Non-numeric leaves (lists of strings) pass through unchanged. float64 and int64
    arrays become float32 and int32 unless ``jax_enable_x64`` is set.

    With a ``Sharding`` that spans several processes' devices (after
    ``jax.distributed.initialize``) each process passes its own loader (e.g. over
    a ``DistributedSampler`` shard) and every batch becomes one global array made
    of the processes' local rows (``jax.make_array_from_process_local_data``).

    The result is re-iterable (each pass is the next epoch of a ``DataLoader``) and
    has the source's ``len``, ``set_epoch`` and ``state_dict``, so ``fit`` takes it
    in place of the loader.

    Args:
        iterable: batches (pytrees of numpy arrays), e.g. a ``DataLoader``.
        size: batches in flight (>= 1).
        device: a ``jax.Device`` or a ``jax.sharding.Sharding`` (e.g. a
            ``NamedSharding`` that splits the batch axis); None is the default device.

    Returns:
        A ``DevicePrefetcher``: iterating it gives the batches with ``jax.Array``
        leaves, in the same order.

    Raises:
        ValueError: ``size`` < 1, or a batch that does not split over ``device``.

    Example:
        >>> batches = [np.arange(3, dtype=np.float32), np.ones(3, np.float32)]
        >>> [type(b).__name__ for b in prefetch_to_device(batches)]
        ['ArrayImpl', 'ArrayImpl']
    """
    size = check_int("size", size, fn="prefetch_to_device", minimum=1)
    return DevicePrefetcher(iterable, size, device)


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
