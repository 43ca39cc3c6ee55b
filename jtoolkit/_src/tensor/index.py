"""Indexing with torch's checks: ``gather``, ``where`` and ``index_put``.

JAX clamps or drops out-of-bounds indices silently (``jnp.arange(3)[5]`` is 2);
torch raises. Concrete indices are checked here first (``gather``'s RuntimeError,
``index_put``'s IndexError), so a bad index never turns into a silently wrong array.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core import arrays, checks, dtypes
from jtoolkit._src.core.eager_jit import check_values, eager_jit, python_scalar

__all__ = ["gather", "index_put", "where"]


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(x.shape) if hasattr(x, "shape") else ()


@eager_jit(operands=("condition", "input", "other"))
def where(
    condition: ArrayLike, input: ArrayLike | None = None, other: ArrayLike | None = None
) -> jax.Array | tuple[jax.Array, ...]:
    """``input`` where ``condition`` holds, else ``other`` (broadcast).

    torch counterpart: ``torch.where(condition, input, other)``; a Python number
    takes the other operand's dtype category, as torch. ``where(condition)`` alone
    is ``nonzero(condition, as_tuple=True)`` (needs a concrete condition).

    Args:
        condition: a bool array.
        input, other: arrays or Python numbers.

    Returns:
        The selected values in torch's promoted dtype (a tuple of index arrays for
        the one-argument form).

    Raises:
        RuntimeError: a non-bool condition ("where expected condition to be a
            boolean tensor, but got a tensor with dtype Float") or shapes that do
            not broadcast. TypeError: only one of ``input``/``other``.

    Example:
        >>> from jtoolkit.tensor_ops import where
        >>> cond = jnp.array([True, False, True])
        >>> where(cond, jnp.array([1.0, 2.0, 3.0]), 0).tolist()
        [1.0, 0.0, 3.0]
    """
    cond = arrays.to_array(condition)
    if cond.dtype != np.bool_:
        raise RuntimeError(
            "where expected condition to be a boolean tensor, but got a tensor with "
            f"dtype {dtypes.scalar_name(cond.dtype)}"
        )
    if input is None and other is None:
        checks.ensure_concrete(cond, "where(condition)")
        return tuple(
            jnp.asarray(i, dtypes.default_int())
            for i in np.nonzero(np.atleast_1d(np.asarray(cond)))  # 0-d: as 1-d, torch
        )
    if input is None or other is None:
        raise TypeError("where() takes condition, input and other (or condition only)")
    a, b = arrays.as_operand(input), arrays.as_operand(other)
    if python_scalar(a) and python_scalar(b):
        a = arrays.to_array(a)
    for s in (_shape(a), _shape(b)):
        checks.check_broadcast(cond.shape, s)
    checks.check_broadcast(_shape(a), _shape(b))
    dtype = dtypes.result_dtype(a, b)
    return jnp.where(cond, arrays.operand_as(a, dtype), arrays.operand_as(b, dtype))


def _check_gather(x: jax.Array, axis: int, index: jax.Array) -> None:
    if not dtypes.is_integral(index.dtype, include_bool=False):
        raise RuntimeError(
            "gather(): Expected dtype int64 for index (got "
            f"{dtypes.scalar_name(index.dtype)})"
        )
    if index.ndim != x.ndim and not (x.ndim <= 1 and index.ndim <= 1):
        raise RuntimeError(
            "Index tensor must have the same number of dimensions as input tensor"
        )
    for d in range(index.ndim if index.size else 0):  # torch: empty index, no check
        if d != axis and index.shape[d] > x.shape[d]:
            raise RuntimeError(
                f"Size does not match at dimension {d} expected index "
                f"{checks.shape_str(index.shape)} to be no larger than self "
                f"{checks.shape_str(x.shape)} apart from dimension {axis}"
            )
    if index.size:
        n = x.shape[axis] if x.ndim else 1
        check_values(index, functools.partial(_check_gather_range, axis=axis, n=n))


def _check_gather_range(host: np.ndarray, axis: int, n: int) -> None:
    bad = host[(host < 0) | (host >= n)]
    if bad.size:
        raise RuntimeError(
            f"index {int(bad.flat[0])} is out of bounds for dimension {axis} "
            f"with size {n}"
        )


@eager_jit(operands=("input", "index"))
def gather(input: ArrayLike, dim: int, index: ArrayLike) -> jax.Array:
    """``out[i][j] = input[index[i][j]][j]`` (for ``dim=0``; likewise for others).

    torch counterpart: ``torch.gather(input, dim, index)``. ``index`` has the
    input's rank and is no larger than it outside ``dim``; any integer dtype is
    accepted (torch insists on int64, which JAX lacks without x64). Negative
    indices are out of range, as torch.

    Args:
        input: array.
        dim: the dim to index along.
        index: integer array.

    Returns:
        Array of ``index``'s shape, ``input``'s dtype. The gradient scatters-adds
        into ``input``, as torch.

    Raises:
        RuntimeError: a non-integer index, a rank mismatch, an index larger than
            ``input`` outside ``dim``, or (concrete indices) an index out of
            range ("index 5 is out of bounds for dimension 0 with size 2").
        IndexError: ``dim`` out of range.

    Example:
        >>> from jtoolkit.tensor_ops import gather
        >>> gather([[1, 2], [3, 4]], 1, jnp.array([[0, 0], [1, 0]])).tolist()
        [[1, 1], [4, 3]]
    """
    x, idx = arrays.to_array(input), arrays.to_array(index)
    axis = checks.wrap_dim(dim, x.ndim)
    _check_gather(x, axis, idx)
    if idx.size == 0:
        return jnp.zeros(idx.shape, x.dtype)
    if x.ndim == 0:
        return jnp.broadcast_to(x, idx.shape)
    window = tuple(
        slice(None) if d == axis else slice(0, idx.shape[d]) for d in range(x.ndim)
    )
    return jnp.take_along_axis(x[window], idx, axis=axis)


def _normalize(index: Any) -> tuple[Any, ...]:
    """A tuple index whose lists and numpy arrays are arrays (advanced indices)."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for part in parts:
        if isinstance(part, list | np.ndarray):
            part = np.asarray(part)
        if isinstance(part, np.ndarray | jax.Array) and part.ndim == 0:
            part = part.item() if not dtypes.is_tracer(part) else part
        out.append(part)
    return tuple(out)


def _consumes(part: Any) -> int:
    if part is None or part is Ellipsis:
        return 0
    if hasattr(part, "dtype") and part.dtype == np.bool_:
        return part.ndim
    return 1


def _expand_ellipsis(parts: tuple[Any, ...], ndim: int) -> tuple[Any, ...]:
    used = sum(_consumes(p) for p in parts)
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    where = [i for i, p in enumerate(parts) if p is Ellipsis]
    if not where:
        return parts
    at = where[0]
    return parts[:at] + (slice(None),) * (ndim - used) + parts[at + 1 :]


def _check_int(value: int, dim: int, n: int) -> None:
    if not -n <= value < n:
        raise IndexError(
            f"index {value} is out of bounds for dimension {dim} with size {n}"
        )


def _check_array(part: Any, dim: int, shape: tuple[int, ...]) -> None:
    if part.dtype == np.bool_:
        for j, m in enumerate(part.shape):
            if dim + j >= len(shape) or m != shape[dim + j]:
                raise IndexError(
                    f"The shape of the mask {checks.shape_str(part.shape)} at index "
                    f"{j} does not match the shape of the indexed tensor "
                    f"{checks.shape_str(shape)} at index {dim + j}"
                )
        return
    if not jnp.issubdtype(part.dtype, jnp.integer):
        raise IndexError(
            "tensors used as indices must be long, int, byte or bool tensors, got "
            f"{part.dtype}"
        )
    if part.size and not dtypes.is_tracer(part):
        host = np.asarray(part)
        low, high = int(host.min()), int(host.max())
        _check_int(low if low < -shape[dim] else high, dim, shape[dim])


def _check_bounds(parts: tuple[Any, ...], shape: tuple[int, ...]) -> None:
    """torch's IndexErrors for concrete out-of-bounds ints/arrays and bad masks."""
    dim = 0
    for part in _expand_ellipsis(parts, len(shape)):
        if isinstance(part, int | np.integer) and not isinstance(part, bool):
            _check_int(int(part), dim, shape[dim])
        elif hasattr(part, "dtype"):
            _check_array(part, dim, shape)
        dim += _consumes(part)


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def _check_value(value: jax.Array, target: tuple[int, ...]) -> None:
    if not _broadcasts_to(value.shape, target):
        raise RuntimeError(
            "shape mismatch: value tensor of shape "
            f"{checks.shape_str(value.shape)} cannot be broadcast to indexing "
            f"result of shape {checks.shape_str(target)}"
        )


def _mask_put(a: jax.Array, mask: Any, value: jax.Array, accumulate: bool) -> jax.Array:
    """``a[mask] = value`` as a ``jnp.where``: jittable for a traced mask."""
    rest = a.shape[mask.ndim :]
    value = jnp.broadcast_to(value, rest)
    mask = jnp.reshape(jnp.asarray(mask), mask.shape + (1,) * len(rest))
    return jnp.where(mask, a + value if accumulate else value, a)


@eager_jit(operands=("a", "value"))
def index_put(
    a: ArrayLike, index: Any, value: ArrayLike, accumulate: bool = False
) -> jax.Array:
    """A copy of ``a`` with ``a[index] = value`` (or ``+= value``).

    torch counterpart: ``A[index] = value`` and ``torch.index_put(input, indices,
    values, accumulate=False)`` (``index`` may be torch's tuple of index tensors or
    any numpy-style index: ints, slices, None, Ellipsis, integer or bool arrays).

    Args:
        a: array to update (not modified: JAX arrays are immutable).
        index: the index, as in ``a[index]``.
        value: number or array broadcastable to ``a[index].shape``; cast to
            ``a.dtype`` as torch does.
        accumulate: add ``value`` instead of replacing (repeated indices add up).

    Returns:
        The updated array; differentiable in ``a`` and ``value``.

    Raises:
        IndexError: a concrete index out of bounds, too many indices, or a bool mask
            whose shape does not match.
        RuntimeError: ``value`` does not broadcast to the indexed shape.

    Example:
        >>> from jtoolkit.tensor_ops import index_put
        >>> index_put(jnp.zeros((2, 3)), (-1, -1), 100.0).tolist()
        [[0.0, 0.0, 0.0], [0.0, 0.0, 100.0]]
        >>> index_put(jnp.arange(4), jnp.array([True, False, True, False]), -1).tolist()
        [-1, 1, -1, 3]
    """
    a = arrays.to_array(a)
    parts = _normalize(index)
    _check_bounds(parts, a.shape)
    value = arrays.to_array(value).astype(a.dtype)
    mask = parts[0] if len(parts) == 1 else None
    if mask is not None and hasattr(mask, "dtype") and mask.dtype == np.bool_:
        rest = a.shape[mask.ndim :]
        if value.ndim <= len(rest) and _broadcasts_to(value.shape, rest):
            return _mask_put(a, mask, value, accumulate)
    target = jax.eval_shape(lambda x: x[parts], a).shape
    _check_value(value, target)
    return a.at[parts].add(value) if accumulate else a.at[parts].set(value)
