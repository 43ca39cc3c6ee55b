"""Datasets of :mod:`jtoolkit.data`: Dataset, ArrayDataset, Subset, splits."""

from __future__ import annotations

import bisect
import itertools
import math
import numbers
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from jtoolkit._src.data.samplers import epoch_rng

__all__ = [
    "ArrayDataset",
    "ChainDataset",
    "ConcatDataset",
    "Dataset",
    "IterableDataset",
    "StackDataset",
    "Subset",
    "TensorDataset",
    "random_split",
]


class Dataset:
    """Base class of map-style datasets (torch.utils.data.Dataset).

    Subclasses implement ``__getitem__(index)`` (one sample, numpy on the host) and
    ``__len__``. They may add ``__getitems__(indices) -> list of samples`` to load a
    whole batch at once; the DataLoader then calls it instead of ``__getitem__``. With
    ``num_workers > 0`` the dataset is pickled into every worker, so define it at the
    top level of a module.

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 3
        ...     def __getitem__(self, index):
        ...         return index * index
        >>> [Squares()[i] for i in range(3)]
        [0, 1, 4]
    """

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Any) -> ConcatDataset:
        """``self + other`` is ``ConcatDataset([self, other])``, as in torch."""
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of stream datasets (torch.utils.data.IterableDataset).

    Subclasses implement ``__iter__`` (samples, numpy on the host) and may define
    ``__len__``. The DataLoader batches the stream (``batch_size``, ``drop_last``);
    it takes no sampler or shuffle. With ``num_workers > 0`` every worker iterates
    its own copy, so a dataset shards itself with :func:`get_worker_info` (``id``,
    ``num_workers``) or every sample comes ``num_workers`` times, as in torch.

    Example:
        >>> class Count(IterableDataset):
        ...     def __iter__(self):
        ...         return iter(range(3))
        >>> list(Count())
        [0, 1, 2]
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(
            "Subclasses of IterableDataset should implement __iter__."
        )

    def __add__(self, other: Any) -> ChainDataset:
        """``self + other`` is ``ChainDataset([self, other])``, as in torch."""
        return ChainDataset([self, other])


class ConcatDataset(Dataset):
    """Map-style datasets one after another (torch.utils.data.ConcatDataset).

    Args:
        datasets: map-style datasets (``__getitem__`` and ``__len__``).

    Raises:
        AssertionError: no datasets, or an IterableDataset among them (torch's type).

    Example:
        >>> ds = ConcatDataset([range(3), range(10, 12)])
        >>> len(ds), ds[3], ds[-1], ds.cumulative_sizes
        (5, 10, 11, [3, 5])
    """

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("datasets should not be an empty iterable")
        if any(isinstance(d, IterableDataset) for d in self.datasets):
            raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(
            itertools.accumulate(len(d) for d in self.datasets)
        )

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        if idx < 0:
            if -idx > len(self):
                raise ValueError(
                    "absolute value of index should not exceed dataset length"
                )
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """Stream datasets one after another (torch.utils.data.ChainDataset).

    Args:
        datasets: IterableDatasets, chained lazily.

    Raises:
        AssertionError: (while iterating or in ``len``) a member that is not an
            IterableDataset, as torch.

    Example:
        >>> class Count(IterableDataset):
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def __iter__(self):
        ...         return iter(range(self.n))
        >>> list(ChainDataset([Count(2), Count(3)]))
        [0, 1, 0, 1, 2]
    """

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            _check_iterable(d)
            yield from d

    def __len__(self) -> int:
        total = 0
        for d in self.datasets:
            _check_iterable(d)
            total += len(d)
        return total


def _check_iterable(dataset: Any) -> None:
    if not isinstance(dataset, IterableDataset):
        raise AssertionError("ChainDataset only supports IterableDataset")


class StackDataset(Dataset):
    """Samples of several datasets side by side (torch.utils.data.StackDataset).

    ``StackDataset(a, b)[i] == (a[i], b[i])``; ``StackDataset(x=a, y=b)[i] ==
    {"x": a[i], "y": b[i]}``.

    Args:
        *args: datasets of the same length (tuple samples), or
        **kwargs: named datasets of the same length (dict samples).

    Raises:
        ValueError: both forms, neither, or lengths that differ (torch's messages).

    Example:
        >>> StackDataset(range(3), "abc")[1], StackDataset(n=range(3), c="abc")[2]
        ((1, 'b'), {'n': 2, 'c': 'c'})
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ValueError(
                "Supported either ``tuple``- (via ``args``) or``dict``- (via "
                "``kwargs``) like input/output, but both types are given."
            )
        if not args and not kwargs:
            raise ValueError("At least one dataset should be passed")
        members = list(args or kwargs.values())
        self._length = len(members[0])
        if any(len(d) != self._length for d in members):
            raise ValueError("Size mismatch between datasets")
        self.datasets: Any = args or kwargs

    def __getitem__(self, index: Any) -> Any:
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __getitems__(self, indices: list[int]) -> list[Any]:
        """The samples at ``indices``, each member batched when it supports it."""
        named = isinstance(self.datasets, dict)
        members = list(self.datasets.values()) if named else list(self.datasets)
        columns = [_items(d, indices) for d in members]
        if named:
            keys = list(self.datasets)
            return [
                dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)
            ]
        return [tuple(row) for row in zip(*columns, strict=True)]

    def __len__(self) -> int:
        return self._length


def _items(dataset: Any, indices: list[int]) -> list[Any]:
    getitems: Callable[[list[int]], Any] | None = getattr(dataset, "__getitems__", None)
    if callable(getitems):
        items = getitems(indices)
        if len(items) != len(indices):
            raise ValueError(
                "Nested dataset's output size mismatch. "
                f"Expected {len(indices)}, got {len(items)}"
            )
        return list(items)
    return [dataset[i] for i in indices]


class _SizeMismatchError(ValueError, AssertionError):
    """A ValueError that also satisfies ``except AssertionError`` as torch raises."""


class ArrayDataset(Dataset):
    """Samples are rows of equally long arrays (torch TensorDataset).

    ``dataset[i]`` is the tuple ``(a[i] for a in arrays)``. The DataLoader gathers a
    whole batch of an ArrayDataset (or a Subset of one) with one ``np.take`` per array
    instead of ``batch_size`` lookups and a collate.

    Args:
        *arrays: arrays (anything ``np.asarray`` takes: numpy, lists, torch tensors,
            jax Arrays) with the same first dimension.

    Raises:
        ValueError: no arrays, a 0-d array, or first dimensions that differ (the error
            is also an ``AssertionError``, the type torch raises).

    Example:
        >>> ds = ArrayDataset(np.arange(6.0).reshape(3, 2), np.array([0, 1, 0]))
        >>> len(ds), ds[1]
        (3, (array([2., 3.]), np.int64(1)))
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array, got none")
        self.arrays = tuple(np.asarray(a) for a in arrays)
        if any(a.ndim == 0 for a in self.arrays):
            shapes = [a.shape for a in self.arrays]
            raise ValueError(f"ArrayDataset needs arrays with a first axis: {shapes}")
        lengths = [a.shape[0] for a in self.arrays]
        if any(n != lengths[0] for n in lengths):
            raise _SizeMismatchError(
                f"Size mismatch between tensors: first dimensions {lengths}; every "
                "array needs one row per sample"
            )

    @property
    def tensors(self) -> tuple[np.ndarray, ...]:
        """The arrays (torch's attribute name)."""
        return self.arrays

    def __getitem__(self, index: Any) -> tuple[Any, ...]:
        return tuple(a[index] for a in self.arrays)

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Any, ...]]:
        """The samples at ``indices`` as a list of tuples (torch's batched access)."""
        return list(zip(*self._gather(indices), strict=True))

    def _gather(self, indices: Any) -> list[np.ndarray]:
        """The collated batch at ``indices``: one ``np.take`` per array."""
        idx = np.asarray(indices, dtype=np.intp)
        return [a.take(idx, 0) for a in self.arrays]

    def __len__(self) -> int:
        return self.arrays[0].shape[0]


TensorDataset = ArrayDataset
"""torch's name (``torch.utils.data.TensorDataset``) for :class:`ArrayDataset`."""


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, loaded lazily (torch Subset).

    Args:
        dataset: a map-style dataset.
        indices: sequence of indices into ``dataset`` (repeats allowed).

    Example:
        >>> sub = Subset(ArrayDataset(np.arange(10)), [9, 2, 2])
        >>> len(sub), int(sub[0][0])
        (3, 9)
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices
        self._index = np.asarray(indices, dtype=np.int64).reshape(-1)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        """The samples at ``indices`` (batched when the dataset supports it)."""
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


def batch_gatherer(dataset: Any) -> Callable[[Any], list[np.ndarray]] | None:
    """A function ``indices -> collated batch`` when ``dataset`` allows one, else None.

    Only for ArrayDataset itself (not subclasses that change item access) and Subsets
    of one: their default-collated batch is exactly ``[a[indices] for a in arrays]``.
    """
    if isinstance(dataset, ArrayDataset):
        cls = type(dataset)
        plain = (
            cls.__getitem__ is ArrayDataset.__getitem__
            and cls.__getitems__ is ArrayDataset.__getitems__
        )
        return dataset._gather if plain else None
    if isinstance(dataset, Subset) and type(dataset).__getitem__ is Subset.__getitem__:
        inner = batch_gatherer(dataset.dataset)
        if inner is not None:
            return _SubsetGather(inner, dataset._index)
    return None


class _SubsetGather(NamedTuple):
    """Gather through a Subset's index map (a picklable callable)."""

    inner: Callable[[Any], list[np.ndarray]]
    index: np.ndarray

    def __call__(self, indices: Any) -> list[np.ndarray]:
        return self.inner(self.index[np.asarray(indices, dtype=np.intp)])


def _split_lengths(n: int, lengths: Sequence[float]) -> list[int]:
    """Integer lengths; fractions are floored, the remainder dealt round-robin."""
    total = math.fsum(lengths)
    if not (math.isclose(total, 1) and total <= 1):
        return _counts(n, lengths)
    for i, frac in enumerate(lengths):
        if frac < 0 or frac > 1:
            raise ValueError(f"Fraction at index {i} is not between 0 and 1")
    counts = [math.floor(n * frac) for frac in lengths]
    for i in range(n - sum(counts)):
        counts[i % len(counts)] += 1
    for i, count in enumerate(counts):
        if count == 0:
            warnings.warn(
                f"Length of split at index {i} is 0. This might result in an empty "
                "dataset.",
                UserWarning,
                stacklevel=3,
            )
    return counts


def _counts(n: int, lengths: Sequence[float]) -> list[int]:
    """Counts as given: torch's ValueError on the sum, TypeError on non-integers."""
    if math.fsum(lengths) != n:
        raise ValueError(
            "Sum of input lengths does not equal the length of the input dataset! "
            f"(lengths {list(lengths)}, len(dataset) is {n})"
        )
    if any(not isinstance(x, numbers.Integral) for x in lengths):
        raise TypeError(
            "random_split: lengths must be ints (counts summing to len(dataset)) or "
            f"fractions summing to 1, got {list(lengths)}"
        )
    if any(x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    return [int(x) for x in lengths]


def random_split(dataset: Any, lengths: Sequence[float], seed: int = 0) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random Subsets (torch random_split).

    ``lengths`` are counts that sum to ``len(dataset)``, or fractions that sum to 1:
    each count is ``floor(len * fraction)`` and the remainder goes one by one to the
    splits in order, as torch does (``[0.5, 0.3, 0.2]`` of 10 gives 5, 3, 2). The
    permutation is numpy's, seeded by ``seed``, so the members differ from torch's.

    Args:
        dataset: a map-style dataset.
        lengths: counts (ints) or fractions (floats summing to 1).
        seed: the seed of the permutation.

    Returns:
        One Subset per entry of ``lengths``.

    Raises:
        ValueError: the counts do not sum to ``len(dataset)`` (``[1.2]`` included),
            a count is negative, or a fraction is outside [0, 1].
        TypeError: counts that sum right but are not ints (``[2.5, 7.5]``), as torch.

    Example:
        >>> parts = random_split(range(10), [0.5, 0.3, 0.2])
        >>> [len(p) for p in parts]
        [5, 3, 2]
    """
    n = len(dataset)
    if any(not isinstance(x, numbers.Real) for x in lengths):
        raise TypeError(f"lengths should be ints or floats, got {list(lengths)}")
    counts = _split_lengths(n, lengths)
    if sum(counts) != n:
        raise ValueError(
            "Sum of input lengths does not equal the length of the input dataset! "
            f"(lengths {list(lengths)} sum to {sum(counts)}, len(dataset) is {n})"
        )
    order = epoch_rng(seed, 0).permutation(n).tolist()
    ends = itertools.accumulate(counts)
    pairs = zip(ends, counts, strict=True)
    return [Subset(dataset, order[end - c : end]) for end, c in pairs]
