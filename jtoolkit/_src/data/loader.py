"""``DataLoader`` (torch.utils.data.DataLoader): ordered batches, in-process or workers.

The order of samples depends only on ``seed``, epoch and sampler; ``state_dict``
resumes mid-epoch; batches are numpy arrays on the host.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any, cast

import numpy as np

from jtoolkit._src.core.protocols import SupportsSetEpoch
from jtoolkit._src.data.collate import default_collate, default_convert
from jtoolkit._src.data.datasets import IterableDataset, batch_gatherer
from jtoolkit._src.data.fetch import (
    Fetcher,
    SampleError,
    StreamEnd,
    StreamFetcher,
    raise_in_main,
)
from jtoolkit._src.data.samplers import (
    BatchSampler,
    RandomSampler,
    SequentialSampler,
)
from jtoolkit._src.data.workers import (
    WorkerPool,
    check_main_guard,
    raise_from_worker,
    start_method,
)

__all__ = ["DataLoader", "cpu_count"]


class _Progress:
    """Where the current pass is: its epoch and the batches handed out so far."""

    __slots__ = ("done", "epoch", "yielded")

    def __init__(self, epoch: int, yielded: int) -> None:
        self.epoch, self.yielded, self.done = epoch, yielded, False


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


def _check_iterable_args(
    shuffle: bool | None, sampler: Any, batch_sampler: Any
) -> None:
    """torch's refusals for an IterableDataset: the stream has its own order."""
    for name, value in (
        ("shuffle", shuffle or None),
        ("sampler", sampler),
        ("batch_sampler", batch_sampler),
    ):
        if value is not None:
            raise ValueError(
                "DataLoader with IterableDataset: expected unspecified "
                f"{name} option, but got {name}={value}"
            )


def cpu_count() -> int | None:
    """The cores this process may run on (its affinity mask where the platform has
    one, else ``os.cpu_count()``); None when unknown, as torch's DataLoader reads it.

    Example:
        >>> cpu_count() is None or cpu_count() >= 1
        True
    """
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def _warn_worker_count(num_workers: int) -> None:
    """torch's warning when there are more workers than CPUs."""
    cpus = cpu_count()
    if num_workers == 0 or (cpus is not None and num_workers <= cpus):
        return
    if cpus is None:
        suggestion = (
            "DataLoader is not able to compute a suggested max number of worker in "
            "current system."
        )
    else:
        cpuset = "" if hasattr(os, "sched_getaffinity") else " (`cpuset` is not "
        cpuset += "" if hasattr(os, "sched_getaffinity") else "taken into account)"
        suggestion = (
            f"Our suggested max number of worker in current system is {cpus}"
            f"{cpuset}, which is smaller than what this DataLoader is going to create."
        )
    warnings.warn(
        f"This DataLoader will create {num_workers} worker processes in total. "
        f"{suggestion} Please be aware that excessive worker creation might get "
        "DataLoader running slow or even freeze, lower the worker number to avoid "
        "potential slowness/freeze if necessary.",
        UserWarning,
        stacklevel=3,
    )


def _resolve_seed(seed: int | None, generator: Any) -> tuple[int, bool]:
    """(seed, whether it was drawn rather than given) from ``seed``/``generator``."""
    if generator is not None:
        if seed not in (None, 0):
            raise ValueError(
                f"DataLoader: pass seed or generator, not both (seed={seed}, "
                f"generator={generator!r})"
            )
        if isinstance(generator, np.random.Generator):
            return int(generator.integers(0, 2**63)), True
        initial_seed: Callable[[], int] | None = getattr(
            generator, "initial_seed", None
        )
        if not callable(initial_seed):
            raise TypeError(
                "DataLoader: generator must be a numpy.random.Generator or a "
                f"torch.Generator, got {type(generator).__name__}"
            )
        return int(initial_seed()), True
    if seed is None:
        entropy = cast(int, np.random.SeedSequence().entropy)  # fresh: an int
        return int(entropy % 2**63), True
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"DataLoader: seed must be an int or None, got {seed!r}")
    return int(seed), False


def _skip(iterable: Any, n: int) -> Iterator[Any]:
    return itertools.islice(iter(iterable), n, None)


class DataLoader:
    """Batches of a dataset, numpy on the host (torch DataLoader).

    Same arguments and defaults as torch, plus ``seed``. ``len(loader)`` is torch's
    (``ceil(N / batch_size)``, ``floor`` with ``drop_last``; for an
    :class:`IterableDataset` only when it defines ``__len__``). Each
    ``iter(loader)`` is one pass; the epoch advances by one per pass (``set_epoch``
    pins the next one) and the sampler draws its order from ``(seed, epoch)``, so
    the batches are the same for every ``num_workers``. Datasets that are an
    :class:`ArrayDataset` (or a Subset of one) with the default collate are gathered
    with one ``np.take`` per array and batch.

    An exception while loading a batch is raised from ``next()`` and the pass goes
    on: the following ``next()`` returns the following batch, as in torch (so a loop
    that skips a corrupt batch loses nothing else).

    ``num_workers > 0`` runs whole batches in worker processes. While JAX has not
    started its runtime in this process they are forked, as in torch (cheap, no
    pickling, no main guard needed); once it has, fork would deadlock, so they
    start from a fork server (spawn where there is none): the dataset,
    ``collate_fn`` and ``worker_init_fn`` must then be picklable and a script
    needs the ``if __name__ == "__main__":`` guard (a clear RuntimeError says so
    before any process starts). Arrays of 1 MiB or more reach such workers
    through shared memory, mapped copy-on-write as under fork. Without
    ``persistent_workers``, fork-server workers stay warm between passes: each
    pass reseeds them, reloads the dataset as it is at the start of the pass and
    calls ``worker_init_fn`` again, which is what new processes would do, minus
    their start-up (their shared-memory copies of the big arrays stay too, until
    the loader is collected). At most ``prefetch_factor`` batches per worker are in
    flight; they come back in order. Worker ``i`` seeds ``random``,
    ``np.random`` (and torch, if imported) with ``base_seed + i`` (``base_seed``
    from ``seed`` and the epoch), then calls ``worker_init_fn(i)``. For an
    IterableDataset every worker iterates its own copy (shard it with
    :func:`get_worker_info`) and batches come round-robin from the workers that
    still have data, as in torch. An exception while loading is re-raised in the
    main process with its type, naming the sample and (from a worker) its
    traceback, the original chained; a worker that dies raises RuntimeError at
    once; ``timeout > 0`` bounds the wait for a batch. Leaving a pass early
    (break, an exception, garbage collection) stops forked workers; fork-server
    workers and ``persistent_workers`` stay until the loader is collected. The
    fork server and multiprocessing's resource tracker are helper processes that
    stay until the interpreter exits.

    Batches are new arrays every time (no output buffer is reused behind the
    user's back: measured here, reuse gained nothing over ``np.take``).

    ``pin_memory`` and ``pin_memory_device`` are accepted for torch compatibility
    and do nothing: use :func:`prefetch_to_device` to overlap host-to-device
    copies with compute. Batches always come in order (``in_order=False`` is
    accepted; torch allows, but does not require, out-of-order delivery).

    The positional order is torch's (``timeout`` is the tenth argument);
    ``prefetch_factor``, ``persistent_workers`` and jtoolkit's ``seed`` are
    keyword-only.

    Args:
        dataset: map-style dataset (``__getitem__`` and ``__len__``) or an
            :class:`IterableDataset`.
        batch_size: samples per batch; None disables batching (samples one by one,
            through :func:`default_convert` unless ``collate_fn`` is given).
        shuffle: reshuffle every epoch (a ``RandomSampler(dataset, seed=seed)``).
        sampler: order of the indices; exclusive with ``shuffle``.
        batch_sampler: yields lists of indices; exclusive with ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``.
        num_workers: worker processes; 0 loads in the main process.
        collate_fn: list of samples -> batch (default :func:`default_collate`).
        pin_memory: ignored (see above).
        drop_last: drop the last, smaller batch.
        timeout: seconds to wait for a batch from the workers; 0 waits forever.
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker.
        multiprocessing_context: ``"fork"``, ``"forkserver"``, ``"spawn"`` (or a
            context) to force a start method; None picks as described above.
        generator: instead of ``seed``: a ``numpy.random.Generator`` (one seed is
            drawn from it) or a ``torch.Generator`` (its ``initial_seed()``).
        prefetch_factor: batches in flight per worker (None: 2 with workers; with
            ``num_workers=0`` only None, or 2 for older jtoolkit calls).
        persistent_workers: keep the workers alive between passes.
        pin_memory_device: ignored (see above).
        in_order: accepted; batches always come in order.
        seed: seed of the shuffle order and of the workers' seeds; None draws a
            fresh one for this loader (``state_dict`` records it). Keyword-only.

    Raises:
        ValueError: torch's messages for invalid or conflicting options (batch_size
            <= 0, sampler with shuffle, a sampler with an IterableDataset, negative
            num_workers or timeout, ...).

    Warns:
        UserWarning: ``num_workers`` exceeds the CPUs available (torch's warning).

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
        shuffle: bool | None = None,
        sampler: Any = None,
        batch_sampler: Any = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Any = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        seed: int | None = 0,
    ) -> None:
        _check_worker_args(num_workers, timeout, prefetch_factor, persistent_workers)
        self._stream = isinstance(dataset, IterableDataset)
        if self._stream:
            _check_iterable_args(shuffle, sampler, batch_sampler)
        shuffle = bool(shuffle)
        _check_sampler_args(batch_size, shuffle, sampler, batch_sampler, drop_last)
        self.seed, self._seed_drawn = _resolve_seed(seed, generator)
        self._own_sampler = sampler is None and shuffle
        if self._own_sampler:
            sampler = RandomSampler(dataset, seed=self.seed)
        elif sampler is None and not self._stream:
            sampler = SequentialSampler(dataset)
        if batch_sampler is not None:
            batch_size, drop_last = None, False
        elif batch_size is not None and not self._stream:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        # Any: torch accepts any iterable of indices as a sampler (duck-typed)
        self.sampler: Any = sampler
        self.batch_sampler: Any = batch_sampler
        self.num_workers, self.timeout = num_workers, timeout
        self.pin_memory = pin_memory
        self.prefetch_factor = 2 if prefetch_factor is None else prefetch_factor
        self.persistent_workers = persistent_workers
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        auto_batch = batch_sampler is not None or (self._stream and batch_size)
        self.collate_fn = collate_fn or (
            default_collate if auto_batch else default_convert
        )
        if self._stream:
            self._fetch: Any = StreamFetcher(
                dataset, self.collate_fn, batch_size, drop_last
            )
        else:
            fast = auto_batch and self.collate_fn is default_collate
            gather = batch_gatherer(dataset) if fast else None
            self._fetch = Fetcher(dataset, self.collate_fn, gather, bool(auto_batch))
        self._next_epoch, self._next_skip = 0, 0
        self._progress: _Progress | None = None
        self._pool: WorkerPool | None = None  # persistent, or warm between passes
        _warn_worker_count(num_workers)

    def __len__(self) -> int:
        if self._stream:
            n = len(self.dataset)  # TypeError without __len__, as torch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
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
        if p is not None and not p.done and (self._stream or p.yielded < len(self)):
            return {"epoch": p.epoch, "batches_yielded": p.yielded, "seed": self.seed}
        epoch, skip = self._next_epoch, self._next_skip
        return {"epoch": epoch, "batches_yielded": skip, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Make the next pass resume ``state``: its epoch, minus the batches done.

        A loader built with ``seed=None`` or ``generator=`` takes the state's seed
        (so the resumed pass has the saved order); one built with another explicit
        seed refuses.

        Raises:
            ValueError: ``state`` comes from a loader with another explicit seed, or
                its batch count is outside ``[0, len(loader)]``.
        """
        seed = int(state["seed"])
        if seed != self.seed and not self._seed_drawn:
            raise ValueError(
                f"state_dict was saved with seed={state['seed']} but this DataLoader "
                f"has seed={self.seed}; build the loader with the same seed (or "
                "seed=None, which takes the saved one)"
            )
        skip = int(state["batches_yielded"])
        if skip < 0 or (not self._stream and skip > len(self)):
            raise ValueError(
                f"batches_yielded={skip} is outside [0, {len(self)}] for this loader"
            )
        self.seed = seed
        if self._own_sampler:
            self.sampler.seed = seed
        self._next_epoch, self._next_skip = int(state["epoch"]), skip
        self._progress = None

    def __iter__(self) -> Iterator[Any]:
        epoch, skip = self._next_epoch, self._next_skip
        self._next_epoch, self._next_skip = epoch + 1, 0
        progress = self._progress = _Progress(epoch, 0 if self._stream else skip)
        if self._stream:
            indices: Iterator[Any] = itertools.repeat(None)
        else:
            indices = self._index_source(epoch, skip)
            skip = 0  # the index source already left those batches out
        if self.num_workers > 0:
            it: Any = _WorkerIter(self, indices, progress)
        else:
            it = _MainIter(self._fetch.start(), indices, progress)
        for _ in range(skip):  # a stream resumes by drawing and dropping batches
            next(it, None)
        return it

    def _index_source(self, epoch: int, skip: int) -> Iterator[Any]:
        """The batches' indices (or single indices) of pass ``epoch`` after ``skip``."""
        source = self.batch_sampler if self.batch_sampler is not None else self.sampler
        if isinstance(source, SupportsSetEpoch):
            source.set_epoch(epoch)
        if isinstance(source, BatchSampler) and (
            type(source).__iter__ is BatchSampler.__iter__
        ):
            return source._batches(skip)
        return _skip(source, skip)

    def _base_seed(self, epoch: int) -> int:
        seeds = np.random.default_rng([self.seed % 2**64, epoch, 1])  # own stream
        return int(seeds.integers(0, 2**62))

    def _acquire_pool(self, epoch: int) -> WorkerPool:
        """Workers for a pass: the persistent or warm pool if free, else new ones."""
        pool, self._pool = self._pool, None
        if pool is not None and pool.alive:
            if self.persistent_workers:
                self._pool = pool  # shared by every pass, newest wins
                pool.resume()
            else:
                pool.new_epoch(self._fetch, self.worker_init_fn, self._base_seed(epoch))
            return pool
        method = start_method(self.multiprocessing_context)
        check_main_guard(method)
        pool = WorkerPool(
            self._fetch,
            self.num_workers,
            self._base_seed(epoch),
            self.worker_init_fn,
            method,
        )
        if self.persistent_workers:
            self._pool = pool
        return pool

    def _release_pool(self, pool: WorkerPool) -> None:
        """After a pass: keep fork-server workers warm for the next one."""
        if pool is self._pool:
            return  # persistent
        if pool.alive and pool.method != "fork" and self._pool is None:
            self._pool = pool
        else:
            pool.close()


class _MainIter:
    """One pass in the main process; an error in one batch leaves the pass going."""

    def __init__(self, fetch: Any, indices: Iterator[Any], progress: _Progress):
        self._fetch, self._indices, self._progress = fetch, indices, progress

    def __iter__(self) -> _MainIter:
        return self

    def __next__(self) -> Any:
        progress = self._progress
        for idx in self._indices:
            k = progress.yielded
            progress.yielded = k + 1  # a failed batch counts as handed out
            try:
                return self._fetch(idx)
            except StreamEnd:
                break
            except SampleError as e:
                raise_in_main(e, k)
        progress.done = True
        self._indices = iter(())
        raise StopIteration

    def close(self) -> None:
        """End the pass (nothing to release in the main process)."""
        self._indices = iter(())


class _WorkerIter:
    """One pass over worker processes: batches in order, errors per batch.

    Task ``k`` goes to the next worker in round-robin order among those that still
    have data (all of them for a map-style dataset: worker ``k % num_workers``, as
    torch); a worker whose stream ended answers every later task with "ended" and
    gets no new ones.
    """

    def __init__(self, loader: DataLoader, indices: Iterator[Any], progress: _Progress):
        self._pool: WorkerPool | None = None
        self._loader, self._indices, self._progress = loader, indices, progress
        self._timeout, self._started = loader.timeout, False
        self._active = [True] * loader.num_workers
        self._turn = 0  # the next worker in the cycle, active or not (as torch)
        self._worker_of: dict[int, int] = {}
        self._pending: dict[int, tuple[Any, Any]] = {}
        self._sent = self._next = 0

    def _start(self) -> None:
        """Take the workers and send the first ``prefetch_factor`` tasks each."""
        self._started = True
        self._pool = self._loader._acquire_pool(self._progress.epoch)
        self._pool.generation += 1
        self._gen = self._pool.generation
        for _ in range(self._loader.prefetch_factor * self._loader.num_workers):
            if not self._dispatch():
                break

    def __iter__(self) -> _WorkerIter:
        return self

    def _dispatch(self) -> bool:
        """Send the next task, if there is one and a worker to take it."""
        n = len(self._active)
        for _ in range(n):
            worker, self._turn = self._turn, (self._turn + 1) % n
            if self._active[worker]:
                break
        else:
            return False
        pool = self._pool
        if pool is None:  # not started: nothing to send to
            return False
        for idx in itertools.islice(self._indices, 1):
            pool.put(worker, (self._gen, self._sent, idx))
            self._worker_of[self._sent] = worker
            self._sent += 1
            return True
        return False

    def __next__(self) -> Any:
        if not self._started:
            self._start()
        while self._pool is not None and self._next < self._sent:
            k = self._next
            worker = self._worker_of.pop(k)
            try:
                ok, payload = _await_batch(
                    self._pool, self._gen, k, worker, self._pending, self._timeout
                )
            except BaseException:
                self.close()
                raise
            self._next += 1
            if ok is None:  # that worker's stream has ended: no more tasks for it
                if self._active[worker]:
                    self._active[worker] = False
                    self._dispatch()
                continue
            self._dispatch()
            self._progress.yielded += 1
            if not ok:
                raise_from_worker(payload)
            return payload
        self._progress.done = True
        self.close()
        raise StopIteration

    def close(self) -> None:
        """End the pass now: forked workers stop, others wait for the next pass."""
        pool, self._pool = self._pool, None
        if pool is not None:
            self._loader._release_pool(pool)

    def __del__(self) -> None:
        self.close()


def _await_batch(
    pool: WorkerPool,
    gen: int,
    k: int,
    worker: int,
    pending: dict[int, Any],
    timeout: float,
) -> tuple[Any, Any]:
    """Batch ``k`` of pass ``gen``; replies that arrive first wait in ``pending``."""
    if pool.generation != gen:
        raise RuntimeError(
            "this iterator was superseded: a newer pass over the same DataLoader "
            "(persistent_workers=True) shares its workers; use one iterator at a time"
        )
    while k not in pending:
        reply_gen, j, ok, payload = pool.receive(timeout, worker)
        if reply_gen == gen:  # replies of an abandoned earlier pass are dropped
            pending[j] = (ok, payload)
    return pending.pop(k)
