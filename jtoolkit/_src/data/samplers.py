"""Index samplers for :mod:`jtoolkit.data` (torch.utils.data samplers, numpy inside).

Every sampler's order is a pure function of ``(seed, epoch)``: a numpy Generator seeded
from ``[seed, epoch]`` draws it, so a pass can be replayed, resumed or sharded without
any hidden RNG state. ``set_epoch(epoch)`` picks the pass. The DataLoader calls it
before every pass, so user code rarely does.

The samplers here also have ``_indices() -> np.ndarray`` (the whole pass at once);
BatchSampler slices batches out of it instead of iterating Python ints, unless a
subclass replaced ``__iter__``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence, Sized
from typing import Any

import numpy as np

from jtoolkit._src.core.checks import torch_bool, torch_positive_int
from jtoolkit._src.core.protocols import SupportsSetEpoch

__all__ = [
    "BatchSampler",
    "DistributedSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
]


_U64 = 2**64


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The Generator that draws the order of pass ``epoch`` for ``seed``."""
    return np.random.default_rng([int(seed) % _U64, int(epoch) % _U64])


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class Sampler:
    """Base class of index samplers (torch.utils.data.Sampler).

    Subclasses implement ``__iter__`` (indices, or lists of indices for batch
    samplers) and usually ``__len__``. ``set_epoch`` stores the epoch that the next
    ``__iter__`` uses.

    Example:
        >>> class Evens(Sampler):
        ...     def __iter__(self):
        ...         return iter([0, 2, 4])
        >>> list(Evens())
        [0, 2, 4]
    """

    epoch: int = 0

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` for the next pass (torch DistributedSampler.set_epoch)."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Indices ``0 .. len(data_source) - 1`` in order (torch SequentialSampler).

    Args:
        data_source: anything with ``__len__``.

    Example:
        >>> list(SequentialSampler(range(4)))
        [0, 1, 2, 3]
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _indices(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order of the indices, new every epoch (torch RandomSampler).

    Without replacement every index appears once per ``len(data_source)`` draws
    (``num_samples`` larger than the dataset chains several permutations, as torch
    does); with replacement indices are drawn uniformly. The order depends only on
    ``(seed, epoch)``; it cannot equal torch's, which uses torch's own generator.

    Args:
        data_source: anything with ``__len__``.
        replacement: draw with replacement.
        num_samples: indices per pass (default ``len(data_source)``).
        seed: the seed of the order.

    Raises:
        TypeError: ``replacement`` is not a bool.
        ValueError: ``num_samples`` is not a positive integer.

    Example:
        >>> s = RandomSampler(range(5), seed=0)
        >>> sorted(s) == [0, 1, 2, 3, 4]
        True
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        seed: int = 0,
    ) -> None:
        torch_bool("replacement", replacement)
        self.data_source = data_source
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        self.seed = int(seed)
        torch_positive_int("num_samples", self.num_samples)

    @property
    def num_samples(self) -> int:
        """Indices per pass: ``num_samples`` or the dataset's length."""
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def _indices(self) -> np.ndarray:
        n, rng = len(self.data_source), epoch_rng(self.seed, self.epoch)
        if self.replacement:
            return rng.integers(0, n, size=self.num_samples, dtype=np.int64)
        reps = -(-self.num_samples // n)
        perms = [rng.permutation(n).astype(np.int64) for _ in range(reps)]
        return np.concatenate(perms)[: self.num_samples]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order, new every epoch (torch's).

    Args:
        indices: sequence of indices (into the dataset), yielded once each per pass.
        seed: the seed of the order (torch: ``generator``).

    Example:
        >>> sorted(SubsetRandomSampler([7, 3, 5], seed=0))
        [3, 5, 7]
    """

    def __init__(self, indices: Sequence[int], seed: int = 0) -> None:
        self.indices = indices
        self.seed = int(seed)

    def _indices(self) -> np.ndarray:
        perm = epoch_rng(self.seed, self.epoch).permutation(len(self.indices))
        return np.asarray(self.indices, dtype=np.int64).reshape(-1)[perm]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices().tolist())

    def __len__(self) -> int:
        return len(self.indices)


def _check_weights(weights: np.ndarray) -> None:
    if weights.ndim != 1:
        raise ValueError(
            "weights should be a 1d sequence but given weights have shape "
            f"{tuple(weights.shape)}"
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise RuntimeError(
            "probability tensor contains either `inf`, `nan` or element < 0"
        )
    if weights.sum() <= 0:
        raise RuntimeError(
            "invalid multinomial distribution (sum of probabilities <= 0)"
        )


class WeightedRandomSampler(Sampler):
    """Indices drawn with probability proportional to ``weights`` (torch's).

    Equivalent to ``torch.multinomial(weights, num_samples, replacement)``: weights
    need not sum to 1; a zero weight is never drawn with replacement; without
    replacement, zero-weight indices come last once the others are exhausted.

    Args:
        weights: 1-D sequence of non-negative floats, one per index.
        num_samples: indices per pass.
        replacement: draw with replacement.
        seed: the seed of the order.

    Raises:
        ValueError: weights not 1-D; ``replacement`` not a bool; ``num_samples`` not a
            positive integer or, without replacement, larger than ``len(weights)``.
        RuntimeError: negative, infinite or NaN weights, or all weights zero.

    Example:
        >>> s = WeightedRandomSampler([0.0, 1.0, 0.0], num_samples=3)
        >>> list(s)
        [1, 1, 1]
    """

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        seed: int = 0,
    ) -> None:
        torch_positive_int("num_samples", num_samples)
        if not isinstance(replacement, bool | np.bool_):  # torch: ValueError here
            raise ValueError(
                f"replacement should be a boolean value, but got "
                f"replacement={replacement}"
            )
        self.weights = np.asarray(weights, dtype=np.float64)
        _check_weights(self.weights)
        if not replacement and num_samples > self.weights.size:
            raise ValueError(
                f"cannot sample n_sample > prob_dist.size(-1) samples without "
                f"replacement: num_samples={num_samples} > {self.weights.size} "
                "weights; pass replacement=True or a smaller num_samples"
            )
        self.num_samples = int(num_samples)
        self.replacement = bool(replacement)
        self.seed = int(seed)

    def _indices(self) -> np.ndarray:
        rng = epoch_rng(self.seed, self.epoch)
        p = self.weights / self.weights.sum()
        if self.replacement:
            cdf = np.cumsum(p)
            u = rng.random(self.num_samples) * cdf[-1]
            picks = np.searchsorted(cdf, u, side="right")
            last = np.flatnonzero(p)[-1]  # guards u rounding up to cdf[-1]
            return np.minimum(picks, last).astype(np.int64)
        # Exponential races: index i wins with probability p_i among those left.
        with np.errstate(divide="ignore"):
            keys = rng.exponential(size=p.size) / p
        return np.argsort(keys, kind="stable")[: self.num_samples].astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group another sampler's indices into lists of ``batch_size`` (torch's).

    Args:
        sampler: a Sampler or any iterable of indices.
        batch_size: indices per batch.
        drop_last: drop the last, smaller batch.

    Raises:
        ValueError: ``batch_size`` is not a positive integer.
        TypeError: ``drop_last`` is not a bool.

    Example:
        >>> list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False))
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler: Any, batch_size: int, drop_last: bool) -> None:
        torch_positive_int("batch_size", batch_size)
        torch_bool("drop_last", drop_last, exc=ValueError)
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = bool(drop_last)

    def set_epoch(self, epoch: int) -> None:
        """Pass ``epoch`` on to the wrapped sampler (if it takes one)."""
        self.epoch = int(epoch)
        if isinstance(self.sampler, SupportsSetEpoch):
            self.sampler.set_epoch(epoch)

    def _batches(self, skip: int = 0) -> Iterator[Any]:
        """Index arrays (or lists) of the next pass, without the first ``skip``."""
        if _has_array_order(self.sampler):
            order, bs = self.sampler._indices(), self.batch_size
            stop = len(order) - len(order) % bs if self.drop_last else len(order)
            return (order[s : s + bs] for s in range(skip * bs, stop, bs))
        batches = self._iter_lists()
        for _ in range(skip):
            next(batches, None)
        return batches

    def _iter_lists(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for idx in self.sampler:
            batch.append(int(idx))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __iter__(self) -> Iterator[list[int]]:
        if _has_array_order(self.sampler):
            return (b.tolist() for b in self._batches())
        return self._iter_lists()

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def _process_defaults(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    if num_replicas is None or rank is None:
        import jax  # only here: the rest of the data pipeline is numpy

        num_replicas = jax.process_count() if num_replicas is None else num_replicas
        rank = jax.process_index() if rank is None else rank
    return int(num_replicas), int(rank)


class DistributedSampler(Sampler):
    """This process's share of the indices (torch DistributedSampler).

    Every replica draws the same order (shuffled from ``(seed, epoch)``), pads it by
    repeating its start (or drops the tail with ``drop_last``) to a multiple of
    ``num_replicas`` and takes every ``num_replicas``-th index from ``rank``: torch's
    padding and subsampling, with a numpy order instead of ``torch.randperm``.

    Args:
        dataset: anything with ``__len__``.
        num_replicas: number of shards (default ``jax.process_count()``).
        rank: this shard (default ``jax.process_index()``).
        shuffle: shuffle the order every epoch.
        seed: the seed of the order; the same on every replica.
        drop_last: drop the tail instead of padding.

    Raises:
        ValueError: ``rank`` outside ``[0, num_replicas - 1]``.

    Example:
        >>> list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False))
        [1, 3, 0]
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        num_replicas, rank = _process_defaults(num_replicas, rank)
        if num_replicas <= 0:
            raise ValueError(
                f"num_replicas should be a positive integer, got {num_replicas}"
            )
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval "
                f"[0, {num_replicas - 1}]"
            )
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def _indices(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            order = epoch_rng(self.seed, self.epoch).permutation(n).astype(np.int64)
        else:
            order = np.arange(n, dtype=np.int64)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > n:
            order = np.resize(order, self.total_size)  # repeats from the start
        return order[self.rank : self.total_size : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def valid_mask(self, rank: int | None = None) -> np.ndarray:
        """Which of replica ``rank``'s ``num_samples`` positions are real samples.

        False marks the padding: copies of the start of the order that make the
        pass divide by ``num_replicas`` (torch trains on them; ``fit`` masks them,
        so every sample counts once per epoch at any process count). It depends on
        the position only, not on the epoch's order.

        Args:
            rank: the replica (default: this one's ``rank``).

        Returns:
            bool array ``(num_samples,)``, in this replica's order.

        Example:
            >>> DistributedSampler(range(5), 2, rank=1, shuffle=False).valid_mask()
            array([ True,  True, False])
        """
        rank = self.rank if rank is None else int(rank)
        positions = np.arange(self.num_samples) * self.num_replicas + rank
        return positions < len(self.dataset)


_ARRAY_SAMPLERS = (
    SequentialSampler,
    RandomSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
    DistributedSampler,
)


_ARRAY_ITERS = frozenset(cls.__iter__ for cls in _ARRAY_SAMPLERS)


def _has_array_order(sampler: Any) -> bool:
    """Whether ``sampler``'s pass is exactly ``sampler._indices()``."""
    return getattr(type(sampler), "__iter__", None) in _ARRAY_ITERS
