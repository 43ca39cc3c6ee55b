"""``DataLoader`` (torch.utils.data.DataLoader): ordered batches, in-process or workers.

The order of samples depends only on ``seed``, epoch and sampler; ``state_dict``
resumes mid-epoch; batches are numpy arrays on the host.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from jtoolkit._src.data.collate import default_collate
from jtoolkit._src.data.datasets import (
    _batch_gatherer,
)
from jtoolkit._src.data.fetch import Fetcher, _describe, _SampleError, raise_in_main
from jtoolkit._src.data.samplers import (
    BatchSampler,
    RandomSampler,
    SequentialSampler,
)
from jtoolkit._src.data.workers import (
    WorkerPool,
    raise_from_worker,
)

__all__ = ["DataLoader"]


class _Progress:
    """Where the current pass is: its epoch and the batches handed out so far."""

    __slots__ = ("epoch", "yielded")

    def __init__(self, epoch: int, yielded: int) -> None:
        self.epoch, self.yielded = epoch, yielded


def _check_worker_args(
    num_workers: int, timeout: float, prefetch_factor: int | None, persistent: bool
) -> None:
    if num_workers < 0:
        raise ValueError(
            "num_workers option should be non-negative; use num_workers=0 to disable "
            "multiprocessing."
        )
    if timeout < 0:
        raise ValueError(f"timeout option should be non-negative, got {timeout}")
    if num_workers == 0 and prefetch_factor not in (None, 2):
        raise ValueError(
            "prefetch_factor option could only be specified in multiprocessing."
            "let num_workers > 0 to enable multiprocessing, otherwise set "
            "prefetch_factor to None."
        )
    if prefetch_factor is not None and prefetch_factor < 1:
        raise ValueError(
            "prefetch_factor option should be a positive integer, got "
            f"prefetch_factor={prefetch_factor}"
        )
    if persistent and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")


def _check_sampler_args(
    batch_size: int | None,
    shuffle: bool,
    sampler: Any,
    batch_sampler: Any,
    drop_last: bool,
) -> None:
    if sampler is not None and shuffle:
        raise ValueError("sampler option is mutually exclusive with shuffle")
    if batch_sampler is not None and (
        batch_size != 1 or shuffle or sampler is not None or drop_last
    ):
        raise ValueError(
            "batch_sampler option is mutually exclusive with batch_size, shuffle, "
            "sampler, and drop_last"
        )
    if batch_sampler is None and batch_size is None and drop_last:
        raise ValueError(
            "batch_size=None option disables auto-batching and is mutually exclusive "
            "with drop_last"
        )


def _skip(iterable: Any, n: int) -> Iterator[Any]:
    return itertools.islice(iter(iterable), n, None)


class DataLoader:
    """Batches of a map-style dataset, numpy on the host (torch DataLoader).

    Same arguments and defaults as torch, plus ``seed``. ``len(loader)`` is torch's
    (``ceil(N / batch_size)``, ``floor`` with ``drop_last``). Each ``iter(loader)``
    is one pass; the epoch advances by one per pass (``set_epoch`` pins the next one)
    and the sampler draws its order from ``(seed, epoch)``, so the batches are the
    same for every ``num_workers``. Datasets that are an :class:`ArrayDataset` (or a
    Subset of one) with the default collate are gathered with one ``np.take`` per
    array and batch.

    ``num_workers > 0`` runs whole batches in worker processes started from a fork
    server (spawn where there is none; never a plain fork, which deadlocks next to
    JAX): the dataset, ``collate_fn`` and ``worker_init_fn`` must be picklable
    (defined at module level) and a script needs the usual
    ``if __name__ == "__main__":`` guard, as with spawn. Arrays of 1 MiB or more
    reach the workers through shared memory, mapped copy-on-write as under fork.
    At most ``prefetch_factor`` batches per worker are in flight; they come back in
    order. Worker ``i`` seeds ``random``, ``np.random`` (and torch, if imported)
    with ``base_seed + i`` (``base_seed`` from ``seed`` and the epoch the workers
    start in), then calls ``worker_init_fn(i)``. An exception while loading is
    re-raised in the main process with its type, naming the sample index and (from
    a worker) its traceback, the original chained; a worker that dies raises
    RuntimeError at once; ``timeout > 0`` bounds the wait for a batch. Leaving a
    pass early (break, an exception, garbage collection) stops its workers;
    ``persistent_workers`` keeps them until the loader is collected. The fork
    server and multiprocessing's resource tracker are helper processes that stay
    until the interpreter exits.

    Batches are new arrays every time (no output buffer is reused behind the
    user's back: measured here, reuse gained nothing over ``np.take``).

    ``pin_memory`` is accepted for torch compatibility and does nothing: use
    :func:`prefetch_to_device` to overlap host-to-device copies with compute.

    Args:
        dataset: map-style dataset (``__getitem__`` and ``__len__``).
        batch_size: samples per batch; None disables batching (samples one by one).
        shuffle: reshuffle every epoch (a ``RandomSampler(dataset, seed=seed)``).
        sampler: order of the indices; exclusive with ``shuffle``.
        batch_sampler: yields lists of indices; exclusive with ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``.
        num_workers: worker processes; 0 loads in the main process.
        collate_fn: list of samples -> batch (default :func:`default_collate`).
        pin_memory: ignored (see above).
        drop_last: drop the last, smaller batch.
        seed: seed of the shuffle order and of the workers' seeds.
        prefetch_factor: batches in flight per worker.
        persistent_workers: keep the workers alive between passes.
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker.
        timeout: seconds to wait for a batch from the workers; 0 waits forever.

    Raises:
        ValueError: torch's messages for invalid or conflicting options (batch_size
            <= 0, sampler with shuffle, negative num_workers or timeout, ...).

    Example:
        >>> from jtoolkit.data import ArrayDataset, DataLoader
        >>> ds = ArrayDataset(np.arange(10.0, dtype=np.float32), np.arange(10))
        >>> loader = DataLoader(ds, batch_size=4, drop_last=True)
        >>> len(loader), [y.tolist() for _, y in loader]
        (2, [[0, 1, 2, 3], [4, 5, 6, 7]])
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool = False,
        sampler: Any = None,
        batch_sampler: Any = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        prefetch_factor: int | None = 2,
        persistent_workers: bool = False,
        worker_init_fn: Callable[[int], None] | None = None,
        timeout: float = 0,
    ) -> None:
        _check_worker_args(num_workers, timeout, prefetch_factor, persistent_workers)
        _check_sampler_args(batch_size, shuffle, sampler, batch_sampler, drop_last)
        if sampler is None and shuffle:
            sampler = RandomSampler(dataset, seed=seed)
        elif sampler is None:
            sampler = SequentialSampler(dataset)
        if batch_sampler is not None:
            batch_size, drop_last = None, False
        elif batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.num_workers, self.timeout = num_workers, timeout
        self.pin_memory = pin_memory
        self.prefetch_factor = 2 if prefetch_factor is None else prefetch_factor
        self.persistent_workers = persistent_workers
        self.worker_init_fn = worker_init_fn
        self.seed = int(seed)
        auto_batch = batch_sampler is not None
        self.collate_fn = collate_fn or (default_collate if auto_batch else None)
        fast = auto_batch and self.collate_fn is default_collate
        gather = _batch_gatherer(dataset) if fast else None
        self._fetch = Fetcher(dataset, self.collate_fn, gather, auto_batch)
        self._next_epoch, self._next_skip = 0, 0
        self._progress: _Progress | None = None
        self._pool: WorkerPool | None = None

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass epoch ``epoch`` (its order, its worker seeds)."""
        self._next_epoch, self._next_skip, self._progress = int(epoch), 0, None

    def state_dict(self) -> dict[str, int]:
        """Where the loader is: ``{"epoch", "batches_yielded", "seed"}`` (picklable).

        Mid-pass it is the current pass and the batches handed out so far; after a
        pass (or before any) it is the next pass with 0 batches.
        """
        p = self._progress
        if p is not None and p.yielded < len(self):
            return {"epoch": p.epoch, "batches_yielded": p.yielded, "seed": self.seed}
        epoch, skip = self._next_epoch, self._next_skip
        return {"epoch": epoch, "batches_yielded": skip, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Make the next pass resume ``state``: its epoch, minus the batches done.

        Raises:
            ValueError: ``state`` comes from a loader with another seed, or its
                batch count is outside ``[0, len(loader)]``.
        """
        if int(state["seed"]) != self.seed:
            raise ValueError(
                f"state_dict was saved with seed={state['seed']} but this DataLoader "
                f"has seed={self.seed}; build the loader with the same seed"
            )
        skip = int(state["batches_yielded"])
        if not 0 <= skip <= len(self):
            raise ValueError(
                f"batches_yielded={skip} is outside [0, {len(self)}] for this loader"
            )
        self._next_epoch, self._next_skip = int(state["epoch"]), skip
        self._progress = None

    def __iter__(self) -> Iterator[Any]:
        epoch, skip = self._next_epoch, self._next_skip
        self._next_epoch, self._next_skip = epoch + 1, 0
        progress = self._progress = _Progress(epoch, skip)
        indices = self._index_source(epoch, skip)
        if self.num_workers > 0:
            return self._iter_workers(indices, progress)
        if self._fetch.gather is not None:
            return _iter_gather(self._fetch.gather, indices, progress)
        return _iter_main(self._fetch, indices, progress)

    def _index_source(self, epoch: int, skip: int) -> Iterator[Any]:
        """The batches' indices (or single indices) of pass ``epoch`` after ``skip``."""
        source = self.batch_sampler if self.batch_sampler is not None else self.sampler
        if hasattr(source, "set_epoch"):
            source.set_epoch(epoch)
        if type(source).__iter__ is BatchSampler.__iter__:
            return source._batches(skip)
        return _skip(source, skip)

    def _worker_pool(self, epoch: int) -> WorkerPool:
        if self._pool is not None and self._pool.alive:
            return self._pool
        seeds = np.random.default_rng([self.seed % 2**64, epoch, 1])  # own stream
        base_seed = int(seeds.integers(0, 2**62))
        pool = WorkerPool(self._fetch, self.num_workers, base_seed, self.worker_init_fn)
        if self.persistent_workers:
            self._pool = pool
        return pool

    def _iter_workers(self, indices: Iterator[Any], progress: _Progress) -> Iterator:
        pool = self._worker_pool(progress.epoch)
        pool.generation += 1
        gen, first = pool.generation, progress.yielded
        window = self.prefetch_factor * self.num_workers
        pending: dict[int, tuple[bool, Any]] = {}
        sent = 0
        try:
            for idx in itertools.islice(indices, window):
                pool.put(sent, (gen, sent, idx))
                sent += 1
            k = 0
            while k < sent:
                ok, payload = _await_batch(pool, gen, k, pending, self.timeout)
                for idx in itertools.islice(indices, 1):
                    pool.put(sent, (gen, sent, idx))
                    sent += 1
                if not ok:
                    raise_from_worker(payload)
                k += 1
                progress.yielded = first + k
                yield payload
        finally:
            if pool is not self._pool:
                pool.close()


def _await_batch(
    pool: WorkerPool, gen: int, k: int, pending: dict[int, Any], timeout: float
) -> tuple[bool, Any]:
    """Batch ``k`` of pass ``gen``; replies that arrive first wait in ``pending``."""
    if pool.generation != gen:
        raise RuntimeError(
            "this iterator was superseded: a newer pass over the same DataLoader "
            "(persistent_workers=True) shares its workers; use one iterator at a time"
        )
    while k not in pending:
        reply_gen, j, ok, payload = pool.receive(timeout, k)
        if reply_gen == gen:  # replies of an abandoned earlier pass are dropped
            pending[j] = (ok, payload)
    return pending.pop(k)


def _iter_main(fetch: Fetcher, indices: Iterator[Any], progress: _Progress) -> Iterator:
    """One pass in the main process."""
    k = progress.yielded
    for idx in indices:
        try:
            batch = fetch(idx)
        except _SampleError as e:
            raise_in_main(e, k)
        k += 1
        progress.yielded = k
        yield batch


def _iter_gather(
    gather: Callable[[Any], Any], indices: Iterator[Any], progress: _Progress
) -> Iterator:
    """One pass of an array-backed dataset: one gather per batch, nothing else."""
    k = progress.yielded
    for idx in indices:
        try:
            batch = gather(idx)
        except Exception as e:
            raise_in_main(_SampleError(_describe(np.asarray(idx).tolist()), e), k)
        k += 1
        progress.yielded = k
        yield batch
