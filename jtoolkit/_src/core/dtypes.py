"""torch's dtype categories and spellings, as JAX stores them."""

from __future__ import annotations

from typing import Any

import jax
import jax.core
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core.eager_jit import NeedsValues, tracing_for_eager_jit

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
    """True when ``x`` is an abstract value inside ``jit``/``grad``/``vmap``.

    Callers ask it to skip a check that needs values. Inside an ``eager_jit``
    trace, where the caller holds concrete arrays, it raises ``NeedsValues``
    instead, so that call runs eagerly with the check.
    """
    if not isinstance(x, jax.core.Tracer):
        return False
    if tracing_for_eager_jit():
        raise NeedsValues("a check needs concrete values")
    return True


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
