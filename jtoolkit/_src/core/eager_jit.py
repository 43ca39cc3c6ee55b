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
* Python numbers are options too, except in the parameters an op names as
  ``operands`` (the data of tensor ops: ``mul(x, lr)``, ``clamp(x, min=m)``).
  There a Python bool, int, float or complex is a traced input, so a loop over
  changing values compiles once: the program is keyed by the number's Python
  type, ``python_scalar(x)`` tells the op it was a Python number, and the traced
  value is weakly typed, so JAX promotes it as the number (``int32 * 2`` is
  int32, ``float16 * 2.5`` float16). It is the number as the eager call converts
  it (a float goes through float32, eagerly too), which holds for ints within
  +-2**24 that fit the call's integer arrays and floats within float32's range;
  other numbers run that call eagerly. Bools are traced too: as constants, XLA
  would fold ``x / False`` to 0 where it is NaN. A list of numbers there runs
  eagerly (its values would be compiled in).
* numpy int64 data is narrowed to int32 (without ``jax_enable_x64``) on the host
  where it fits; where it does not, the call runs eagerly and raises, as before.
* ``JTOOLKIT_EAGER_JIT=0`` turns it off (to step through an op with a debugger).

torch has no counterpart: its eager kernels need no compilation.
"""

from __future__ import annotations

import enum
import functools
import inspect
import math
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
    "python_scalar",
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


def python_scalar(x: Any) -> type | None:
    """The Python number type ``x`` is, or stands for inside an ``eager_jit`` trace.

    Args:
        x: anything an op received as an operand.

    Returns:
        ``bool``, ``int``, ``float`` or ``complex`` for a Python number (numpy
        scalars are arrays, as in torch), or for the traced value that carries a
        Python number passed in one of an op's ``operands``; None otherwise.

    Example:
        >>> python_scalar(2.5), python_scalar(True), python_scalar(np.float32(2.5))
        (<class 'float'>, <class 'bool'>, None)
    """
    if isinstance(x, jax.core.Tracer):
        return getattr(_STATE, "scalars", {}).get(id(x))
    if isinstance(x, np.generic):
        return None
    for kind in (bool, int, float, complex):
        if isinstance(x, kind):
            return kind
    return None


_NUMBERS = (bool, int, float, complex)
_F32_MAX = float(np.finfo(np.float32).max)
_EXACT_INT = 2**24  # larger ints round on their way to float32


def _traced_value(value: Any, in_call: list[np.dtype]) -> Any:
    """What to trace for a Python number in an ``operands`` parameter, given the
    dtypes of the call's arrays: a number JAX converts to exactly what the eager
    call computes with, or None (that call runs eagerly)."""
    if type(value) is bool:
        return value
    if type(value) is int:
        ints = [d for d in in_call if d.kind in "iu"]
        fits = all(np.iinfo(d).min <= value <= np.iinfo(d).max for d in ints)
        return value if fits and -_EXACT_INT <= value <= _EXACT_INT else None
    if bool(jax.config.read("jax_enable_x64")):
        return value  # float64/complex128: exact
    parts = (value.real, value.imag) if type(value) is complex else (value,)
    if any(math.isfinite(v) and abs(v) > _F32_MAX for v in parts):
        return None  # the eager conversion warns of the overflow
    return value  # float32, as the eager call converts it (float16: from there)


class _Scalar:
    """A Python number that a call passes as a traced input (a pytree leaf)."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: type, value: Any) -> None:
        self.kind, self.value = kind, value


def _operand_slots(fn: Callable, names: tuple[str, ...]) -> tuple[tuple, ...]:
    """(positional index or None, keyword name, variadic) of each parameter in
    ``names`` (a ``*args`` parameter covers every positional from its index)."""
    params = list(inspect.signature(fn).parameters.values())
    slots = []
    for name in names:
        at = [i for i, p in enumerate(params) if p.name == name]
        if not at:
            raise TypeError(f"eager_jit: {fn.__name__} has no parameter {name!r}")
        kind = params[at[0]].kind
        positional = kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.VAR_POSITIONAL,
        )
        variadic = kind == inspect.Parameter.VAR_POSITIONAL
        slots.append((at[0] if positional else None, name, variadic))
    return tuple(slots)


def _operand_values(args: tuple, kwargs: dict, slots: tuple) -> list[tuple]:
    """(where: an args index or a kwargs name, parameter name, value) of each
    operand this call passes."""
    found = []
    for index, name, variadic in slots:
        if variadic:
            found += [(i, name, args[i]) for i in range(index, len(args))]
        elif index is not None and index < len(args):
            found.append((index, name, args[index]))
        elif name in kwargs:
            found.append((name, name, kwargs[name]))
    return found


def _mark_scalars(
    args: tuple, kwargs: dict, slots: tuple, keep: Callable[[str, Any], bool] | None
) -> tuple[tuple, dict] | None:
    """Replace the Python numbers among the operands by ``_Scalar``s; None (run
    eagerly) for Python data (a list holding numbers, whose values would be
    compiled in) or a number only the eager call converts exactly."""
    found = []
    for where, name, value in _operand_values(args, kwargs, slots):
        if type(value) in _NUMBERS and not (keep and keep(name, value)):
            found.append((where, value))
        elif isinstance(value, list | tuple) and not all(
            isinstance(leaf, jax.Array | np.ndarray)
            for leaf in jax.tree_util.tree_leaves(value)
        ):
            return None
    if not found:
        return args, kwargs
    in_call = [
        np.dtype(leaf.dtype)
        for leaf in jax.tree_util.tree_leaves((args, kwargs))
        if isinstance(leaf, jax.Array | np.ndarray | np.generic)
    ]
    new_args, new_kwargs = list(args), dict(kwargs)
    for where, value in found:
        traced = _traced_value(value, in_call)
        if traced is None:
            return None
        if isinstance(where, int):
            new_args[where] = _Scalar(type(value), traced)
        else:
            new_kwargs[where] = _Scalar(type(value), traced)
    return tuple(new_args), new_kwargs


def _option_key(leaf: Any) -> Any:
    """A hashable key that tells apart options the program differs by."""
    if isinstance(leaf, float | np.floating):
        return (type(leaf), float(leaf).hex())  # -0.0 != 0.0, nan == nan
    return (type(leaf), leaf)


def _host_input(leaf: np.ndarray) -> np.ndarray | None:
    """A numpy array as the program takes it, or None (run eagerly): a number
    dtype, and integers narrowed to JAX's width only where they fit (eagerly,
    int64 data that does not fit int32 raises; a program would wrap it)."""
    if leaf.dtype.kind not in "biufc":
        return None
    stored = np.dtype(jax.dtypes.canonicalize_dtype(leaf.dtype))
    if leaf.dtype.kind not in "iu" or stored == leaf.dtype:
        return leaf
    info = np.iinfo(stored)
    if leaf.size and (leaf.min() < info.min or leaf.max() > info.max):
        return None
    return leaf.astype(stored)


def _split(args: tuple, kwargs: dict) -> tuple[Any, list, tuple, tuple, tuple] | None:
    """(treedef, inputs, their positions, their kinds, options), or None to run
    eagerly. An input is an array (kind: shape, dtype, weak type) or a Python
    number traced in its place (kind: its Python type)."""
    leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
    inputs, positions, kinds, options = [], [], [], []
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, jax.core.Tracer):
            return None  # inside a transformation: a plain call
        if isinstance(leaf, _Scalar):
            inputs.append(leaf.value)
            positions.append(i)
            kinds.append(leaf.kind)
        elif isinstance(leaf, jax.Array | np.ndarray):
            if isinstance(leaf, np.ndarray):
                leaf = _host_input(leaf)
                if leaf is None:
                    return None
            inputs.append(leaf)
            positions.append(i)
            kinds.append((leaf.shape, leaf.dtype, getattr(leaf, "weak_type", False)))
        elif isinstance(leaf, float) or isinstance(leaf, _IMMUTABLE):
            options.append((i, _option_key(leaf), leaf))
        else:
            return None
    return treedef, inputs, tuple(positions), tuple(kinds), tuple(options)


def traced(
    call: Callable[..., Any], args: tuple, kwargs: dict, scalars: dict | None = None
) -> tuple[Any, list]:
    """Inside a program that ``EagerPrograms`` compiles: ``call(*args, **kwargs)``
    and the arrays its deferred value checks (``check_values``) look at.

    Args:
        call: the op. args, kwargs: its arguments, as ``rebuild`` returns them.
        scalars: ``id(traced value) -> Python type`` of the Python numbers traced
            in its operands (``rebuild``), for ``python_scalar``.

    Returns:
        ``(out, arrays)``: the program returns both; the checks themselves are
        recorded for ``EagerPrograms.call``.
    """
    outer = getattr(_STATE, "scalars", {})
    _STATE.deferred = []
    _STATE.scalars = {**outer, **(scalars or {})}
    try:
        out = call(*args, **kwargs)
    finally:
        _STATE.scalars = outer
    deferred, _STATE.deferred = _STATE.deferred, []
    _STATE.checks = tuple(check for _, check in deferred)
    return out, [x for x, _ in deferred]


class EagerPrograms:
    """The bookkeeping of one op compiled for eager calls: the call signatures that
    run eagerly for good (they need values, or warn), and for each one that
    compiles, its program and value checks. ``eager_jit`` (functions) and the
    models' compiled forward (``jtoolkit._src.nn.eager_call``) share it.

    Each signature gets its own ``jax.jit`` of ``run`` with the leading ``static``
    arguments bound, so a later call passes only the arrays: JAX's dispatch then
    hashes no static arguments (treedefs, options, kinds) on every call, which cost
    more than the dispatch itself for a small op.

    Args:
        run: ``run(*static_args, *arrays) -> (out, arrays)``; its body calls the op
            through ``traced``.
        static: how many leading arguments of ``run`` are static (hashable).
        name: the programs' name (``jit(<name>)`` in JAX's logs and profiles).
    """

    # Past this many signatures the table starts again (a signature seen again
    # compiles again).
    _MAX_SIGNATURES = 512

    def __init__(
        self, run: Callable[..., tuple[Any, list]], static: int, name: str
    ) -> None:
        self.run = run
        self.static = static
        self.name = name
        self.eager_only: set[Any] = set()  # call signatures that need values
        self.known: dict[Any, tuple[tuple, Callable[..., Any]]] = {}

    def _program(self, bound: tuple) -> Callable[..., Any]:
        run = self.run

        def program(*arrays: Any) -> tuple[Any, list]:
            return run(*bound, *arrays)

        program.__name__ = program.__qualname__ = self.name
        return jax.jit(program)

    def call(self, signature: Any, eager: Callable[[], R], *args: Any) -> R:
        """The program for a hashable call ``signature`` on ``args`` (``run``'s),
        or ``eager()`` when that signature needs values or warns (found on its
        first call)."""
        entry = self.known.get(signature)
        out: Any = None
        values: list = []
        _STATE.depth = getattr(_STATE, "depth", 0) + 1  # also if JAX retraces
        _STATE.checks = ()
        try:
            if entry is not None:
                out, values = entry[1](*args[self.static :])
            elif signature in self.eager_only:
                return eager()
            else:
                program = self._program(args[: self.static])
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    out, values = program(*args[self.static :])
                if not caught:  # an eager call that warns does so every call
                    if len(self.known) >= self._MAX_SIGNATURES:
                        self.known.clear()
                    entry = self.known[signature] = (_STATE.checks, program)
        except (NeedsValues, *_NEEDS_VALUES):
            pass
        finally:
            _STATE.depth -= 1
        if entry is None:  # values needed, or warnings: eagerly from now on
            self.eager_only.add(signature)
            return eager()
        for check, value in zip(entry[0], values, strict=True):
            check(np.asarray(value))
        return out


# ``JTOOLKIT_EAGER_JIT`` is read on every eager call (a test or a debugger session
# may set it at run time); ``os.environ.get`` encodes the key and decodes the value
# each time (~5 us, a quarter of a small op's call), so read CPython's own
# encoded mapping behind it where there is one.
_ENV_DATA: Any = getattr(os.environ, "_data", None)
_ENV_OFF = (
    (os.environ.encodekey("JTOOLKIT_EAGER_JIT"), os.environ.encodevalue("0"))  # pyright: ignore[reportAttributeAccessIssue]
    if isinstance(_ENV_DATA, dict)
    else None
)


def _switched_off() -> bool:
    if _ENV_OFF is not None:
        return _ENV_DATA.get(_ENV_OFF[0]) == _ENV_OFF[1]
    return os.environ.get("JTOOLKIT_EAGER_JIT", "1") == "0"


def enabled() -> bool:
    """Whether this call is eager and compiles: no trace is running (a user's jit
    over constants calls ops with concrete arrays), and ``JTOOLKIT_EAGER_JIT=0``
    did not turn it off."""
    return _trace_state_clean() and not _switched_off()


def split_call(
    args: tuple, kwargs: dict
) -> tuple[Any, list, tuple, tuple, tuple, tuple] | None:
    """A call's ``(treedef, inputs, positions, kinds, options, signature)``: its
    inputs (arrays, and Python numbers marked by ``eager_jit(operands=...)``) are a
    program's, the rest is compiled in; ``signature`` keys both. None when the call
    must run eagerly (a tracer, or an option that cannot be compiled in)."""
    split = _split(args, kwargs)
    if split is None:
        return None
    treedef, inputs, positions, kinds, options = split
    static = tuple((i, key) for i, key, _ in options)
    signature = (treedef, positions, static, kinds)
    try:
        hash(signature)
    except TypeError:  # an unhashable option: run eagerly
        return None
    return treedef, inputs, positions, kinds, options, signature


def avals(arrays: list) -> tuple:
    """Shapes, dtypes and weak types: what a compiled program is specialized on."""
    return tuple((a.shape, a.dtype, getattr(a, "weak_type", False)) for a in arrays)


def rebuild(
    options: tuple, treedef: Any, positions: tuple, kinds: tuple, inputs: list
) -> tuple[tuple, dict, dict]:
    """The ``(args, kwargs)`` that ``split_call`` split, and the Python numbers
    among them (``id(traced value) -> type``, for ``traced``)."""
    leaves: list[Any] = [None] * (len(positions) + len(options))
    scalars = {}
    for i, kind, value in zip(positions, kinds, inputs, strict=True):
        leaves[i] = value
        if isinstance(kind, type):
            scalars[id(value)] = kind
    for i, _, value in options:
        leaves[i] = value
    args, kwargs = jax.tree_util.tree_unflatten(treedef, leaves)
    return args, kwargs, scalars


def eager_jit(
    fn: Callable[P, R] | None = None,
    *,
    operands: tuple[str, ...] = (),
    keep_static: Callable[[str, Any], bool] | None = None,
) -> Any:
    """Run ``fn`` as one compiled program when it is called eagerly.

    Args:
        fn: a pure array op whose outputs are arrays (or pytrees of arrays).
        operands: names of ``fn``'s data parameters (arrays, lists, Python
            numbers): a Python number there is a traced input (see
            ``python_scalar``) instead of an option compiled in by value, and a
            list or tuple of numbers runs that call eagerly.
        keep_static: ``(name, value) -> bool``: True keeps that number an option
            (an op whose program depends on the value, as ``pow``'s integer
            exponents).

    Returns:
        ``fn`` with the same signature, docstring and results (or, without
        ``fn``, a decorator).

    Example:
        >>> import jax.numpy as jnp
        >>> @eager_jit
        ... def scaled_sum(x, scale=2.0):
        ...     return (x * scale).sum()
        >>> float(scaled_sum(jnp.arange(4.0), scale=0.5))
        3.0
        >>> @eager_jit(operands=("a", "b"))
        ... def times(a, b):
        ...     return a * b
        >>> [times(jnp.ones(2, jnp.int32), b).dtype.name for b in (2, 3, 1.5)]
        ['int32', 'int32', 'float32']
    """
    if fn is None:
        return functools.partial(eager_jit, operands=operands, keep_static=keep_static)
    op: Callable[..., Any] = fn
    slots = _operand_slots(op, operands)

    def run(
        options: tuple, treedef: Any, positions: tuple, kinds: tuple, inputs: list
    ) -> Any:
        args, kwargs, scalars = rebuild(options, treedef, positions, kinds, inputs)
        return traced(op, args, kwargs, scalars)

    programs = EagerPrograms(run, 4, getattr(op, "__name__", "op"))

    @functools.wraps(op)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not enabled():
            return op(*args, **kwargs)
        marked = _mark_scalars(args, kwargs, slots, keep_static) if slots else None
        if slots and marked is None:
            return op(*args, **kwargs)
        split = split_call(*(marked or (args, kwargs)))
        if split is None:
            return op(*args, **kwargs)
        treedef, inputs, positions, kinds, options, signature = split
        return programs.call(
            signature,
            lambda: op(*args, **kwargs),
            options,
            treedef,
            positions,
            kinds,
            inputs,
        )

    return wrapper
