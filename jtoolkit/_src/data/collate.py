"""``default_collate`` for :mod:`jtoolkit.data`: torch's rules, numpy batches."""

from __future__ import annotations

import collections.abc
import copy
import numbers
from typing import Any

import numpy as np

__all__ = ["default_collate", "default_convert"]


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
    return _rebuild_sequence(elem, columns)


def _rebuild_sequence(elem: Any, items: list[Any]) -> Any:
    """``items`` in a container of ``elem``'s type (a list if that fails), as torch."""
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, item in enumerate(items):
                clone[i] = item
            return clone
        return type(elem)(items)
    except TypeError:
        return items


def _rebuild_mapping(elem: Any, items: dict[Any, Any]) -> Any:
    """``items`` in a mapping of ``elem``'s type (a dict if that fails), as torch."""
    try:
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(items)
            return clone
        return type(elem)(items)
    except TypeError:
        return items


def _collate_mapping(batch: list[Any], elem: Any) -> Any:
    collated = {key: default_collate([sample[key] for sample in batch]) for key in elem}
    return _rebuild_mapping(elem, collated)


def _python_scalars(batch: list[Any]) -> np.ndarray:
    """``torch.tensor(batch)``'s dtype: bools stay bool, ints int64, floats float32."""
    if all(isinstance(x, bool) for x in batch):
        return np.array(batch, dtype=np.bool_)
    if any(isinstance(x, complex) for x in batch):
        return np.array(batch, dtype=np.complex64)
    if any(isinstance(x, float) for x in batch):
        return np.array(batch, dtype=np.float32)  # torch's default dtype
    return np.array(batch, dtype=np.int64)


def default_collate(batch: list[Any]) -> Any:
    """Merge a list of samples into a batch of numpy arrays (torch default_collate).

    torch's rules on the host: numpy arrays are stacked on a new leading axis with
    their dtype; Python ints become int64, floats **float64** (as torch; JAX without
    x64 turns them into float32 on ``device_put``), bools bool, and a batch that
    starts with an int but holds floats float32 (``torch.tensor``'s inference);
    numpy scalars keep their (promoted) dtype; strings and bytes, numpy's ``str_``
    included, stay a list; dicts, namedtuples, lists and tuples are collated field by
    field, keeping the container type (a tuple of samples becomes a list, as in
    torch).
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
    if isinstance(elem, str | bytes):  # also numpy's str_ and bytes_ scalars
        return list(batch)
    if isinstance(elem, np.ndarray):
        return _stack(batch)
    if isinstance(elem, np.generic):
        if elem.dtype.kind in "SUO":
            raise TypeError(_BAD_TYPE.format(elem.dtype.str))
        return np.array(batch, dtype=np.result_type(*batch))
    if isinstance(elem, float):
        return np.array(batch, dtype=np.float64)
    if isinstance(elem, numbers.Integral):  # bool included: torch.tensor(batch)
        return _python_scalars(batch)
    if isinstance(elem, collections.abc.Mapping):
        return _collate_mapping(batch, elem)
    if isinstance(elem, collections.abc.Sequence):
        return _collate_sequence(batch, elem)
    if hasattr(elem, "__array__"):
        return _stack([np.asarray(sample) for sample in batch])
    raise TypeError(_BAD_TYPE.format(type(elem)))


def default_convert(data: Any) -> Any:
    """One sample as numpy, containers kept (torch default_convert).

    The ``collate_fn`` of a DataLoader with ``batch_size=None``: numpy scalars become
    0-d arrays (torch: 0-d tensors), objects with ``__array__`` (torch tensors, jax
    Arrays) numpy arrays; numpy arrays, strings and other objects are returned as
    they are; mappings, namedtuples and sequences are converted element by element
    (a tuple becomes a list, as in torch).

    Args:
        data: one sample.

    Returns:
        The sample with numpy leaves.

    Example:
        >>> from jtoolkit.data import default_convert
        >>> default_convert({"x": np.float32(1.5), "n": 3})
        {'x': array(1.5, dtype=float32), 'n': 3}
    """
    if isinstance(data, np.ndarray | str | bytes):
        return data
    if isinstance(data, np.generic):
        return data if data.dtype.kind in "SUO" else np.asarray(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {k: default_convert(data[k]) for k in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    if hasattr(data, "__array__") and not isinstance(data, numbers.Number):
        return np.asarray(data)
    return data
