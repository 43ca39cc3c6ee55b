"""Argument checks with one message grammar, and torch's shape and dim errors.

Every check takes ``(name, value, ...)`` and the calling function's public name as
the keyword ``fn``, and says ``"<fn>: <name> must be <what>, got <value>"``, e.g.
``"step_lr: step_size must be an integer >= 1, got 0"``. Where a test pins torch's
own wording (``wrap_dim``, ``torch_int_arg``, ``check_broadcast`` and the optimizer,
loss and sampler messages in their areas), that wording wins.

Example:
    >>> check_int("step_size", 3, fn="step_lr", minimum=1)
    3
    >>> check_positive("gamma", 0.0, fn="step_lr")
    Traceback (most recent call last):
    ...
    ValueError: step_lr: gamma must be > 0, got 0.0
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

__all__ = [
    "check_bool",
    "check_broadcast",
    "check_choice",
    "check_int",
    "check_positive",
    "ensure_concrete",
    "fail",
    "shape_str",
    "torch_bool",
    "torch_int_arg",
    "torch_positive_int",
    "wrap_dim",
]


def fail(
    name: str, value: Any, what: str, *, fn: str, exc: type[Exception] = ValueError
) -> Exception:
    """The exception ``"<fn>: <name> must be <what>, got <value>"`` (to ``raise``)."""
    return exc(f"{fn}: {name} must be {what}, got {value!r}")


def check_int(
    name: str,
    value: Any,
    *,
    fn: str,
    minimum: int | None = None,
    exc: type[Exception] = ValueError,
) -> int:
    """``value`` as an ``int`` (bool refused), at least ``minimum`` if given."""
    what = "an integer" if minimum is None else f"an integer >= {minimum}"
    try:
        as_int = operator.index(value)
    except TypeError:
        raise fail(name, value, what, fn=fn, exc=exc) from None
    if isinstance(value, bool) or (minimum is not None and as_int < minimum):
        raise fail(name, value, what, fn=fn, exc=exc)
    return as_int


def check_positive(
    name: str, value: Any, *, fn: str, allow_zero: bool = False
) -> float:
    """``value`` as a ``float`` that is ``> 0`` (``>= 0`` with ``allow_zero``).

    NaN is refused; infinity passes (torch accepts it where a bound is asked).
    """
    what = ">= 0" if allow_zero else "> 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise fail(name, value, f"a real number {what}", fn=fn)
    as_float = float(value)
    if math.isnan(as_float) or not (as_float >= 0 if allow_zero else as_float > 0):
        raise fail(name, value, what, fn=fn)
    return as_float


def check_bool(name: str, value: Any, *, fn: str) -> bool:
    """``value`` as a ``bool``; TypeError for anything else (``1`` included)."""
    if not isinstance(value, bool | np.bool_):
        raise fail(name, value, "a bool (True or False)", fn=fn, exc=TypeError)
    return bool(value)


def check_choice(name: str, value: Any, choices: Collection[Any], *, fn: str) -> Any:
    """``value`` if it is one of ``choices``, else ValueError listing them."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise fail(name, value, f"one of {listed}", fn=fn)
    return value


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


def torch_int_arg(name: str, value: Any, fname: str) -> int:
    """A Python/numpy integer argument as ``int``, else torch's TypeError text."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(
            f"{fname}(): argument '{name}' must be int, not {type(value).__name__}"
        )
    return int(value)


def torch_positive_int(name: str, value: Any) -> int:
    """``value`` as an ``int`` ``>= 1`` (bool refused), else torch's data-API text.

    torch's samplers and DataLoader say ``"batch_size should be a positive integer
    value, but got batch_size=0"``; users search for that, so it is kept verbatim.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(
            f"{name} should be a positive integer value, but got {name}={value}"
        )
    return int(value)


def torch_bool(name: str, value: Any, *, exc: type[Exception] = TypeError) -> bool:
    """``value`` as a ``bool``, else torch's ``"<name> should be a boolean value"``.

    torch raises TypeError for ``replacement`` and ValueError for ``drop_last``;
    ``exc`` picks the type.
    """
    if not isinstance(value, bool | np.bool_):
        raise exc(f"{name} should be a boolean value, but got {name}={value}")
    return bool(value)


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


def ensure_concrete(x: Any, what: str) -> None:
    """Raise a clear error when a host value is asked of a traced array."""
    # Imported here: the host-only data area uses these checks without jax.
    from jtoolkit._src.core.dtypes import is_tracer

    if is_tracer(x):
        raise RuntimeError(
            f"{what} needs a concrete value, but it was called on a traced array "
            "inside jax.jit/grad/vmap; call it outside the transformed function "
            "(return the array and convert it afterwards)"
        )
