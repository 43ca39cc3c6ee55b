"""Tensor creation: ``tensor``, the legacy ``Tensor`` and its typed twins.

JAX differences from torch, all documented in the docstrings:

* Integers default to ``int32`` unless ``jax_enable_x64`` is on (torch: int64), and
  ``float64`` becomes ``float32`` without x64. ``LongTensor``/``DoubleTensor`` give the
  widest dtype JAX has enabled and never emit JAX's "Explicitly requested dtype"
  warning.
* ``Tensor(2, 3)`` is zeros: JAX has no uninitialised memory.
"""

from __future__ import annotations

from collections.abc import Callable
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
    "tensor",
]


def _place(x: jax.Array, device: Any) -> jax.Array:
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
    return _place(arrays.to_array(data, dtype), device)


def _is_size(x: Any) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


def _legacy(args: tuple[Any, ...], dtype: np.dtype, device: Any) -> jax.Array:
    """torch's legacy constructor: ints are sizes, one sequence/array is data."""
    if not args:
        return _place(jnp.zeros((0,), dtype), device)
    if all(_is_size(a) for a in args):
        sizes = tuple(int(a) for a in args)
        if any(s < 0 for s in sizes):
            bad = next(s for s in sizes if s < 0)
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {bad}: "
                f"{checks.shape_str(sizes)}"
            )
        return _place(jnp.zeros(sizes, dtype), device)
    if len(args) == 1:
        data = args[0]
        if isinstance(data, bool | float | complex | np.generic):
            raise TypeError(
                f"new(): data must be a sequence (got {type(data).__name__}); "
                "pass sizes as ints or data as a list"
            )
        return _place(arrays.to_array(data, dtype), device)
    bad = next(i for i, a in enumerate(args) if not _is_size(a))
    raise TypeError(
        f"new(): argument 'size' must be tuple of ints, but found element of type "
        f"{type(args[bad]).__name__} at pos {bad}"
    )


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
"""``torch.LongTensor``: ``LongTensor(data)`` or ``LongTensor(*sizes)``, int64.

int32 without ``jax_enable_x64``.
"""


FloatTensor = _typed("FloatTensor", dtypes.default_float, "float32 (torch.float32)")
"""``torch.FloatTensor``: ``FloatTensor(data)`` or ``FloatTensor(*sizes)``, float32."""


DoubleTensor = _typed(
    "DoubleTensor",
    lambda: dtypes.canonical(np.float64),
    "float64 with ``jax_enable_x64``, else float32 (torch: always float64)",
)
"""``torch.DoubleTensor``: ``DoubleTensor(data)`` or ``DoubleTensor(*sizes)``.

float64 with ``jax_enable_x64``, else float32.
"""


BoolTensor = _typed("BoolTensor", lambda: np.dtype(np.bool_), "bool (torch.bool)")
"""``torch.BoolTensor``: ``BoolTensor(data)`` or ``BoolTensor(*sizes)``, bool."""
