"""Element-wise arithmetic with torch's dtypes, errors and gradients.

Gradients follow torch at kinks where ``jnp`` differs: ``abs`` has gradient 0 at 0
(``jnp.abs``: 1) and ``clamp`` passes the gradient at both bounds (``jnp.clip``:
0.5).
"""

from __future__ import annotations

import builtins
from typing import Any

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core import arrays, checks, dtypes
from jtoolkit._src.core.eager_jit import check_values, eager_jit, python_scalar

__all__ = ["abs", "add", "clamp", "div", "mul", "pow"]


_ROUNDING_MODES = (None, "trunc", "floor")


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)


def _operands(a: Any, b: Any, fname: str) -> tuple[Any, Any, np.dtype]:
    """Convert two operands, check they broadcast, and cast both to torch's dtype."""
    for position, (name, x) in enumerate((("input", a), ("other", b)), start=1):
        if x is None:
            raise TypeError(
                f"{fname}(): argument '{name}' (position {position}) must be Tensor, "
                "not NoneType"
            )
    a, b = arrays.as_operand(a), arrays.as_operand(b)
    if python_scalar(a) and python_scalar(b):
        a = arrays.to_array(a)  # two Python numbers: type them as torch.tensor would
    checks.check_broadcast(_shape(a), _shape(b))
    dtype = dtypes.result_dtype(a, b)
    return _cast(a, dtype), _cast(b, dtype), dtype


def _cast(x: Any, dtype: np.dtype) -> Any:
    if python_scalar(x) is not None:
        return x  # a Python number stays weak and takes the array's dtype
    if x.dtype == dtype:
        return x
    if x.dtype == np.bool_ and dtypes.is_float(dtype):
        # compiled, XLA turns float(mask) * v into select(mask, v, 0): not NaN
        # for v = inf (nor float(mask) / 0), as eagerly and in torch
        return jax.lax.optimization_barrier(x.astype(dtype))
    return x.astype(dtype)


@eager_jit(operands=("a", "b"))
def mul(a: ArrayLike, b: ArrayLike) -> jax.Array:
    """Element-wise product with broadcasting.

    torch counterpart: ``torch.mul(input, other)``.

    Args:
        a, b: arrays or Python numbers (a number keeps the array's dtype category,
            as in torch: ``int32 * 2`` is int32, ``int32 * 1.5`` is float32).

    Returns:
        The broadcast product, in torch's promoted dtype.

    Raises:
        RuntimeError: shapes do not broadcast. TypeError: an operand is None.

    Example:
        >>> from jtoolkit.tensor_ops import mul
        >>> mul([[1, 2], [3, 4]], [[5, 6], [7, 8]]).tolist()
        [[5, 12], [21, 32]]
    """
    a, b, _ = _operands(a, b, "mul")
    return jnp.multiply(a, b)


@eager_jit(operands=("a", "b", "alpha"))
def add(a: ArrayLike, b: ArrayLike, alpha: ArrayLike = 1) -> jax.Array:
    """``a + alpha * b`` with broadcasting.

    torch counterpart: ``torch.add(input, other, alpha=1)``.

    Args:
        a, b: arrays or Python numbers.
        alpha: multiplier of ``b``.

    Returns:
        The broadcast sum, in torch's promoted dtype.

    Raises:
        RuntimeError: shapes do not broadcast, a float ``alpha`` with integer
            inputs, or a bool ``alpha`` with a non-bool result.

    Example:
        >>> from jtoolkit.tensor_ops import add
        >>> add([1.0, 2.0], [10.0, 20.0], alpha=3).tolist()
        [31.0, 62.0]
    """
    a, b, dtype = _operands(a, b, "add")
    alpha_type = python_scalar(alpha)
    if dtypes.is_integral(dtype) and (
        alpha_type is float or isinstance(alpha, np.floating)
    ):
        dtypes.is_tracer(alpha)  # under eager_jit: the message needs the value
        raise RuntimeError(
            "For integral input tensors, argument alpha must not be a floating "
            f"point number. (got alpha={alpha})"
        )
    if (alpha_type is bool or isinstance(alpha, np.bool_)) and dtype != np.bool_:
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    if alpha_type in (bool, int) and not _traced(alpha) and alpha == 1:
        return jnp.add(a, b)  # (a traced alpha multiplies: 1 * b is b exactly)
    return jnp.add(a, alpha * b)


def _floor_divide_float(a: jax.Array, b: jax.Array) -> jax.Array:
    """torch's ``div_floor_floating``: Python's float ``//`` (fmod-corrected)."""
    mod = jnp.fmod(a, b)
    div = (a - mod) / b
    div = jnp.where((mod != 0) & ((b < 0) != (mod < 0)), div - 1, div)
    floor = jnp.floor(div)
    floor = jnp.where(div - floor > 0.5, floor + 1, floor)
    floor = jnp.where(div == 0, jnp.copysign(jnp.zeros_like(div), a / b), floor)
    return jnp.where(b == 0, a / b, floor)


def _traced(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


def _nonzero_divisor(values: np.ndarray) -> None:
    if bool(np.any(values == 0)):
        raise RuntimeError("ZeroDivisionError")


def _check_int_zero(b: Any) -> None:
    check_values(b, _nonzero_divisor)  # after the compiled call, if traced


@eager_jit(operands=("a", "b"))
def div(a: ArrayLike, b: ArrayLike, rounding_mode: str | None = None) -> jax.Array:
    """Division with torch's rounding modes; integers true-divide to float32.

    torch counterpart: ``torch.div(input, other, rounding_mode=None)``.

    Args:
        a, b: arrays or Python numbers (broadcast).
        rounding_mode: None (true division: integer inputs give float32), "trunc"
            (round toward zero, C-style) or "floor" (Python's ``//``); the rounded
            modes keep integer dtypes and have zero gradient, as in torch.

    Returns:
        The quotient.

    Raises:
        RuntimeError: an unknown ``rounding_mode``, shapes that do not broadcast, or
            integer rounded division by zero ("ZeroDivisionError"; checked when
            ``b`` is concrete).

    Example:
        >>> from jtoolkit.tensor_ops import div
        >>> div([7, -7, 5], [2, 2, -2]).tolist()
        [3.5, -3.5, -2.5]
        >>> div([7, -7, 5], [2, 2, -2], rounding_mode="floor").tolist()
        [3, -4, -3]
    """
    if rounding_mode not in _ROUNDING_MODES:
        raise RuntimeError(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
            f"found '{rounding_mode}'"
        )
    a, b, dtype = _operands(a, b, "div")
    if rounding_mode is None:
        if dtypes.is_integral(dtype):
            float_dtype = dtypes.default_float()
            a, b = _cast(a, float_dtype), _cast(b, float_dtype)
            if python_scalar(a) is not None:
                a = jnp.asarray(a, float_dtype)
        return jnp.true_divide(a, b)
    if dtypes.is_integral(dtype):
        _check_int_zero(b)
        a, b = jnp.broadcast_arrays(jnp.asarray(a, dtype), jnp.asarray(b, dtype))
        if rounding_mode == "trunc":
            return jax.lax.div(a, b)  # integer lax.div rounds toward zero
        return jnp.floor_divide(a, b)
    if rounding_mode == "trunc":
        return jax.lax.stop_gradient(jnp.trunc(jnp.true_divide(a, b)))
    a, b = jnp.broadcast_arrays(
        arrays.operand_as(a, dtype), arrays.operand_as(b, dtype)
    )
    return jax.lax.stop_gradient(_floor_divide_float(a, b))


@jax.custom_jvp
def _abs_float(x: jax.Array) -> jax.Array:
    return jnp.abs(x)


@_abs_float.defjvp
def _abs_float_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (t,) = primals, tangents
    return jnp.abs(x), jnp.sign(x) * t  # torch: grad * sgn(x), 0 at 0


@eager_jit(operands=("a",))
def abs(a: ArrayLike) -> jax.Array:
    """Element-wise absolute value, with torch's gradient 0 at 0.

    torch counterpart: ``torch.abs(input)``.

    Args:
        a: integer or floating array.

    Returns:
        ``|a|``, same dtype. Gradient ``sign(a)`` (``jnp.abs`` gives 1 at 0).

    Raises:
        NotImplementedError: bool input, as torch.

    Example:
        >>> from jtoolkit.tensor_ops import abs
        >>> abs([-1.5, 0.0, 2.0]).tolist()
        [1.5, 0.0, 2.0]
        >>> float(jax.grad(lambda x: abs(x))(0.0))
        0.0
    """
    a = arrays.to_array(a)
    if a.dtype == np.bool_:
        raise NotImplementedError("\"abs_cpu\" not implemented for 'Bool'")
    if jnp.issubdtype(a.dtype, jnp.floating):
        return _abs_float(a)
    return jnp.abs(a)


@jax.custom_jvp
def _clamp_float(x: jax.Array, lo: jax.Array, hi: jax.Array) -> jax.Array:
    return jnp.minimum(jnp.maximum(x, lo), hi)


@_clamp_float.defjvp
def _clamp_float_jvp(primals: tuple, tangents: tuple) -> tuple:
    """torch's clamp backward: inclusive bounds for x, strict for the bounds."""
    (x, lo, hi), (tx, tlo, thi) = primals, tangents
    inside = (x >= lo) & (x <= hi)
    below = (x < lo) & (lo < hi)
    above = (x > hi) | (hi < lo)
    zero = jnp.zeros_like(tx)
    t = jnp.where(inside, tx, zero) + jnp.where(below, tlo, zero)
    return _clamp_float(x, lo, hi), t + jnp.where(above, thi, zero)


@eager_jit(operands=("a", "min", "max"))
def clamp(
    a: ArrayLike, min: ArrayLike | None = None, max: ArrayLike | None = None
) -> jax.Array:
    """Clip values into ``[min, max]``: ``minimum(maximum(a, min), max)``.

    torch counterpart: ``torch.clamp(input, min=None, max=None)``.

    Args:
        a: array.
        min, max: numbers or arrays (broadcast); at least one is given. If
            ``min > max`` every element becomes ``max``; NaN passes through. An
            integer ``a`` with a float bound gives float32, as torch.

    Returns:
        The clamped array. Gradient 1 where ``min <= a <= max`` (both bounds
        included, as torch; ``jnp.clip`` gives 0.5 there), and to array bounds
        where they are active.

    Raises:
        RuntimeError: neither bound given, or shapes that do not broadcast.

    Example:
        >>> from jtoolkit.tensor_ops import clamp
        >>> clamp([-2.0, 0.5, 3.0], 0.0, 1.0).tolist()
        [0.0, 0.5, 1.0]
        >>> jax.grad(lambda x: clamp(x, 0.0, 1.0).sum())(jnp.array([0.0, 1.0])).tolist()
        [1.0, 1.0]
    """
    if min is None and max is None:
        raise RuntimeError(
            "torch.clamp: At least one of 'min' or 'max' must not be None"
        )
    x = arrays.to_array(a)
    bounds = [arrays.as_operand(v) for v in (min, max) if v is not None]
    for bound in bounds:
        checks.check_broadcast(x.shape, _shape(bound))
    dtype = dtypes.result_dtype(x, *bounds)
    x = _cast(x, dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        if min is not None:
            x = jnp.maximum(x, _cast(arrays.as_operand(min), dtype))
        return (
            x if max is None else jnp.minimum(x, _cast(arrays.as_operand(max), dtype))
        )
    lo = -jnp.inf if min is None else arrays.as_operand(min)
    hi = jnp.inf if max is None else arrays.as_operand(max)
    lo, hi = arrays.operand_as(lo, dtype), arrays.operand_as(hi, dtype)
    x, lo, hi = jnp.broadcast_arrays(x, lo, hi)
    return _clamp_float(x, lo, hi)


def _exponent_fast_path(base: jax.Array, exponent: float) -> jax.Array | None:
    """torch's special scalar exponents (x*x, sqrt, rsqrt, 1/x) for floats."""
    if float(exponent).is_integer() and builtins.abs(exponent) <= 64:
        return jnp.power(base, int(exponent))  # lax.integer_pow: exact products
    if exponent == 0.5:
        return jnp.sqrt(base)
    if exponent == -0.5:
        return jax.lax.rsqrt(base)
    return None


def _special_exponent(name: str, value: Any) -> bool:
    """pow's exponents that choose the program (``_exponent_fast_path``, and an
    integer exponent's exact products): compiled in by value."""
    if name != "exponent" or isinstance(value, complex):
        return False
    return isinstance(value, int) or float(value).is_integer() or value in (0.5, -0.5)


@eager_jit(operands=("a", "exponent"), keep_static=_special_exponent)
def pow(a: ArrayLike, exponent: ArrayLike) -> jax.Array:
    """Element-wise power ``a ** exponent`` with torch's dtypes.

    torch counterpart: ``torch.pow(input, exponent)`` (tensor or scalar on either
    side).

    Args:
        a: array or number (bool bases count as integers).
        exponent: array or number. Integer ``a`` with an integer exponent stays
            integer, with a float exponent becomes float32.

    Returns:
        The power; gradients as ``exponent * a ** (exponent - 1)``.

    Raises:
        RuntimeError: an integer array to a negative Python integer power ("Integers
            to negative integer powers are not allowed."), or shapes that do not
            broadcast.

    Example:
        >>> from jtoolkit.tensor_ops import pow
        >>> pow([1, 2, 3], 2).tolist(), pow([4, 9], 0.5).tolist()
        ([1, 4, 9], [2.0, 3.0])
    """
    if a is None or exponent is None:
        raise TypeError(
            "pow() received an invalid combination of arguments - got "
            f"({type(a).__name__}, {type(exponent).__name__})"
        )
    base, exp = arrays.as_operand(a), arrays.as_operand(exponent)
    if python_scalar(base) and python_scalar(exp):
        base = arrays.to_array(base)
    array_base = python_scalar(base) is None
    if array_base and base.dtype == np.bool_:
        base = base.astype(dtypes.default_int())  # torch: bool ** 2 is int64
    int_base = array_base and dtypes.is_integral(base.dtype)
    if int_base and isinstance(exp, int) and not isinstance(exp, bool) and exp < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    base, exp, dtype = _operands(base, exp, "pow")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        if jnp.issubdtype(dtype, jnp.floating):
            fast = _exponent_fast_path(jnp.asarray(base, dtype), exp)
            if fast is not None:
                return fast
        elif isinstance(exp, int):
            return jnp.power(base, exp)
    return jnp.power(base, exp)
