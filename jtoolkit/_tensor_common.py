"""Shared helpers of ``jtoolkit.tensor_ops``: dtypes, input conversion, torch errors.

Nothing here is public. The helpers turn user input (Python scalars, nested lists,
numpy arrays, ``jax.Array``s, torch dtypes) into ``jax.Array``s with torch's dtype
categories, and format shapes, dims and dtypes the way torch's error messages do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__: list[str] = []

# torch's C++ names, used in its dtype-mismatch messages ("long int != float").
_CPP_NAMES = {
    "float32": "float",
    "float64": "double",
    "float16": "c10::Half",
    "bfloat16": "c10::BFloat16",
    "int64": "long int",
    "int32": "int",
    "int16": "short int",
    "int8": "signed char",
    "uint8": "unsigned char",
    "bool": "bool",
}
# torch's ScalarType names ("Float, Long, and Float").
_SCALAR_NAMES = {
    "float32": "Float",
    "float64": "Double",
    "float16": "Half",
    "bfloat16": "BFloat16",
    "int64": "Long",
    "int32": "Int",
    "int16": "Short",
    "int8": "Char",
    "uint8": "Byte",
    "bool": "Bool",
}


def is_tracer(x: Any) -> bool:
    """True when ``x`` is an abstract value inside ``jit``/``grad``/``vmap``."""
    return isinstance(x, jax.core.Tracer)


def x64_enabled() -> bool:
    """Whether ``jax_enable_x64`` is on (64-bit ints and floats exist)."""
    return bool(jax.config.read("jax_enable_x64"))


def canonical(dtype: Any) -> np.dtype:
    """The dtype JAX really stores for ``dtype`` (int64 -> int32 without x64).

    Unlike ``jnp.zeros(..., dtype=float64)`` this never warns: the narrowing is
    jtoolkit's documented behaviour, not a surprise.
    """
    return np.dtype(jax.dtypes.canonicalize_dtype(jnp.dtype(dtype)))


def default_int() -> np.dtype:
    """torch's default integer dtype (int64) as JAX has it: int64 or int32."""
    return canonical(np.int64)


def default_float() -> np.dtype:
    """torch's default floating dtype: float32 (``torch.get_default_dtype()``)."""
    return np.dtype(np.float32)


def resolve_dtype(dtype: Any) -> np.dtype | None:
    """Turn a numpy/JAX dtype, a dtype name or a torch dtype into a canonical dtype."""
    if dtype is None:
        return None
    if type(dtype).__module__.startswith("torch"):
        dtype = str(dtype).removeprefix("torch.")
    try:
        return canonical(dtype)
    except TypeError as exc:
        raise TypeError(
            f"dtype must be a numpy/JAX dtype, a dtype name or a torch dtype, "
            f"got {dtype!r}"
        ) from exc


def is_float(dtype: Any) -> bool:
    """Floating or complex (the dtypes that carry gradients)."""
    return bool(jnp.issubdtype(dtype, jnp.inexact))


def is_integral(dtype: Any, include_bool: bool = True) -> bool:
    """Integer dtypes (and bool, unless ``include_bool`` is False)."""
    if jnp.issubdtype(dtype, jnp.bool_):
        return include_bool
    return bool(jnp.issubdtype(dtype, jnp.integer))


def cpp_name(dtype: Any) -> str:
    """torch's C++ spelling of a dtype, as in "long int != float"."""
    name = np.dtype(dtype).name
    return _CPP_NAMES.get(name, name)


def scalar_name(dtype: Any) -> str:
    """torch's ScalarType spelling of a dtype, as in "Float, Long, and Float"."""
    name = np.dtype(dtype).name
    return _SCALAR_NAMES.get(name, name)


def shape_str(shape: Sequence[int]) -> str:
    """torch's list spelling of a shape: ``[2, 3]``."""
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def wrap_dim(dim: Any, ndim: int, name: str = "dim") -> int:
    """Map a possibly negative ``dim`` into ``[0, ndim)`` (torch's ``maybe_wrap_dim``).

    A 0-d tensor accepts dims -1 and 0, as in torch.

    Raises:
        TypeError: ``dim`` is not an integer.
        IndexError: ``dim`` is outside ``[-ndim, ndim - 1]``.
    """
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"argument '{name}' must be int, not {type(dim).__name__}")
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(
            f"Dimension out of range (expected to be in range of "
            f"[{-rank}, {rank - 1}], but got {int(dim)})"
        )
    return int(dim) % rank


def check_int(value: Any, name: str, fname: str) -> int:
    """A Python/numpy integer argument as ``int``, else torch's TypeError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(
            f"{fname}(): argument '{name}' must be int, not {type(value).__name__}"
        )
    return int(value)


def check_broadcast(a_shape: Sequence[int], b_shape: Sequence[int]) -> None:
    """Raise torch's RuntimeError when two shapes do not broadcast."""
    for i in range(1, min(len(a_shape), len(b_shape)) + 1):
        m, n = a_shape[-i], b_shape[-i]
        if m != n and m != 1 and n != 1:
            dim = max(len(a_shape), len(b_shape)) - i
            raise RuntimeError(
                f"The size of tensor a ({m}) must match the size of tensor b ({n}) "
                f"at non-singleton dimension {dim}"
            )


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
    if isinstance(x, bool | int | float | complex) and not isinstance(x, np.generic):
        return x
    return to_array(x)


def result_dtype(*operands: Any) -> np.dtype:
    """torch's promoted dtype of operands (Python scalars weak, floats -> float32).

    Differs from ``jnp.result_type`` only with x64 on, where JAX widens
    ``int64 tensor + 1.5`` to float64 while torch gives float32.
    """
    out = np.dtype(jnp.result_type(*operands))
    if out == np.float64:
        arrays = [x for x in operands if hasattr(x, "dtype") and x.ndim > 0]
        if not any(np.dtype(x.dtype) == np.float64 for x in arrays):
            return default_float()
    return out


def ensure_concrete(x: Any, what: str) -> None:
    """Raise a clear error when a host value is asked of a traced array."""
    if is_tracer(x):
        raise RuntimeError(
            f"{what} needs a concrete value, but it was called on a traced array "
            "inside jax.jit/grad/vmap; call it outside the transformed function "
            "(return the array and convert it afterwards)"
        )
