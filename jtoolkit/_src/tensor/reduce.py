"""Reductions with torch's signatures and dtypes: sum, mean, std, var, max, min, ...

``dim`` is None (all dims), an int or a tuple/list of ints; a repeated dim raises
torch's RuntimeError. ``sum`` of integers or bools gives the default int; ``mean``,
``std`` and ``var`` refuse integers, as torch. ``max(x, dim)`` / ``min(x, dim)``
return a ``(values, indices)`` named tuple whose gradient goes to the returned
index; the full reductions ``max(x)`` / ``min(x)`` split the gradient evenly among
ties (torch's ``amax`` rule).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core import arrays, checks, dtypes
from jtoolkit._src.core.eager_jit import eager_jit

__all__ = [
    "ValuesIndices",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "max",
    "mean",
    "min",
    "reduce_dims",
    "std",
    "sum",
    "var",
]


class ValuesIndices(NamedTuple):
    """torch's ``return_types.max``/``min``: ``values`` and ``indices`` (a pytree)."""

    values: jax.Array
    indices: jax.Array


def reduce_dims(dim: Any, ndim: int) -> tuple[int, ...] | None:
    """``dim`` (None, int or sequence) as sorted wrapped axes; None means all."""
    if dim is None:
        return None
    dims = tuple(dim) if isinstance(dim, Sequence) else (dim,)
    wrapped = [checks.wrap_dim(d, ndim) for d in dims]
    for d in wrapped:
        if wrapped.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    if ndim == 0:
        return ()
    return tuple(sorted(wrapped)) if dims else None


@eager_jit(operands=("input",))
def sum(
    input: ArrayLike, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> jax.Array:
    """Sum over ``dim`` (all dims by default).

    torch counterpart: ``torch.sum(input, dim=None, keepdim=False, dtype=None)``;
    integer and bool inputs sum in the default int (int32 without
    ``jax_enable_x64``; torch: int64).

    Args:
        input: array-like.
        dim: None, an int or a tuple/list of ints.
        keepdim: keep reduced dims with size 1.
        dtype: accumulate and return in this dtype.

    Returns:
        The sums.

    Raises:
        IndexError: a dim out of range. RuntimeError: a dim repeated.

    Example:
        >>> from jtoolkit.tensor_ops import sum
        >>> sum([[1, 2], [3, 4]]).tolist(), sum([[1, 2], [3, 4]], 0).tolist()
        (10, [4, 6])
        >>> sum([True, True, False]).dtype
        dtype('int32')
    """
    x = arrays.to_array(input)
    axes = reduce_dims(dim, x.ndim)
    out_dtype = dtypes.resolve_dtype(dtype)
    if out_dtype is None and dtypes.is_integral(x.dtype):
        out_dtype = dtypes.default_int()
    if out_dtype is not None:
        x = x.astype(out_dtype)
    return jnp.sum(x, axis=axes, keepdims=keepdim)


def _float_only(x: jax.Array, dtype: Any, fname: str) -> jax.Array:
    dtype = dtypes.resolve_dtype(dtype)
    if dtype is not None:
        x = x.astype(dtype)
    if not dtypes.is_float(x.dtype):
        raise RuntimeError(
            f"{fname}(): could not infer output dtype. Input dtype must be either a "
            "floating point or complex dtype. Got: "
            f"{dtypes.scalar_name(x.dtype)}"
        )
    return x


@eager_jit(operands=("input",))
def mean(
    input: ArrayLike, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> jax.Array:
    """Mean over ``dim`` (all dims by default).

    torch counterpart: ``torch.mean(input, dim=None, keepdim=False, dtype=None)``.

    Args:
        input: a floating array (or any array with a floating ``dtype``).
        dim: None, an int or a tuple/list of ints.
        keepdim: keep reduced dims with size 1.
        dtype: cast to this dtype first.

    Returns:
        The means (nan for an empty reduction, as torch).

    Raises:
        RuntimeError: integer or bool input ("mean(): could not infer output
            dtype..."), or a repeated dim. IndexError: a dim out of range.

    Example:
        >>> from jtoolkit.tensor_ops import mean
        >>> mean([[1.0, 2.0], [3.0, 5.0]], dim=1).tolist()
        [1.5, 4.0]
    """
    x = _float_only(arrays.to_array(input), dtype, "mean")
    return jnp.mean(x, axis=reduce_dims(dim, x.ndim), keepdims=keepdim)


def _correction(dim: Any, unbiased: Any, correction: Any) -> tuple[Any, float]:
    """torch's overloads: ``var(x, unbiased)``, ``var(x, dim, unbiased)``, ..."""
    if isinstance(dim, bool):
        if unbiased is not None:
            raise TypeError("var(): unbiased given twice (as dim and as unbiased)")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(
            "var(): pass either unbiased or correction, not both (torch's overloads "
            "take one of them)"
        )
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, float(correction)


@eager_jit(operands=("input",))
def var(
    input: ArrayLike,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> jax.Array:
    """Variance over ``dim``: ``sum((x - mean)**2) / max(N - correction, 0)``.

    torch counterpart: ``torch.var(input, dim=None, *, correction=1,
    keepdim=False)`` and the older ``torch.var(input, dim, unbiased, keepdim)``
    (``unbiased=False`` is ``correction=0``); ``var(x, False)`` works as in torch.

    Args:
        input: a floating array.
        dim: None, an int or a tuple/list of ints (or a bool: ``unbiased``).
        unbiased: True (default) for Bessel's correction, False for none.
        keepdim: keep reduced dims with size 1.
        correction: subtracted from N in the divisor (default 1).

    Returns:
        The variances (inf/nan where ``N <= correction``, as torch).

    Raises:
        RuntimeError: integer input ("std and var only support floating point and
            complex dtypes"), or a repeated dim. IndexError: a dim out of range.
        TypeError: both ``unbiased`` and ``correction``.

    Example:
        >>> from jtoolkit.tensor_ops import var
        >>> var([1.0, 2.0, 3.0, 4.0]).item(), var([1.0, 2.0, 3.0, 4.0], False).item()
        (1.6666666269302368, 1.25)
    """
    x = arrays.to_array(input)
    dim, corr = _correction(dim, unbiased, correction)
    if not dtypes.is_float(x.dtype):
        raise RuntimeError("std and var only support floating point and complex dtypes")
    axes = reduce_dims(dim, x.ndim)
    count = x.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
    centered = x - jnp.mean(x, axis=axes, keepdims=True)
    squares = jnp.sum(
        jnp.real(centered * jnp.conj(centered)), axis=axes, keepdims=keepdim
    )
    return squares / builtins.max(count - corr, 0.0)


@eager_jit(operands=("input",))
def std(
    input: ArrayLike,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> jax.Array:
    """Standard deviation: the square root of :func:`var` (same arguments).

    torch counterpart: ``torch.std(input, dim=None, *, correction=1,
    keepdim=False)`` and ``torch.std(input, dim, unbiased, keepdim)``.

    Args:
        input, dim, unbiased, keepdim, correction: as :func:`var`.

    Returns:
        The standard deviations.

    Raises:
        As :func:`var`.

    Example:
        >>> from jtoolkit.tensor_ops import std
        >>> round(std([1.0, 2.0, 3.0, 4.0], correction=0).item(), 6)
        1.118034
    """
    return jnp.sqrt(var(input, dim, unbiased, keepdim, correction=correction))


def _arg_reduce(x: jax.Array, dim: Any, keepdim: bool, fname: str, find) -> jax.Array:
    if dim is None:
        if x.size == 0:
            raise IndexError(
                f"{fname}(): Expected reduction dim to be specified for "
                "input.numel() == 0."
            )
        out = find(x.reshape(-1), axis=0)
        return out.reshape((1,) * x.ndim) if keepdim else out
    axis = checks.wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        return jnp.zeros((), dtypes.default_int())
    if x.shape[axis] == 0:
        raise IndexError(
            f"{fname}(): Expected reduction dim {dim} to have non-zero size."
        )
    return find(x, axis=axis, keepdims=keepdim)


def _no_bool(x: jax.Array, fname: str) -> jax.Array:
    if x.dtype == np.bool_:
        raise RuntimeError(f"{fname}(): does not support bool input")
    return x


def _arg_index(input, dim, keepdim, fname, find) -> jax.Array:
    """argmax/argmin: no bool, torch's dim rules, the default int dtype."""
    x = _no_bool(arrays.to_array(input), fname)
    return _arg_reduce(x, dim, keepdim, fname, find).astype(dtypes.default_int())


@eager_jit(operands=("input",))
def argmax(
    input: ArrayLike, dim: int | None = None, keepdim: bool = False
) -> jax.Array:
    """Index of the largest value (of the flattened array when ``dim`` is None).

    torch counterpart: ``torch.argmax(input, dim=None, keepdim=False)``; the first
    maximum wins ties and NaN counts as the maximum, as torch on CPU.

    Args:
        input: array-like (not bool).
        dim: None or an int.
        keepdim: keep the reduced dim with size 1.

    Returns:
        Indices in the default int dtype.

    Raises:
        IndexError: ``dim`` out of range, or an empty reduction.
        RuntimeError: bool input, as torch.

    Example:
        >>> from jtoolkit.tensor_ops import argmax
        >>> x = [[1, 9, 3], [7, 2, 7]]
        >>> argmax(x).item(), argmax(x, 1).tolist()
        (1, [1, 0])
    """
    return _arg_index(input, dim, keepdim, "argmax", jnp.argmax)


@eager_jit(operands=("input",))
def argmin(
    input: ArrayLike, dim: int | None = None, keepdim: bool = False
) -> jax.Array:
    """Index of the smallest value (of the flattened array when ``dim`` is None).

    torch counterpart: ``torch.argmin(input, dim=None, keepdim=False)``.

    Args:
        input, dim, keepdim: as :func:`argmax`.

    Returns:
        Indices in the default int dtype; raises as :func:`argmax`.

    Example:
        >>> from jtoolkit.tensor_ops import argmin
        >>> argmin([[4, 1], [0, 5]], dim=0).tolist()
        [1, 0]
    """
    return _arg_index(input, dim, keepdim, "argmin", jnp.argmin)


def _extreme(input, dim, keepdim, fname, full, find, pairwise):
    x = arrays.to_array(input)
    if dim is None:
        if x.size == 0:
            raise RuntimeError(
                f"{fname}(): Expected reduction dim to be specified for input.numel() "
                "== 0. Specify the reduction dim with the 'dim' argument."
            )
        return full(x)
    if isinstance(dim, jax.Array | np.ndarray) and not isinstance(dim, np.integer):
        return pairwise(*_pair(x, dim))
    index = _arg_reduce(x, dim, True, fname, find)
    if x.ndim == 0:
        return ValuesIndices(x, index)
    axis = checks.wrap_dim(dim, x.ndim)
    values = jnp.take_along_axis(x, index, axis=axis)
    index = index.astype(dtypes.default_int())
    if not keepdim:
        values, index = jnp.squeeze(values, axis), jnp.squeeze(index, axis)
    return ValuesIndices(values, index)


def _pair(x: jax.Array, other: Any) -> tuple[jax.Array, jax.Array]:
    """``max(x, other)``: two arrays broadcast to torch's promoted dtype."""
    other = arrays.to_array(other)
    checks.check_broadcast(x.shape, other.shape)
    dtype = dtypes.result_dtype(x, other)
    return x.astype(dtype), other.astype(dtype)


@eager_jit(operands=("input",))
def max(
    input: ArrayLike, dim: Any = None, keepdim: bool = False
) -> jax.Array | ValuesIndices:
    """The largest value, or ``(values, indices)`` along ``dim``.

    torch counterpart: ``torch.max(input)`` (a 0-d array), ``torch.max(input, dim,
    keepdim=False)`` (a :class:`ValuesIndices` named tuple, indices in the default
    int dtype, the first maximum on ties) and ``torch.max(input, other)``
    (element-wise maximum, when ``dim`` is an array). NaN propagates.

    Args:
        input: array-like.
        dim: None, an int, or an array (``other``).
        keepdim: keep the reduced dim with size 1.

    Returns:
        A 0-d array, a ``ValuesIndices(values, indices)``, or the element-wise
        maximum. Gradients: evenly split among ties for ``max(x)``, to the returned
        index for ``max(x, dim)``, as torch.

    Raises:
        IndexError: ``dim`` out of range. RuntimeError: ``max(x)`` of an empty array.

    Example:
        >>> from jtoolkit.tensor_ops import max
        >>> max([[1, 5], [7, 2]]).item()
        7
        >>> values, indices = max([[1, 5], [7, 2]], dim=1)
        >>> values.tolist(), indices.tolist()
        ([5, 7], [1, 0])
    """
    return _extreme(input, dim, keepdim, "max", jnp.max, jnp.argmax, jnp.maximum)


@eager_jit(operands=("input",))
def min(
    input: ArrayLike, dim: Any = None, keepdim: bool = False
) -> jax.Array | ValuesIndices:
    """The smallest value, or ``(values, indices)`` along ``dim``.

    torch counterpart: ``torch.min(input)``, ``torch.min(input, dim,
    keepdim=False)`` and ``torch.min(input, other)``; as :func:`max`.

    Args:
        input: array-like.
        dim: None, an int, or an array (``other``).
        keepdim: keep the reduced dim with size 1.

    Returns:
        A 0-d array, a ``ValuesIndices(values, indices)``, or the element-wise
        minimum.

    Raises:
        As :func:`max`.

    Example:
        >>> from jtoolkit.tensor_ops import min
        >>> min([[1, 5], [7, 2]], 0).values.tolist()
        [1, 2]
    """
    return _extreme(input, dim, keepdim, "min", jnp.min, jnp.argmin, jnp.minimum)


def _amax_amin(input: ArrayLike, dim: Any, keepdim: bool, fname: str, full):
    x = arrays.to_array(input)
    axes = reduce_dims(dim, x.ndim)
    reduced = range(x.ndim) if axes is None else axes
    for d in reduced:
        if x.shape[d] == 0:
            raise IndexError(
                f"{fname}(): Expected reduction dim {d} to have non-zero size."
            )
    return full(x, axis=axes, keepdims=keepdim)


@eager_jit(operands=("input",))
def amax(input: ArrayLike, dim: Any = None, keepdim: bool = False) -> jax.Array:
    """The largest values over ``dim`` (all dims when None or ``()``).

    torch counterpart: ``torch.amax(input, dim=(), keepdim=False)``: values only,
    NaN propagates, and the gradient is split evenly among the tied maxima
    (where ``max(x, dim)`` sends it to one index).

    Args:
        input: array-like. dim: None, an int or a sequence of ints.
        keepdim: keep the reduced dims with size 1.

    Returns:
        Array of ``input``'s dtype.

    Raises:
        IndexError: ``dim`` out of range, or a reduced dim of size 0 (torch's).
        RuntimeError: a repeated dim.

    Example:
        >>> from jtoolkit.tensor_ops import amax
        >>> amax([[1, 5], [7, 2]], 1).tolist()
        [5, 7]
        >>> x = jnp.array([3.0, 3.0, 1.0])
        >>> jax.grad(lambda v: amax(v, 0))(x).tolist()
        [0.5, 0.5, 0.0]
    """
    return _amax_amin(input, dim, keepdim, "amax", jnp.max)


@eager_jit(operands=("input",))
def amin(input: ArrayLike, dim: Any = None, keepdim: bool = False) -> jax.Array:
    """The smallest values over ``dim``; as :func:`amax`.

    torch counterpart: ``torch.amin(input, dim=(), keepdim=False)``.

    Args:
        input: array-like. dim: None, an int or a sequence of ints.
        keepdim: keep the reduced dims with size 1.

    Returns:
        Array of ``input``'s dtype.

    Raises:
        As :func:`amax`.

    Example:
        >>> from jtoolkit.tensor_ops import amin
        >>> amin([[1, 5], [7, 2]], (0, 1)).item()
        1
    """
    return _amax_amin(input, dim, keepdim, "amin", jnp.min)
