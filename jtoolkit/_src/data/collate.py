"""``default_collate`` for :mod:`jtoolkit.data`: torch's rules, numpy batches."""

from __future__ import annotations

import collections.abc
import numbers
from typing import Any

import numpy as np

__all__ = ["default_collate"]


_BAD_TYPE = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
    "lists; found {}"
)


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    first = arrays[0]
    if first.dtype.kind in "USO":
        raise TypeError(_BAD_TYPE.format(first.dtype.str))
    for i, a in enumerate(arrays):
        if a.shape != first.shape:
            raise RuntimeError(
                "stack expects each tensor to be equal size, but got "
                f"{list(first.shape)} at entry 0 and {list(a.shape)} at entry {i}"
            )
    return np.stack(arrays)


def _collate_sequence(batch: list[Any], elem: Any) -> Any:
    size = len(elem)
    if any(len(sample) != size for sample in batch):
        raise RuntimeError("each element in list of batch should be of equal size")
    columns = [default_collate(list(col)) for col in zip(*batch, strict=True)]
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*columns)
    if isinstance(elem, tuple):
        return columns  # torch turns tuples of samples into a list
    try:
        return type(elem)(columns)
    except TypeError:
        return columns


def _collate_mapping(batch: list[Any], elem: Any) -> Any:
    collated = {key: default_collate([sample[key] for sample in batch]) for key in elem}
    try:
        return type(elem)(collated)
    except TypeError:
        return collated


def default_collate(batch: list[Any]) -> Any:
    """Merge a list of samples into a batch of numpy arrays (torch default_collate).

    torch's rules on the host: numpy arrays are stacked on a new leading axis with
    their dtype; Python ints become int64, floats **float64** (as torch; JAX without
    x64 turns them into float32 on ``device_put``), bools bool; numpy scalars keep
    their dtype; strings and bytes stay a list; dicts, namedtuples, lists and tuples
    are collated field by field (a tuple of samples becomes a list, as in torch).
    Objects with ``__array__`` (torch tensors, jax Arrays) are converted with
    ``np.asarray`` first.

    Args:
        batch: list of samples with the same structure.

    Returns:
        The batch, a pytree of numpy arrays (and lists of strings).

    Raises:
        RuntimeError: arrays of different shapes, or sequences of different lengths.
        TypeError: an element type torch cannot collate (None, string arrays, ...).

    Example:
        >>> samples = [(np.ones(2, np.float32), 1), (np.zeros(2, np.float32), 0)]
        >>> x, y = default_collate(samples)
        >>> x.shape, x.dtype, y.tolist(), y.dtype
        ((2, 2), dtype('float32'), [1, 0], dtype('int64'))
    """
    elem = batch[0]
    if isinstance(elem, np.ndarray):
        return _stack(batch)
    if isinstance(elem, np.generic):
        if elem.dtype.kind in "USO":
            raise TypeError(_BAD_TYPE.format(elem.dtype.str))
        return np.array(batch, dtype=elem.dtype)
    if isinstance(elem, bool):
        return np.array(batch, dtype=np.bool_)
    if isinstance(elem, numbers.Integral):
        return np.array(batch, dtype=np.int64)
    if isinstance(elem, float):
        return np.array(batch, dtype=np.float64)
    if isinstance(elem, str | bytes):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return _collate_mapping(batch, elem)
    if isinstance(elem, collections.abc.Sequence):
        return _collate_sequence(batch, elem)
    if hasattr(elem, "__array__"):
        return _stack([np.asarray(sample) for sample in batch])
    raise TypeError(_BAD_TYPE.format(type(elem)))
