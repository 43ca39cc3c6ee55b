"""Datasets of :mod:`jtoolkit.data`: Dataset, ArrayDataset, Subset, splits."""

from __future__ import annotations

import itertools
import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from jtoolkit._src.data.samplers import _rng

__all__ = ["ArrayDataset", "Dataset", "Subset", "TensorDataset", "random_split"]


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


def _batch_gatherer(dataset: Any) -> Callable[[Any], list[np.ndarray]] | None:
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
        inner = _batch_gatherer(dataset.dataset)
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
        return [int(length) for length in lengths]
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
        ValueError: the counts do not sum to ``len(dataset)``, or a fraction is outside
            [0, 1].

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
    order = _rng(seed, 0).permutation(n).tolist()
    ends = itertools.accumulate(counts)
    pairs = zip(ends, counts, strict=True)
    return [Subset(dataset, order[end - c : end]) for end, c in pairs]
