"""Selection by condition or index: ``where`` and ``gather``, with torch's checks.

JAX clamps out-of-range gather indices silently; ``gather`` checks concrete indices
first and raises torch's RuntimeError, so a bad index never gives a wrong array.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core import arrays, checks, dtypes

__all__ = ["gather", "where"]


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(x.shape) if hasattr(x, "shape") else ()


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
    if not hasattr(a, "dtype") and not hasattr(b, "dtype"):
        a = arrays.to_array(a)
    for s in (_shape(a), _shape(b)):
        checks.check_broadcast(cond.shape, s)
    checks.check_broadcast(_shape(a), _shape(b))
    dtype = dtypes.result_dtype(a, b)
    return jnp.where(cond, jnp.asarray(a, dtype), jnp.asarray(b, dtype))


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
    if not dtypes.is_tracer(index) and index.size:
        host = np.asarray(index)
        n = x.shape[axis] if x.ndim else 1
        bad = host[(host < 0) | (host >= n)]
        if bad.size:
            raise RuntimeError(
                f"index {int(bad.flat[0])} is out of bounds for dimension {axis} "
                f"with size {n}"
            )


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
