"""Shape ops with torch's dim rules and error texts: stack, cat, view, split, ...

JAX has no views: ``view`` and ``transpose`` return new arrays (``view`` is a
C-order reshape, the element order of torch's ``reshape``), so torch's
"view size is not compatible with input tensor's size and stride" cannot happen.

Ops of several primitives (stack, cat, diag, diag_embed, repeat, split, chunk) run
as one program per eager call (``eager_jit``); one-primitive ops (view, reshape,
flatten, squeeze, unsqueeze, transpose, permute) are one program anyway, and
eagerly they share it with each other.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core import arrays, checks
from jtoolkit._src.core.eager_jit import eager_jit
from jtoolkit._src.tensor.reduce import reduce_dims

__all__ = [
    "cat",
    "chunk",
    "diag",
    "diag_embed",
    "flatten",
    "permute",
    "repeat",
    "reshape",
    "split",
    "squeeze",
    "stack",
    "transpose",
    "unsqueeze",
    "view",
]


def _sequence(tensors: Any, name: str) -> list[jax.Array]:
    if isinstance(tensors, jax.Array | np.ndarray) or not isinstance(tensors, Sequence):
        raise TypeError(
            f"{name}(): argument 'tensors' must be a list or tuple of arrays, not "
            f"{type(tensors).__name__}; write {name}((a, b), dim=...)"
        )
    return [arrays.to_array(t) for t in tensors]


@eager_jit(operands=("tensors",))
def stack(tensors: Sequence[ArrayLike], dim: int = 0) -> jax.Array:
    """Join equally shaped arrays along a new dimension.

    torch counterpart: ``torch.stack(tensors, dim=0)``.

    Args:
        tensors: a list/tuple of arrays of one shape (dtypes are promoted).
        dim: position of the new dimension, in ``[-(ndim + 1), ndim]``.

    Returns:
        Array of shape ``shape[:dim] + (len(tensors),) + shape[dim:]``.

    Raises:
        RuntimeError: an empty list, or unequal shapes ("stack expects each tensor to
            be equal size, but got [2, 3] at entry 0 and [3, 2] at entry 1").
        IndexError: ``dim`` out of range.

    Example:
        >>> from jtoolkit.tensor_ops import stack
        >>> stack(([[1, 2], [3, 4]], [[5, 6], [7, 8]]), dim=1).tolist()
        [[[1, 2], [5, 6]], [[3, 4], [7, 8]]]
    """
    arrays = _sequence(tensors, "stack")
    if not arrays:
        raise RuntimeError("stack expects a non-empty TensorList")
    first = arrays[0].shape
    axis = checks.wrap_dim(dim, len(first) + 1)  # torch checks the dim first
    for i, a in enumerate(arrays[1:], start=1):
        if a.shape != first:
            raise RuntimeError(
                "stack expects each tensor to be equal size, but got "
                f"{checks.shape_str(first)} at entry 0 and "
                f"{checks.shape_str(a.shape)} at entry {i}"
            )
    return jnp.stack(arrays, axis=axis)


def _check_cat_shapes(arrays: list[jax.Array], axis: int) -> None:
    first = arrays[0]
    for i, a in enumerate(arrays[1:], start=1):
        if a.ndim != first.ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {first.ndim} "
                f"and {a.ndim}"
            )
        for d, (m, n) in enumerate(zip(first.shape, a.shape, strict=True)):
            if d != axis and m != n:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {axis}. "
                    f"Expected size {m} but got size {n} for tensor number {i} in "
                    "the list."
                )


@eager_jit(operands=("tensors",))
def cat(tensors: Sequence[ArrayLike], dim: int = 0) -> jax.Array:
    """Join arrays along an existing dimension.

    torch counterpart: ``torch.cat(tensors, dim=0)``. As torch, 1-D empty arrays
    (shape ``(0,)``) are skipped when joined with others (they still take part in
    dtype promotion).

    Args:
        tensors: a list/tuple of arrays equal in every dimension but ``dim``.
        dim: the dimension to join along, in ``[-ndim, ndim - 1]``.

    Returns:
        The joined array.

    Raises:
        ValueError: an empty list.
        RuntimeError: 0-d inputs, different ranks, or sizes that differ outside
            ``dim`` ("Sizes of tensors must match except in dimension 0. Expected
            size 3 but got size 2 for tensor number 1 in the list.").
        IndexError: ``dim`` out of range.

    Example:
        >>> from jtoolkit.tensor_ops import cat
        >>> a, b = [[1, 2]], [[3, 4]]
        >>> cat((a, b), dim=0).shape, cat((a, b), dim=1).shape
        ((2, 2), (1, 4))
    """
    arrays = _sequence(tensors, "cat")
    if not arrays:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            raise RuntimeError(
                f"zero-dimensional tensor (at position {i}) cannot be concatenated"
            )
    dtype = jnp.result_type(*arrays)
    kept = [a for a in arrays if a.shape != (0,)] or arrays[:1]
    axis = checks.wrap_dim(dim, kept[0].ndim)
    _check_cat_shapes(kept, axis)
    return jnp.concatenate([a.astype(dtype) for a in kept], axis=axis)


@eager_jit(operands=("a",))
def diag(a: ArrayLike, diagonal: int = 0) -> jax.Array:
    """Build a diagonal matrix from a vector, or take a diagonal of a matrix.

    torch counterpart: ``torch.diag(input, diagonal=0)``.

    Args:
        a: ``[n]`` vector or ``[n, m]`` matrix.
        diagonal: offset (> 0 above the main diagonal, < 0 below).

    Returns:
        ``[n + |k|, n + |k|]`` matrix for a vector, the ``k``-th diagonal for a
        matrix.

    Raises:
        RuntimeError: input that is not 1-D or 2-D.

    Example:
        >>> from jtoolkit.tensor_ops import diag
        >>> diag([1, 2]).tolist(), diag([[0, 1, 2], [3, 4, 5], [6, 7, 8]], -1).tolist()
        ([[1, 0], [0, 2]], [3, 7])
    """
    a = arrays.to_array(a)
    if a.ndim not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {a.ndim}D")
    return jnp.diag(a, k=checks.torch_int_arg("diagonal", diagonal, "diag"))


@eager_jit(operands=("a",))
def diag_embed(
    a: ArrayLike, offset: int = 0, dim1: int = -2, dim2: int = -1
) -> jax.Array:
    """Put the last dimension of ``a`` on the diagonal of new matrices (batched).

    torch counterpart: ``torch.diag_embed(input, offset=0, dim1=-2, dim2=-1)``.

    Args:
        a: ``[..., n]`` array.
        offset: which diagonal (> 0 above the main one).
        dim1, dim2: output dims that hold the matrices (of the ``ndim + 1`` dims).

    Returns:
        ``[..., n + |offset|, n + |offset|]`` array (matrix dims at dim1, dim2).

    Raises:
        IndexError: dims out of range. RuntimeError: ``dim1 == dim2``.

    Example:
        >>> from jtoolkit.tensor_ops import diag_embed
        >>> diag_embed([[1, 2], [3, 4]]).tolist()
        [[[1, 0], [0, 2]], [[3, 0], [0, 4]]]
    """
    a = arrays.to_array(a)
    out_ndim = a.ndim + 1
    d1, d2 = checks.wrap_dim(dim1, out_ndim), checks.wrap_dim(dim2, out_ndim)
    if a.ndim == 0:
        raise IndexError(
            "Dimension out of range (expected to be in range of [-1, 0], but got "
            f"{dim1})"
        )
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    offset = checks.torch_int_arg("offset", offset, "diag_embed")
    n = a.shape[-1]
    size = n + abs(offset)
    rows = jnp.arange(n) + max(-offset, 0)
    cols = jnp.arange(n) + max(offset, 0)
    out = jnp.zeros((*a.shape[:-1], size, size), a.dtype).at[..., rows, cols].set(a)
    return jnp.moveaxis(out, (-2, -1), (d1, d2))


def unsqueeze(a: ArrayLike, dim: int) -> jax.Array:
    """Insert a dimension of size 1.

    torch counterpart: ``torch.unsqueeze(input, dim)``.

    Args:
        a: array.
        dim: position of the new dim, in ``[-(ndim + 1), ndim]``.

    Returns:
        Array with one more dimension.

    Raises:
        IndexError: ``dim`` out of range.

    Example:
        >>> from jtoolkit.tensor_ops import unsqueeze
        >>> unsqueeze([1, 2, 3], 0).shape, unsqueeze([1, 2, 3], -1).shape
        ((1, 3), (3, 1))
    """
    a = arrays.to_array(a)
    return jnp.expand_dims(a, checks.wrap_dim(dim, a.ndim + 1))


def squeeze(a: ArrayLike, dim: int | Sequence[int] | None = None) -> jax.Array:
    """Drop dimensions of size 1 (all of them, or those named in ``dim``).

    torch counterpart: ``torch.squeeze(input, dim=None)``; a named dim whose size
    is not 1 is left alone, as torch.

    Args:
        a: array.
        dim: None, an int or a tuple of ints.

    Returns:
        The squeezed array.

    Raises:
        IndexError: a dim out of range. RuntimeError: a dim named twice ("dim 0
            appears multiple times in the list of dims").

    Example:
        >>> from jtoolkit.tensor_ops import squeeze
        >>> squeeze(jnp.zeros((1, 3, 1))).shape, squeeze(jnp.zeros((1, 3, 1)), 1).shape
        ((3,), (1, 3, 1))
    """
    a = arrays.to_array(a)
    named = range(a.ndim) if dim is None else reduce_dims(dim, a.ndim) or ()
    return jnp.squeeze(a, axis=tuple(d for d in named if a.shape[d] == 1))


def transpose(a: ArrayLike, dim0: int, dim1: int) -> jax.Array:
    """Swap two dimensions.

    torch counterpart: ``torch.transpose(input, dim0, dim1)`` (a copy here: JAX has
    no views).

    Args:
        a: array.
        dim0, dim1: the dims to swap.

    Returns:
        The transposed array.

    Raises:
        IndexError: a dim out of range.

    Example:
        >>> from jtoolkit.tensor_ops import transpose
        >>> transpose([[0, 1, 2], [3, 4, 5]], 0, 1).tolist()
        [[0, 3], [1, 4], [2, 5]]
    """
    a = arrays.to_array(a)
    if a.ndim == 0:
        checks.wrap_dim(dim0, 0), checks.wrap_dim(dim1, 0)
        return a
    return jnp.swapaxes(a, checks.wrap_dim(dim0, a.ndim), checks.wrap_dim(dim1, a.ndim))


def _view_shape(
    shape: tuple[Any, ...], numel: int, fname: str = "view"
) -> tuple[int, ...]:
    """Resolve a torch view shape (one -1 allowed) against ``numel`` elements."""
    if not shape:
        raise TypeError(
            f"{fname}() needs a shape: write {fname}(a, 2, 3) or {fname}(a, (2, 3))"
        )
    if len(shape) == 1 and isinstance(shape[0], Sequence):
        shape = tuple(shape[0])
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, int | np.integer):
            raise TypeError(
                f"{fname}(): shape must be ints, but got {type(d).__name__} in {shape}"
            )
    shape = tuple(int(d) for d in shape)
    text = checks.shape_str(shape)
    for i, d in enumerate(shape):
        if d < -1:
            raise RuntimeError(
                f"invalid shape dimension {d} at index {i} of shape {text}"
            )
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(d for d in shape if d != -1)
    if -1 in shape:
        if known == 0 and numel == 0:
            raise RuntimeError(
                f"cannot reshape tensor of 0 elements into shape {text} because the "
                "unspecified dimension size -1 can be any value and is ambiguous"
            )
        if known and numel % known == 0:
            return tuple(numel // known if d == -1 else d for d in shape)
    elif known == numel:
        return shape
    raise RuntimeError(f"shape '{text}' is invalid for input of size {numel}")


def view(a: ArrayLike, *shape: Any) -> jax.Array:
    """Reshape (C order) with torch's shape rules; one size may be -1.

    torch counterpart: ``tensor.view(*shape)``. JAX has no views, so this is a
    reshape that never fails for strides (torch's ``view`` of a transposed tensor
    raises; ``reshape`` gives these values).

    Args:
        a: array.
        *shape: ints, or one tuple/list of ints.

    Returns:
        The reshaped array.

    Raises:
        RuntimeError: a shape that does not fit ("shape '[4]' is invalid for input of
            size 6"), two -1s, or a size below -1.

    Example:
        >>> from jtoolkit.tensor_ops import view
        >>> view(jnp.arange(6), 2, -1).shape, view(jnp.arange(6), (3, 2)).shape
        ((2, 3), (3, 2))
    """
    a = arrays.to_array(a)
    return jnp.reshape(a, _view_shape(shape, a.size))


def reshape(input: ArrayLike, *shape: Any) -> jax.Array:
    """Reshape (C order) with torch's shape rules; one size may be -1.

    torch counterpart: ``torch.reshape(input, shape)`` (``reshape(a, 2, 3)`` also
    works, as the tensor method).

    Args:
        input: array.
        *shape: one tuple/list of ints, or ints.

    Returns:
        The reshaped array; raises as :func:`view`.

    Example:
        >>> from jtoolkit.tensor_ops import reshape
        >>> reshape(jnp.arange(6), (3, -1)).shape
        (3, 2)
    """
    a = arrays.to_array(input)
    return jnp.reshape(a, _view_shape(shape, a.size, "reshape"))


def flatten(input: ArrayLike, start_dim: int = 0, end_dim: int = -1) -> jax.Array:
    """Merge dims ``start_dim..end_dim`` into one, in row-major (C) order.

    torch counterpart: ``torch.flatten(input, start_dim=0, end_dim=-1)``; a 0-d
    input gives shape ``(1,)``. No layout conversion: the element order is the
    order of the array given.

    Args:
        input: array.
        start_dim, end_dim: the first and last dims to merge.

    Returns:
        The flattened array.

    Raises:
        IndexError: a dim out of range. RuntimeError: ``start_dim`` after
            ``end_dim``.

    Example:
        >>> from jtoolkit.tensor_ops import flatten
        >>> flatten(jnp.zeros((2, 3, 4)), 1).shape
        (2, 12)
    """
    a = arrays.to_array(input)
    start = checks.wrap_dim(start_dim, a.ndim)
    end = checks.wrap_dim(end_dim, a.ndim)
    if start > end:
        raise RuntimeError(
            "flatten() has invalid args: start_dim cannot come after end_dim"
        )
    if a.ndim == 0:
        return a.reshape(1)
    merged = math.prod(a.shape[start : end + 1])
    return a.reshape(*a.shape[:start], merged, *a.shape[end + 1 :])


def _int_args(args: tuple[Any, ...], fname: str, name: str) -> tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], Sequence):
        args = tuple(args[0])
    return tuple(checks.torch_int_arg(name, d, fname) for d in args)


def permute(input: ArrayLike, *dims: Any) -> jax.Array:
    """Reorder the dims: output dim ``i`` is input dim ``dims[i]``.

    torch counterpart: ``torch.permute(input, dims)`` (``permute(a, 1, 0)`` also
    works, as the tensor method).

    Args:
        input: array.
        *dims: a permutation of the dims (one tuple/list, or ints; negative ok).

    Returns:
        The permuted array (a copy).

    Raises:
        RuntimeError: the wrong number of dims, or a repeated dim. IndexError: a
            dim out of range.

    Example:
        >>> from jtoolkit.tensor_ops import permute
        >>> permute(jnp.zeros((2, 3, 4)), (2, 0, 1)).shape
        (4, 2, 3)
    """
    a = arrays.to_array(input)
    order = _int_args(dims, "permute", "dims")
    if len(order) != a.ndim:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not "
            "match the length of the desired ordering of dimensions i.e. input.dim()"
            f" = {a.ndim} is not equal to len(dims) = {len(order)}"
        )
    axes = [checks.wrap_dim(d, a.ndim) for d in order]
    if len(set(axes)) != len(axes):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return jnp.transpose(a, axes)


@eager_jit(operands=("input",))
def repeat(input: ArrayLike, *sizes: Any) -> jax.Array:
    """Tile the array ``sizes[i]`` times along dim ``i`` (new leading dims allowed).

    torch counterpart: ``Tensor.repeat(*sizes)`` (``x.repeat(2, 3)``; numpy's
    ``tile``, not ``repeat_interleave``).

    Args:
        input: array.
        *sizes: ints or one tuple/list, at least ``ndim`` of them.

    Returns:
        Array of shape ``[s * d for s, d in zip(sizes, padded_shape)]``.

    Raises:
        RuntimeError: fewer sizes than dims, or a negative size.

    Example:
        >>> from jtoolkit.tensor_ops import repeat
        >>> repeat([1, 2], 2).tolist(), repeat([1, 2], 2, 1).tolist()
        ([1, 2, 1, 2], [[1, 2], [1, 2]])
    """
    a = arrays.to_array(input)
    reps = _int_args(sizes, "repeat", "repeats")
    if len(reps) < a.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of "
            "dimensions of tensor"
        )
    if any(r < 0 for r in reps):
        raise RuntimeError(
            f"Trying to create tensor with negative dimension {min(reps)}: "
            f"{checks.shape_str(reps)}"
        )
    return jnp.tile(a, reps)


def _pieces(a: jax.Array, axis: int, sizes: Sequence[int]) -> tuple[jax.Array, ...]:
    bounds = np.cumsum([0, *sizes])
    index = [slice(None)] * a.ndim
    out = []
    for lo, hi in itertools.pairwise(bounds):
        index[axis] = slice(int(lo), int(hi))
        out.append(a[tuple(index)])
    return tuple(out)


@eager_jit(operands=("tensor",))
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


@eager_jit(operands=("input",))
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
