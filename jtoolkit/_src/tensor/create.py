"""Tensor creation: ``tensor``, ``Tensor`` and its typed twins, and the factories.

``zeros, ones, full, empty, arange, linspace, eye`` and the ``*_like`` twins, with
torch's dtypes; sizes are ints or one list/tuple, as torch. The JAX differences
(int32/float32 without ``jax_enable_x64``, ``empty`` is zeros) are listed once, in
``jtoolkit.tensor_ops``' docstring, and in each function's.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core import arrays, checks, dtypes
from jtoolkit._src.tensor.device import device as _device

__all__ = [
    "BoolTensor",
    "ByteTensor",
    "CharTensor",
    "DoubleTensor",
    "FloatTensor",
    "IntTensor",
    "LongTensor",
    "ShortTensor",
    "Tensor",
    "arange",
    "empty",
    "eye",
    "from_numpy",
    "full",
    "full_like",
    "linspace",
    "ones",
    "ones_like",
    "parse_size",
    "place",
    "tensor",
    "zeros",
    "zeros_like",
]


def parse_size(size: Sequence[Any], fname: str) -> tuple[int, ...]:
    """Sizes as ints or one list/tuple, with torch's errors."""
    if len(size) == 1 and isinstance(size[0], Sequence):
        size = tuple(size[0])
    for pos, d in enumerate(size):
        if isinstance(d, bool) or not isinstance(d, int | np.integer):
            raise TypeError(
                f"{fname}(): argument 'size' must be tuple of ints, but found element "
                f"of type {type(d).__name__} at pos {pos}"
            )
    shape = tuple(int(d) for d in size)
    for d in shape:
        if d < 0:
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {d}: "
                f"{checks.shape_str(shape)}"
            )
    return shape


def place(x: jax.Array, device: Any) -> jax.Array:
    """``x`` on ``device`` (None: where it is), as torch's ``device=`` argument."""
    return x if device is None else jax.device_put(x, _device(device))


def tensor(data: Any, dtype: Any = None, device: Any = None) -> jax.Array:
    """Build an array from data, inferring the dtype by category as torch does.

    torch counterpart: ``torch.tensor(data, dtype=None, device=None)``.

    Args:
        data: a Python scalar, a nested list/tuple, a numpy array or a ``jax.Array``.
        dtype: numpy/JAX dtype, dtype name or torch dtype; inferred when None:
            bool -> bool, int -> the default int (int64 with ``jax_enable_x64``,
            else int32, where torch gives int64), float -> float32, complex ->
            complex64; numpy and JAX arrays keep their dtype where JAX can store
            it (numpy float64 is float32 without x64).
        device: anything :func:`device` accepts; None keeps JAX's default.

    Returns:
        A ``jax.Array`` with the data.

    Raises:
        ValueError: ragged nested lists ("expected sequence of length 2 at dim 1").
        TypeError: strings or other non-numeric data.
        OverflowError: integers that do not fit the dtype JAX stores (JAX would wrap).

    Example:
        >>> from jtoolkit.tensor_ops import tensor
        >>> tensor([1, 2, 3]).dtype, tensor([1.0, 2.5]).dtype, tensor([True]).dtype
        (dtype('int32'), dtype('float32'), dtype('bool'))
    """
    return place(arrays.to_array(data, dtype), device)


def _is_size(x: Any) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


def _legacy(args: tuple[Any, ...], dtype: np.dtype, device: Any) -> jax.Array:
    """torch's legacy constructor: ints are sizes, one sequence/array is data."""
    if not args:
        return place(jnp.zeros((0,), dtype), device)
    if len(args) == 1 and not _is_size(args[0]):
        if isinstance(args[0], bool | float | complex | np.generic):
            raise TypeError(
                f"new(): data must be a sequence (got {type(args[0]).__name__}); "
                "pass sizes as ints or data as a list"
            )
        return place(arrays.to_array(args[0], dtype), device)
    return place(jnp.zeros(parse_size(args, "new"), dtype), device)


def Tensor(*args: Any, device: Any = None) -> jax.Array:
    """The legacy float32 constructor: sizes give zeros, a sequence gives data.

    torch counterpart: ``torch.Tensor(*sizes)`` / ``torch.Tensor(data)``. torch
    leaves the memory of ``Tensor(2, 3)`` uninitialised; JAX has no such memory, so
    the result is zeros.

    Args:
        *args: ints (the sizes), or one list/tuple/array (the data, cast to float32).
        device: anything :func:`device` accepts.

    Returns:
        A float32 ``jax.Array``.

    Raises:
        TypeError: a float scalar or mixed arguments (``Tensor(2.5)``).
        RuntimeError: a negative size.

    Example:
        >>> from jtoolkit.tensor_ops import Tensor
        >>> Tensor(2, 3, 4).shape, Tensor([2, 3, 4]).shape
        ((2, 3, 4), (3,))
        >>> Tensor([2, 3, 4]).tolist()
        [2.0, 3.0, 4.0]
    """
    return _legacy(args, dtypes.default_float(), device)


def _typed(name: str, dtype_fn: Callable[[], np.dtype], torch_note: str) -> Callable:
    """Make one of torch's typed legacy constructors (``ByteTensor`` ...)."""

    def constructor(*args: Any, device: Any = None) -> jax.Array:
        return _legacy(args, dtype_fn(), device)

    constructor.__name__ = constructor.__qualname__ = name
    constructor.__doc__ = f"""Legacy typed constructor: {torch_note}.

    torch counterpart: ``torch.{name}(*sizes)`` / ``torch.{name}(data)``; works like
    :func:`Tensor` (ints are sizes and give zeros, one sequence is data, cast).

    Args:
        *args: ints (sizes) or one list/tuple/array (data).
        device: anything :func:`device` accepts.

    Returns:
        A ``jax.Array`` of that dtype.

    Raises:
        TypeError: a float scalar or mixed arguments.
        RuntimeError: a negative size, or Python integers that overflow the dtype.

    Example:
        >>> from jtoolkit.tensor_ops import {name}
        >>> {name}(2).shape
        (2,)
    """
    return constructor


ByteTensor = _typed("ByteTensor", lambda: np.dtype(np.uint8), "uint8 (torch.uint8)")
"""``torch.ByteTensor``: ``ByteTensor(data)`` or ``ByteTensor(*sizes)``, uint8."""


CharTensor = _typed("CharTensor", lambda: np.dtype(np.int8), "int8 (torch.int8)")
"""``torch.CharTensor``: ``CharTensor(data)`` or ``CharTensor(*sizes)``, int8."""


ShortTensor = _typed("ShortTensor", lambda: np.dtype(np.int16), "int16 (torch.int16)")
"""``torch.ShortTensor``: ``ShortTensor(data)`` or ``ShortTensor(*sizes)``, int16."""


IntTensor = _typed("IntTensor", lambda: np.dtype(np.int32), "int32 (torch.int32)")
"""``torch.IntTensor``: ``IntTensor(data)`` or ``IntTensor(*sizes)``, int32."""


LongTensor = _typed(
    "LongTensor",
    dtypes.default_int,
    "int64 with ``jax_enable_x64``, else int32 (torch: always int64)",
)
"""``torch.LongTensor``: ``LongTensor(data)`` or ``LongTensor(*sizes)``, int64/32."""


FloatTensor = _typed("FloatTensor", dtypes.default_float, "float32 (torch.float32)")
"""``torch.FloatTensor``: ``FloatTensor(data)`` or ``FloatTensor(*sizes)``, float32."""


DoubleTensor = _typed(
    "DoubleTensor",
    lambda: dtypes.canonical(np.float64),
    "float64 with ``jax_enable_x64``, else float32 (torch: always float64)",
)
"""``torch.DoubleTensor``: ``DoubleTensor(data)`` or ``DoubleTensor(*sizes)``."""


BoolTensor = _typed("BoolTensor", lambda: np.dtype(np.bool_), "bool (torch.bool)")
"""``torch.BoolTensor``: ``BoolTensor(data)`` or ``BoolTensor(*sizes)``, bool."""


def _scalar_dtype(value: Any) -> np.dtype:
    """torch's dtype for a Python fill value: bool, default int or float32."""
    if isinstance(value, bool | np.bool_):
        return np.dtype(np.bool_)
    if isinstance(value, numbers.Integral):
        return dtypes.default_int()
    if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
        return np.dtype(np.complex64)
    return dtypes.default_float()


def _filled(
    fill: Callable[..., jax.Array], shape: tuple[int, ...], dtype: Any, device: Any
) -> jax.Array:
    """``fill(shape, dtype)`` (float32 unless ``dtype`` says otherwise) on ``device``:
    the one builder behind ``zeros``, ``ones``, ``empty`` and ``eye``."""
    dtype = dtypes.resolve_dtype(dtype) or dtypes.default_float()
    return place(fill(shape, dtype), device)


def zeros(*size: Any, dtype: Any = None, device: Any = None) -> jax.Array:
    """An array of zeros (float32 unless ``dtype`` says otherwise).

    torch counterpart: ``torch.zeros(*size, dtype=None, device=None)``.

    Args:
        *size: ints or one list/tuple of ints.
        dtype: any dtype spelling (numpy, JAX, name, torch dtype).
        device: anything ``tensor_ops.device`` accepts.

    Returns:
        Array of shape ``size``.

    Raises:
        TypeError: non-int sizes. RuntimeError: a negative size.

    Example:
        >>> from jtoolkit.tensor_ops import zeros
        >>> zeros(2, 3).shape, zeros((2,), dtype="int32").tolist()
        ((2, 3), [0, 0])
    """
    return _filled(jnp.zeros, parse_size(size, "zeros"), dtype, device)


def ones(*size: Any, dtype: Any = None, device: Any = None) -> jax.Array:
    """An array of ones (float32 by default).

    torch counterpart: ``torch.ones(*size, dtype=None, device=None)``.

    Args:
        *size, dtype, device: as :func:`zeros`.

    Returns:
        Array of shape ``size``; raises as :func:`zeros`.

    Example:
        >>> from jtoolkit.tensor_ops import ones
        >>> ones(2).tolist()
        [1.0, 1.0]
    """
    return _filled(jnp.ones, parse_size(size, "ones"), dtype, device)


def empty(*size: Any, dtype: Any = None, device: Any = None) -> jax.Array:
    """torch's ``empty``: zeros here, since JAX has no uninitialised memory.

    torch counterpart: ``torch.empty(*size, dtype=None, device=None)``.

    Args:
        *size, dtype, device: as :func:`zeros`.

    Returns:
        Zeros of shape ``size``; raises as :func:`zeros`.

    Example:
        >>> from jtoolkit.tensor_ops import empty
        >>> empty(1, 2).tolist()
        [[0.0, 0.0]]
    """
    return _filled(jnp.zeros, parse_size(size, "empty"), dtype, device)


def full(size: Any, fill_value: Any, dtype: Any = None, device: Any = None):
    """An array filled with ``fill_value``; dtype from the value as torch.

    torch counterpart: ``torch.full(size, fill_value, dtype=None, device=None)``:
    a bool value gives bool, an int the default int, a float float32.

    Args:
        size: list/tuple of ints (or one int).
        fill_value: a Python number (or a 0-d array, whose dtype is kept).
        dtype: overrides the inferred dtype.
        device: anything ``tensor_ops.device`` accepts.

    Returns:
        Array of shape ``size``.

    Raises:
        As :func:`zeros`.

    Example:
        >>> from jtoolkit.tensor_ops import full
        >>> full((2,), 7).tolist(), full((1,), 0.5).dtype
        ([7, 7], dtype('float32'))
    """
    shape = parse_size((size,), "full")
    if dtype is None:
        value = arrays.as_operand(fill_value)
        dtype = value.dtype if hasattr(value, "dtype") else _scalar_dtype(value)
    dtype = dtypes.resolve_dtype(dtype)
    return place(jnp.full(shape, fill_value, dtype), device)


def _like(a: Any, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
    """``a``'s shape and dtype (``dtype`` overrides it), the ``*_like`` rule."""
    a = arrays.to_array(a)
    return a.shape, dtypes.resolve_dtype(dtype) or np.dtype(a.dtype)


def zeros_like(input: Any, dtype: Any = None, device: Any = None) -> jax.Array:
    """Zeros with the shape (and dtype, unless given) of ``input``.

    torch counterpart: ``torch.zeros_like(input, dtype=None, device=None)``.

    Args:
        input: array-like.
        dtype: overrides ``input``'s dtype.
        device: anything ``tensor_ops.device`` accepts.

    Returns:
        Array of ``input``'s shape.

    Example:
        >>> from jtoolkit.tensor_ops import zeros_like
        >>> zeros_like([[1, 2]]).tolist()
        [[0, 0]]
    """
    return place(jnp.zeros(*_like(input, dtype)), device)


def ones_like(input: Any, dtype: Any = None, device: Any = None) -> jax.Array:
    """Ones with the shape (and dtype, unless given) of ``input``.

    torch counterpart: ``torch.ones_like(input, dtype=None, device=None)``.

    Args:
        input, dtype, device: as :func:`zeros_like`.

    Returns:
        Array of ``input``'s shape.

    Example:
        >>> from jtoolkit.tensor_ops import ones_like
        >>> ones_like([1.0, 2.0]).tolist()
        [1.0, 1.0]
    """
    return place(jnp.ones(*_like(input, dtype)), device)


def full_like(
    input: Any, fill_value: Any, dtype: Any = None, device: Any = None
) -> jax.Array:
    """``fill_value`` in the shape (and dtype, unless given) of ``input``.

    torch counterpart: ``torch.full_like(input, fill_value, dtype=None)``; the value
    is cast to ``input``'s dtype (``full_like(int_array, 2.7)`` holds 2).

    Args:
        input, dtype, device: as :func:`zeros_like`.
        fill_value: a number.

    Returns:
        Array of ``input``'s shape.

    Example:
        >>> from jtoolkit.tensor_ops import full_like
        >>> full_like([1, 2], 2.7).tolist()
        [2, 2]
    """
    shape, dtype = _like(input, dtype)
    value = jnp.asarray(fill_value)
    if dtypes.is_integral(dtype, include_bool=False) and dtypes.is_float(value.dtype):
        value = jnp.trunc(value)  # torch casts the value C-style (toward zero)
    return place(jnp.full(shape, value.astype(dtype), dtype), device)


def _arange_args(start: Any, end: Any, step: Any) -> tuple[Any, Any, Any]:
    if end is None:
        start, end = 0, start
    for name, v in (("start", start), ("end", end), ("step", step)):
        if isinstance(v, jax.Array | np.ndarray):
            v = v.item() if not dtypes.is_tracer(v) else v
        if not isinstance(v, numbers.Real):
            raise TypeError(
                f"arange(): argument '{name}' must be Number, not {type(v).__name__}"
            )
    return start, end, step


def arange(
    start: Any = 0,
    end: Any = None,
    step: Any = 1,
    *,
    dtype: Any = None,
    device: Any = None,
) -> jax.Array:
    """Evenly spaced values in ``[start, end)``.

    torch counterpart: ``torch.arange(start=0, end, step=1, dtype=None)``: all-int
    arguments give the default int (int32 without ``jax_enable_x64``), any float
    argument gives float32. Values are ``start + i * step`` computed in float64 and
    rounded once, and the length is ``ceil((end - start) / step)``, as torch.

    Args:
        start, end, step: Python numbers (``arange(5)`` means ``end=5``).
        dtype: overrides the inferred dtype.
        device: anything ``tensor_ops.device`` accepts.

    Returns:
        1-D array.

    Raises:
        RuntimeError: ``step == 0`` ("step must be nonzero") or a step whose sign
            points away from ``end``.

    Example:
        >>> from jtoolkit.tensor_ops import arange
        >>> arange(5).dtype, arange(0.0, 1.0, 0.25).tolist()
        (dtype('int32'), [0.0, 0.25, 0.5, 0.75])
    """
    start, end, step = _arange_args(start, end, step)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    all_int = all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool)
        for v in (start, end, step)
    )
    out_dtype = dtypes.resolve_dtype(dtype) or (
        dtypes.default_int() if all_int else dtypes.default_float()
    )
    if all_int:
        values = np.arange(int(start), int(end), int(step))
    else:
        n = math.ceil((float(end) - float(start)) / float(step))
        values = float(start) + np.arange(n, dtype=np.float64) * float(step)
    arrays._check_fits(values, out_dtype, RuntimeError)
    return place(jnp.asarray(values.astype(out_dtype)), device)


def linspace(
    start: Any, end: Any, steps: int, *, dtype: Any = None, device: Any = None
) -> jax.Array:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive.

    torch counterpart: ``torch.linspace(start, end, steps, dtype=None)`` (float32 by
    default); torch's symmetric formula: the first half counts up from ``start``,
    the second half down from ``end``, so both ends are exact.

    Args:
        start, end: Python numbers.
        steps: int >= 0.
        dtype: the output dtype (integers are truncated, as torch).
        device: anything ``tensor_ops.device`` accepts.

    Returns:
        1-D array of length ``steps``.

    Raises:
        RuntimeError: ``steps < 0``. TypeError: ``steps`` not an int.

    Example:
        >>> from jtoolkit.tensor_ops import linspace
        >>> linspace(0, 1, 5).tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError(
            f"linspace(): argument 'steps' must be int, not {type(steps).__name__}"
        )
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    out_dtype = dtypes.resolve_dtype(dtype) or dtypes.default_float()
    i = np.arange(steps, dtype=np.float64)
    start, end = float(start), float(end)
    if steps == 1:
        values = np.full(1, start)
    else:
        step = (end - start) / max(steps - 1, 1)
        half = steps // 2
        values = np.where(i < half, start + step * i, end - step * (steps - 1 - i))
    if dtypes.is_integral(out_dtype, include_bool=False):
        values = np.trunc(values)
    return place(jnp.asarray(values.astype(out_dtype)), device)


def eye(
    n: int, m: int | None = None, *, dtype: Any = None, device: Any = None
) -> jax.Array:
    """The ``[n, m]`` identity matrix (float32 by default).

    torch counterpart: ``torch.eye(n, m=None, dtype=None, device=None)``.

    Args:
        n: rows. m: columns (default ``n``).
        dtype: any dtype spelling.
        device: anything ``tensor_ops.device`` accepts.

    Returns:
        ``[n, m]`` array.

    Raises:
        RuntimeError: a negative size.

    Example:
        >>> from jtoolkit.tensor_ops import eye
        >>> eye(2, 3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    shape = parse_size((n,) if m is None else (n, m), "eye")
    for name, v in zip(("n", "m"), shape, strict=False):
        if v < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {v}")
    return _filled(lambda s, t: jnp.eye(s[0], s[-1], dtype=t), shape, dtype, device)


def from_numpy(ndarray: np.ndarray) -> jax.Array:
    """A ``jax.Array`` with a numpy array's data and dtype (a copy: JAX is immutable).

    torch counterpart: ``torch.from_numpy(ndarray)``, which shares memory; here the
    data is copied and float64/int64 become float32/int32 without
    ``jax_enable_x64`` (values that do not fit raise OverflowError).

    Args:
        ndarray: a numpy array.

    Returns:
        ``jax.Array``.

    Raises:
        TypeError: anything but a numpy array ("expected np.ndarray (got list)"), or
            a non-numeric dtype.

    Example:
        >>> from jtoolkit.tensor_ops import from_numpy
        >>> from_numpy(np.array([1, 2], np.int16)).dtype
        dtype('int16')
    """
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    return arrays.to_array(ndarray)
