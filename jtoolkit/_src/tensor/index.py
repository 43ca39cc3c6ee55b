"""``index_put``: functional ``A[idx] = v`` with torch's bounds and shape errors.

JAX clamps or drops out-of-bounds indices silently (``jnp.arange(3)[5]`` is 2);
torch raises IndexError. Concrete indices are checked here first, so a bad index
never turns into a silently wrong array.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core import arrays, checks, dtypes

__all__ = ["index_put"]


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
