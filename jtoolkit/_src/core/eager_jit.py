"""One compiled program per eager call of an op, instead of one per primitive.

A jnp op called outside ``jax.jit`` runs primitive by primitive, and XLA compiles
every primitive on every new shape as its own program: a first ``F.max_pool2d`` on
a new shape compiled 13 programs (about 0.6 s of XLA on a 2-core CPU) and every
later call dispatched 13 times. torch users call ``F.*`` eagerly all the time.
``eager_jit`` compiles the whole op once per (array shapes and dtypes, options)
and dispatches it once; inside a transformation (jit, grad, vmap) it is a plain
call, so a user's own ``jax.jit`` sees the op exactly as before.

What keeps it exact (the op's numbers, errors and warnings are those of the eager
call):

* Arrays (``jax.Array``, ``numpy.ndarray``) are the program's inputs. Every other
  argument is compiled in, and only immutable values may be: None, bools,
  numbers, strings, bytes, dtypes, types, enums, numpy scalars and plain
  functions, in tuples, lists and dicts. Any other object (a module, a variable,
  a mutable container) makes that call run eagerly, as before.
* A check of values (a class index in range, probabilities in [0, 1]) goes
  through ``check_values(x, check)``: the compiled program also returns ``x``,
  and ``check`` runs on its values after every call, raising as the eager call
  would (inside a user's own jit, where no values exist, it is skipped as before).
* An op that needs values for anything else (``item()``, a value-dependent
  shape) asks ``dtypes.is_tracer`` and friends, which abort the trace; a trace
  that converts a traced value to Python, or warns, is abandoned too. That call
  signature then runs eagerly for good, with every check and warning.
* ``JTOOLKIT_EAGER_JIT=0`` turns it off (to step through an op with a debugger).

torch has no counterpart: its eager kernels need no compilation.
"""

from __future__ import annotations

import enum
import functools
import os
import threading
import types
import warnings
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import jax
import jax.core
import numpy as np
from jax._src.core import trace_state_clean as _trace_state_clean  # no public twin

__all__ = [
    "EagerPrograms",
    "NeedsValues",
    "avals",
    "check_values",
    "eager_jit",
    "enabled",
    "rebuild",
    "split_call",
    "traced",
    "tracing_for_eager_jit",
]

P = ParamSpec("P")
R = TypeVar("R")

_STATE = threading.local()
_IMMUTABLE = (
    type(None),
    bool,
    int,
    complex,
    str,
    bytes,
    np.dtype,
    np.generic,
    type,
    enum.Enum,
    types.FunctionType,
    types.BuiltinFunctionType,
    jax.custom_jvp,
    jax.custom_vjp,
)
# A traced value reached Python: the op needs values, so it runs eagerly.
_NEEDS_VALUES = (
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerArrayConversionError,
    jax.errors.TracerBoolConversionError,
    jax.errors.TracerIntegerConversionError,
)


class NeedsValues(Exception):
    """Raised inside an ``eager_jit`` trace by a check that needs concrete values;
    the wrapper catches it and runs the call eagerly."""


def tracing_for_eager_jit() -> bool:
    """Whether this thread is tracing an op for ``eager_jit`` (value checks then
    raise ``NeedsValues`` instead of being skipped, as they are in a user's jit).

    Example:
        >>> tracing_for_eager_jit()
        False
    """
    return getattr(_STATE, "depth", 0) > 0


def check_values(x: Any, check: Callable[[np.ndarray], None]) -> None:
    """Run ``check`` on ``x``'s values wherever they are known.

    Args:
        x: an array (or array-like) whose values ``check`` inspects.
        check: raises when the values are invalid; it may close over Python
            options and shapes, never over traced arrays.

    Now when ``x`` is concrete; after the compiled call when ``eager_jit`` traces
    the op (the program returns ``x``); not at all inside a user's own
    ``jax.jit``/``grad``/``vmap``, where the values do not exist yet.

    Example:
        >>> def non_negative(v):
        ...     if (v < 0).any():
        ...         raise ValueError(f"negative entry {v.min()}")
        >>> check_values(np.asarray([1.0, 2.0]), non_negative)
    """
    try:
        values = np.asarray(x)
    except (
        jax.errors.TracerArrayConversionError,
        jax.errors.ConcretizationTypeError,
    ):
        if tracing_for_eager_jit():
            _STATE.deferred.append((x, check))
        return
    check(values)


def _option_key(leaf: Any) -> Any:
    """A hashable key that tells apart options the program differs by."""
    if isinstance(leaf, float | np.floating):
        return (type(leaf), float(leaf).hex())  # -0.0 != 0.0, nan == nan
    return (type(leaf), leaf)


def _split(args: tuple, kwargs: dict) -> tuple[Any, list, tuple, tuple] | None:
    """(treedef, arrays, their positions, options key), or None to run eagerly."""
    leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
    arrays, positions, options = [], [], []
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, jax.core.Tracer):
            return None  # inside a transformation: a plain call
        if isinstance(leaf, jax.Array | np.ndarray):
            if isinstance(leaf, np.ndarray) and leaf.dtype.kind == "O":
                return None
            arrays.append(leaf)
            positions.append(i)
        elif isinstance(leaf, float) or isinstance(leaf, _IMMUTABLE):
            options.append((i, _option_key(leaf), leaf))
        else:
            return None
    return treedef, arrays, tuple(positions), tuple(options)


def traced(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, list]:
    """Inside a program that ``EagerPrograms`` compiles: ``call(*args, **kwargs)``
    and the arrays its deferred value checks (``check_values``) look at.

    Returns:
        ``(out, arrays)``: the program returns both; the checks themselves are
        recorded for ``EagerPrograms.call``.
    """
    _STATE.deferred = []
    out = call(*args, **kwargs)
    deferred, _STATE.deferred = _STATE.deferred, []
    _STATE.checks = tuple(check for _, check in deferred)
    return out, [x for x, _ in deferred]


class EagerPrograms:
    """The bookkeeping of one op compiled for eager calls: the call signatures that
    run eagerly for good (they need values, or warn) and the value checks of those
    that compile. ``eager_jit`` (functions) and the models' compiled forward
    (``jtoolkit._src.nn.eager_call``) share it.

    Args:
        compiled: a ``jax.jit`` function whose body calls the op through
            ``traced`` and returns its ``(out, arrays)``.
    """

    def __init__(self, compiled: Callable[..., tuple[Any, list]]) -> None:
        self.compiled = compiled
        self.eager_only: set[Any] = set()  # call signatures that need values
        self.checks: dict[Any, tuple] = {}  # traced call signature -> its checks

    def call(self, signature: Any, eager: Callable[[], R], *args: Any) -> R:
        """``compiled(*args)`` for a hashable call ``signature``, or ``eager()`` when
        that signature needs values or warns (found on its first call)."""
        if signature in self.eager_only:
            return eager()
        known = self.checks.get(signature)
        out: Any = None
        values: list = []
        _STATE.depth = getattr(_STATE, "depth", 0) + 1  # also if JAX retraces
        _STATE.checks = ()
        try:
            if known is not None:
                out, values = self.compiled(*args)
            else:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    out, values = self.compiled(*args)
                if not caught:  # an eager call that warns does so every call
                    known = self.checks[signature] = _STATE.checks
        except (NeedsValues, *_NEEDS_VALUES):
            pass
        finally:
            _STATE.depth -= 1
        if known is None:  # values needed, or warnings: eagerly from now on
            self.eager_only.add(signature)
            return eager()
        for check, value in zip(known, values, strict=True):
            check(np.asarray(value))
        return out


def enabled() -> bool:
    """Whether this call is eager and compiles: no trace is running (a user's jit
    over constants calls ops with concrete arrays), and ``JTOOLKIT_EAGER_JIT=0``
    did not turn it off."""
    return _trace_state_clean() and os.environ.get("JTOOLKIT_EAGER_JIT", "1") != "0"


def split_call(args: tuple, kwargs: dict) -> tuple[Any, list, tuple, Any, tuple] | None:
    """A call's ``(treedef, arrays, positions, options, signature)``: its arrays are
    a program's inputs, the rest compiled in; ``signature`` keys both. None when the
    call must run eagerly (a tracer, or an option that cannot be compiled in)."""
    split = _split(args, kwargs)
    if split is None:
        return None
    treedef, arrays, positions, options = split
    static = tuple((i, key) for i, key, _ in options)
    signature = (treedef, positions, static, avals(arrays))
    try:
        hash(signature)
    except TypeError:  # an unhashable option: run eagerly
        return None
    return treedef, arrays, positions, _Options(options, static), signature


def avals(arrays: list) -> tuple:
    """Shapes, dtypes and weak types: what a compiled program is specialized on."""
    return tuple(
        (a.shape, str(a.dtype), getattr(a, "weak_type", False)) for a in arrays
    )


def rebuild(options: Any, treedef: Any, positions: tuple, arrays: list) -> Any:
    """The ``(args, kwargs)`` that ``split_call`` split."""
    leaves: list[Any] = [None] * (len(positions) + len(options))
    for i, array in zip(positions, arrays, strict=True):
        leaves[i] = array
    for i, _, value in options:
        leaves[i] = value
    return jax.tree_util.tree_unflatten(treedef, leaves)


def eager_jit(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` as one compiled program when it is called eagerly.

    Args:
        fn: a pure array op whose outputs are arrays (or pytrees of arrays).

    Returns:
        ``fn`` with the same signature, docstring and results.

    Example:
        >>> import jax.numpy as jnp
        >>> @eager_jit
        ... def scaled_sum(x, scale=2.0):
        ...     return (x * scale).sum()
        >>> float(scaled_sum(jnp.arange(4.0), scale=0.5))
        3.0
    """

    def run(options: Any, treedef: Any, positions: tuple, arrays: list) -> Any:
        args, kwargs = rebuild(options, treedef, positions, arrays)
        return traced(fn, *args, **kwargs)

    programs = EagerPrograms(jax.jit(run, static_argnums=(0, 1, 2)))

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        split = split_call(args, kwargs) if enabled() else None
        if split is None:
            return fn(*args, **kwargs)
        treedef, arrays, positions, options, signature = split
        return programs.call(
            signature, lambda: fn(*args, **kwargs), options, treedef, positions, arrays
        )

    return wrapper


class _Options:
    """The compiled-in options of one call: hashed and compared by their keys, so
    the values (functions, dtypes) reach the op as they were passed."""

    __slots__ = ("_key", "values")

    def __init__(self, values: tuple, key: tuple) -> None:
        self.values = values
        self._key = key

    def __iter__(self):
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Options) and self._key == other._key
