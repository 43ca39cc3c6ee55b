"""Input conversion shared by every area: user data to ``jax.Array`` as torch types it.

Nothing here is public. ``to_array`` and ``as_operand`` turn user input (Python
scalars, nested lists, numpy arrays, ``jax.Array``s) into ``jax.Array``s with torch's
dtype categories, refusing integers that do not fit and ragged lists with torch's
messages. The dtype rules themselves are in ``dtypes.py``; argument checks and
torch's shape and dim errors in ``checks.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core.dtypes import (
    canonical,
    default_float,
    default_int,
    resolve_dtype,
    x64_enabled,
)
from jtoolkit._src.core.eager_jit import python_scalar

__all__: list[str] = []


def _check_fits(arr: np.ndarray, dtype: np.dtype, exc: type[Exception]) -> None:
    """Refuse to wrap host integers that do not fit ``dtype`` (JAX wraps silently)."""
    if arr.size == 0 or arr.dtype.kind not in "iu" or dtype.kind not in "iu":
        return
    info = np.iinfo(dtype)
    low, high = int(arr.min()), int(arr.max())
    if low < info.min or high > info.max:
        bad = low if low < info.min else high
        hint = ""
        if dtype.itemsize == 4 and not x64_enabled():
            hint = (
                " (64-bit integers are stored as 32-bit because jax_enable_x64 is "
                "off; enable it with jax.config.update('jax_enable_x64', True) or "
                "keep such values on the host)"
            )
        raise exc(
            f"value cannot be converted to type {dtype.name} without overflow "
            f"(got {bad}){hint}"
        )


def _ragged_error(data: Sequence[Any]) -> ValueError:
    """torch's message for a nested list whose rows differ in length."""
    expected, x = [], data
    while isinstance(x, list | tuple):
        expected.append(len(x))
        if not x:
            break
        x = x[0]

    def first_bad(x: Any, dim: int) -> str | None:
        if dim >= len(expected) or not isinstance(x, list | tuple):
            return None
        if len(x) != expected[dim]:
            return (
                f"expected sequence of length {expected[dim]} at dim {dim} "
                f"(got {len(x)})"
            )
        return next((m for m in (first_bad(y, dim + 1) for y in x) if m), None)

    return ValueError(first_bad(data, 0) or "expected a rectangular nested sequence")


def _category_dtype(dtype: np.dtype) -> np.dtype:
    """torch's dtype for Python data of a numpy category (bool, int, float, complex)."""
    kind = np.dtype(dtype).kind
    if kind == "b":
        return np.dtype(np.bool_)
    if kind in "iu":
        return default_int()
    if kind == "f":
        return default_float()
    if kind == "c":
        return np.dtype(np.complex64)
    raise TypeError(f"new(): invalid data type '{dtype}'")


def _python_to_array(data: Any, dtype: np.dtype | None) -> jax.Array:
    """Python scalars and nested sequences, typed by category as torch does."""
    try:
        host = np.asarray(data)
    except jax.errors.TracerArrayConversionError:
        traced = jnp.asarray(data)  # lists holding tracers, inside jit
        return traced.astype(dtype or _category_dtype(traced.dtype))
    except ValueError as exc:
        raise _ragged_error(data) from exc
    if host.dtype.kind in "USO":
        leaf = host.flat[0] if host.size else data
        if isinstance(leaf, str | bytes):
            kind = "str" if isinstance(leaf, str) else "bytes"
            raise TypeError(f"new(): invalid data type '{kind}'")
        if isinstance(leaf, int):
            raise OverflowError(f"Overflow when unpacking long: {leaf}")
        raise RuntimeError(f"Could not infer dtype of {type(leaf).__name__}")
    natural = _category_dtype(host.dtype)
    _check_fits(host, natural, OverflowError)
    if dtype is not None:
        _check_fits(host, dtype, RuntimeError)
    return jnp.asarray(host, dtype=natural).astype(dtype or natural)


def _host_to_array(data: np.ndarray | np.generic, dtype: np.dtype | None) -> jax.Array:
    """numpy data keeps its dtype where JAX can store it (float64 -> float32 else)."""
    host = np.asarray(data)
    if host.dtype.kind in "USOV":
        raise TypeError(
            f"can't convert np.ndarray of type {host.dtype}. The only supported "
            "types are: float64, float32, float16, complex64, complex128, int64, "
            "int32, int16, int8, uint8, and bool."
        )
    stored = canonical(host.dtype)
    _check_fits(host, stored, OverflowError)
    out = jnp.asarray(host, dtype=stored)
    return out if dtype is None else out.astype(dtype)


def to_array(data: Any, dtype: Any = None) -> jax.Array:
    """Convert any supported input to a ``jax.Array``, dtype inferred as torch does.

    ``jax.Array`` keeps its dtype, numpy keeps its dtype where JAX can represent it,
    Python data goes by category (bool -> bool, int -> default int, float ->
    float32, complex -> complex64). ``dtype`` (any spelling) overrides.
    """
    dtype = resolve_dtype(dtype)
    kind = python_scalar(data)
    if kind is not None and isinstance(data, jax.Array):  # a traced Python number
        data = data.astype(_category_dtype(np.dtype(kind)))
    if isinstance(data, jax.Array):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    if isinstance(data, np.ndarray | np.generic):
        return _host_to_array(data, dtype)
    if hasattr(data, "__array__") and not isinstance(data, list | tuple):
        return _host_to_array(np.asarray(data), dtype)  # e.g. a torch tensor
    return _python_to_array(data, dtype)


def as_operand(x: Any) -> Any:
    """Like :func:`to_array`, but Python numbers stay weakly typed scalars.

    A Python scalar then never widens a tensor's dtype, as in torch
    (``int32 tensor * 2`` stays int32, ``int tensor * 1.5`` is float32).
    """
    if python_scalar(x) is not None:  # also one traced by eager_jit
        return x
    return to_array(x)


_F32_MAX = float(np.finfo(np.float32).max)


def operand_as(x: Any, dtype: Any) -> jax.Array:
    """An operand of :func:`as_operand` in ``dtype``; a Python float reaches a
    narrower float through float32, as in JAX's promotion of ``float16 * 1.1``
    and torch's float32 arithmetic (``clamp(half, min=v)`` equals ``half * 0 + v``
    clamped), so every op rounds a number alike.
    """
    if python_scalar(x) is float and not isinstance(x, jax.Array):
        if not x64_enabled() and not abs(x) > _F32_MAX:
            x = np.float32(x)
    return jnp.asarray(x, dtype)
