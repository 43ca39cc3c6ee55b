"""``split`` and ``chunk``: cut an array into pieces along a dim, as torch."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core import arrays, checks

__all__ = ["chunk", "split"]


def _pieces(a: jax.Array, axis: int, sizes: Sequence[int]) -> tuple[jax.Array, ...]:
    bounds = np.cumsum([0, *sizes])
    index = [slice(None)] * a.ndim
    out = []
    for lo, hi in itertools.pairwise(bounds):
        index[axis] = slice(int(lo), int(hi))
        out.append(a[tuple(index)])
    return tuple(out)


def split(
    tensor: ArrayLike, split_size_or_sections: Any, dim: int = 0
) -> tuple[jax.Array, ...]:
    """Cut into pieces of one size (the last may be smaller) or of given sizes.

    torch counterpart: ``torch.split(tensor, split_size_or_sections, dim=0)``.

    Args:
        tensor: array (at least 1-D).
        split_size_or_sections: an int (the size of each piece) or a list of sizes
            that sum to ``tensor.shape[dim]``.
        dim: the dim to cut.

    Returns:
        A tuple of arrays.

    Raises:
        RuntimeError: sizes that do not sum to the dim's size, a negative size, or
            size 0 for a non-empty dim. IndexError: ``dim`` out of range.

    Example:
        >>> from jtoolkit.tensor_ops import split
        >>> [p.tolist() for p in split([0, 1, 2, 3, 4], 2)]
        [[0, 1], [2, 3], [4]]
        >>> [p.shape for p in split(jnp.zeros((2, 5)), [1, 4], dim=1)]
        [(2, 1), (2, 4)]
    """
    a = arrays.to_array(tensor)
    if a.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    axis = checks.wrap_dim(dim, a.ndim)
    n = a.shape[axis]
    if isinstance(split_size_or_sections, Sequence):
        sizes = [
            checks.torch_int_arg("split_sizes", s, "split")
            for s in split_size_or_sections
        ]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input "
                f"tensor's size at dimension {axis}), but got split_sizes="
                f"{checks.shape_str(sizes)}"
            )
        return _pieces(a, axis, sizes)
    size = checks.torch_int_arg("split_size", split_size_or_sections, "split")
    if size < 0:
        raise RuntimeError(
            f"split expects split_size be non-negative, but got split_size={size}"
        )
    if size == 0:
        if n != 0:
            raise RuntimeError(
                "split_size can only be 0 if dimension size is 0, but got dimension "
                f"size of {n}"
            )
        return (a,)
    count = max(math.ceil(n / size), 1)
    return _pieces(a, axis, [min(size, n - i * size) for i in range(count)])


def chunk(input: ArrayLike, chunks: int, dim: int = 0) -> tuple[jax.Array, ...]:
    """Cut into ``chunks`` pieces of ``ceil(n / chunks)`` (fewer if they run out).

    torch counterpart: ``torch.chunk(input, chunks, dim=0)``.

    Args:
        input: array (at least 1-D).
        chunks: int > 0.
        dim: the dim to cut.

    Returns:
        A tuple of at most ``chunks`` arrays.

    Raises:
        RuntimeError: ``chunks <= 0`` or a 0-d input. IndexError: ``dim`` out of
            range.

    Example:
        >>> from jtoolkit.tensor_ops import chunk
        >>> [p.tolist() for p in chunk([0, 1, 2, 3, 4], 3)]
        [[0, 1], [2, 3], [4]]
    """
    a = arrays.to_array(input)
    chunks = checks.torch_int_arg("chunks", chunks, "chunk")
    if a.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(
            f"chunk expects `chunks` to be greater than 0, got: {chunks}"
        )
    n = a.shape[checks.wrap_dim(dim, a.ndim)]
    if n == 0:
        return (a,) * chunks  # torch: every chunk of an empty dim is empty
    return split(a, math.ceil(n / chunks), dim)
