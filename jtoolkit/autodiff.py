"""torch.autograd as thin wrappers over JAX's function transformations.

torch records a graph while tensors flow and ``out.backward()`` fills ``x.grad``;
JAX differentiates functions. The mapping:

=====================================  ==============================================
torch                                  jtoolkit.autodiff
=====================================  ==============================================
``out.backward(); x.grad``             ``value, g = backward(fn, x)``
``torch.func.grad(f)(x)``              ``grad(f)(x)`` (also ``value_and_grad``)
``y.retain_grad(); ...; y.grad``       ``retain("y", y)`` inside ``fn``, then
                                       ``intermediate_grads(fn, x).intermediates``
``x.detach()``                         ``detach(x)``
``@torch.no_grad()``                   ``@no_grad`` (outputs carry no gradient)
=====================================  ==============================================

Nothing accumulates: every call returns fresh gradients (torch adds into
``.grad`` until ``zero_grad()``), and there is no ``retain_graph``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit import _tensor_common as common

__all__ = [
    "IntermediateGrads",
    "backward",
    "detach",
    "grad",
    "hessian",
    "intermediate_grads",
    "jacobian",
    "jvp",
    "no_grad",
    "retain",
    "value_and_grad",
    "vjp",
]

_SCALAR_ONLY = "grad can be implicitly created only for scalar outputs"


def _check_scalar(value: Any, numel_one: bool) -> None:
    """torch's error for a non-scalar output (``numel_one``: shape [1] passes)."""
    shape = tuple(np.shape(value))
    if shape == () or (numel_one and int(np.prod(shape)) == 1):
        return
    raise RuntimeError(
        f"{_SCALAR_ONLY} (the function returned shape {common.shape_str(shape)}; "
        "reduce it first, e.g. with .sum() or .mean(), or use vjp/jacobian)"
    )


def _scalar_checked(fn: Callable, has_aux: bool) -> Callable:
    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        out = fn(*args, **kwargs)
        _check_scalar(out[0] if has_aux else out, numel_one=False)
        return out

    return checked


def grad(
    fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable:
    """The gradient function of a scalar function (``jax.grad``).

    torch counterpart: ``torch.func.grad(func, argnums=0, has_aux=False)``, and
    ``out.backward(); x.grad`` of the eager API.

    Args:
        fn: function of arrays/pytrees returning a 0-d float (``(value, aux)`` with
            ``has_aux``).
        argnums: which positional argument(s) to differentiate.
        has_aux: ``fn`` returns ``(value, aux)``; the gradient function then returns
            ``(grads, aux)``.

    Returns:
        A function with ``fn``'s arguments returning the gradients (a tuple for a
        tuple ``argnums``), each shaped like its argument.

    Raises:
        RuntimeError: (when called) ``fn`` returned a non-scalar.

    Example:
        >>> from jtoolkit.autodiff import grad
        >>> grad(lambda x: (x**2).sum())(jnp.array([1.0, 2.0])).tolist()
        [2.0, 4.0]
    """
    return jax.grad(_scalar_checked(fn, has_aux), argnums=argnums, has_aux=has_aux)


def value_and_grad(
    fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable:
    """A function returning ``(value, gradients)`` of a scalar function.

    torch counterpart: ``torch.func.grad_and_value`` (note the order: JAX and
    jtoolkit give the value first).

    Args:
        fn, argnums, has_aux: as :func:`grad`.

    Returns:
        A function returning ``(value, grads)`` (``((value, aux), grads)`` with
        ``has_aux``).

    Raises:
        RuntimeError: (when called) ``fn`` returned a non-scalar.

    Example:
        >>> from jtoolkit.autodiff import value_and_grad
        >>> v, g = value_and_grad(lambda x: (x**2).sum())(jnp.array([1.0, 2.0]))
        >>> float(v), g.tolist()
        (5.0, [2.0, 4.0])
    """
    return jax.value_and_grad(
        _scalar_checked(fn, has_aux), argnums=argnums, has_aux=has_aux
    )


def jacobian(
    fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable:
    """The Jacobian function, by reverse mode (``jax.jacrev``).

    torch counterpart: ``torch.func.jacrev(func, argnums=0, has_aux=False)``;
    ``jacobian(f)(x)`` equals ``torch.autograd.functional.jacobian(f, x)``.

    Args:
        fn: function of arrays returning an array (or pytree).
        argnums: which positional argument(s) to differentiate.
        has_aux: ``fn`` returns ``(output, aux)``.

    Returns:
        A function returning arrays of shape ``output.shape + input.shape``.

    Example:
        >>> from jtoolkit.autodiff import jacobian
        >>> jacobian(lambda x: 3.0 * x)(jnp.ones(2)).tolist()
        [[3.0, 0.0], [0.0, 3.0]]
    """
    return jax.jacrev(fn, argnums=argnums, has_aux=has_aux)


def hessian(
    fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable:
    """The Hessian function of a scalar function (``jax.hessian``).

    torch counterpart: ``torch.func.hessian(func, argnums=0)`` and
    ``torch.autograd.functional.hessian(f, x)``.

    Args:
        fn: scalar function.
        argnums: which positional argument(s) to differentiate.
        has_aux: ``fn`` returns ``(value, aux)``.

    Returns:
        A function returning arrays of shape ``input.shape + input.shape``.

    Example:
        >>> from jtoolkit.autodiff import hessian
        >>> hessian(lambda x: (x**3).sum())(jnp.array([1.0, 2.0])).tolist()
        [[6.0, 0.0], [0.0, 12.0]]
    """
    return jax.hessian(_scalar_checked(fn, has_aux), argnums=argnums, has_aux=has_aux)


def vjp(fn: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """Evaluate ``fn`` and return a function pulling cotangents back (``jax.vjp``).

    torch counterpart: ``torch.func.vjp(func, *primals, has_aux=False)``; torch's
    ``out.backward(gradient=v)`` is ``vjp(fn, x)[1](v)``.

    Args:
        fn: function of arrays.
        *primals: the inputs.
        has_aux: ``fn`` returns ``(output, aux)``.

    Returns:
        ``(output, vjp_fn)`` (``(output, vjp_fn, aux)`` with ``has_aux``);
        ``vjp_fn(v)`` returns a tuple with one cotangent per primal.

    Example:
        >>> from jtoolkit.autodiff import vjp
        >>> out, pull = vjp(lambda x: x * 2.0, jnp.array([1.0, 2.0]))
        >>> pull(jnp.array([1.0, 10.0]))[0].tolist()
        [2.0, 20.0]
    """
    return jax.vjp(fn, *primals, has_aux=has_aux)


def jvp(fn: Callable, primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False) -> tuple:  # fmt: skip
    """Evaluate ``fn`` and its directional derivative (``jax.jvp``, forward mode).

    torch counterpart: ``torch.func.jvp(func, primals, tangents, has_aux=False)``.

    Args:
        fn: function of arrays.
        primals: tuple of inputs.
        tangents: tuple of directions, shaped like ``primals``.
        has_aux: ``fn`` returns ``(output, aux)``.

    Returns:
        ``(output, tangent_out)`` (and ``aux`` with ``has_aux``).

    Example:
        >>> from jtoolkit.autodiff import jvp
        >>> out, t = jvp(lambda x: x**2, (jnp.array(3.0),), (jnp.array(1.0),))
        >>> float(out), float(t)
        (9.0, 6.0)
    """
    return jax.jvp(fn, tuple(primals), tuple(tangents), has_aux=has_aux)


def _as_input(x: Any) -> Any:
    """numpy arrays and nested lists of numbers become arrays; pytrees stay."""
    if isinstance(x, np.ndarray | np.generic):
        return common.to_array(x)
    if (
        isinstance(x, list | tuple)
        and x
        and all(isinstance(leaf, bool | int | float) for leaf in jax.tree.leaves(x))
    ):
        return common.to_array(x)
    return x


def _check_differentiable(args: tuple[Any, ...], nums: tuple[int, ...]) -> None:
    for n in nums:
        for leaf in jax.tree.leaves(args[n]):
            dtype = getattr(leaf, "dtype", None)
            if isinstance(leaf, bool | int) or (
                dtype is not None and not common.is_float(dtype)
            ):
                raise RuntimeError(
                    "Only Tensors of floating point and complex dtype can require "
                    f"gradients (argument {n} holds {dtype or type(leaf).__name__}; "
                    "pass floats, e.g. tensor([1.0, 2.0]))"
                )


def _argnums(argnums: int | Sequence[int], nargs: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not -nargs <= n < nargs:
            raise IndexError(
                f"argnums={argnums} is out of range for {nargs} positional argument(s)"
            )
    return tuple(n % nargs for n in nums)


def backward(
    fn: Callable, *args: Any, argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> tuple[Any, Any]:
    """Value and gradients of a scalar function: ``out.backward(); x.grad``.

    torch counterpart: ``out = fn(x); out.backward(); x.grad``. Gradients do not
    accumulate between calls (torch adds into ``.grad``).

    Args:
        fn: function returning a one-element float array (``(value, aux)`` with
            ``has_aux``).
        *args: its inputs (arrays, pytrees; numpy and lists of numbers are
            converted as :func:`~jtoolkit.tensor_ops.tensor` does).
        argnums: the argument(s) whose gradients are returned (``x`` in
            ``x.grad``).
        has_aux: ``fn`` returns ``(value, aux)``; the value is then ``(value, aux)``.

    Returns:
        ``(value, grads)``: ``fn``'s output and the gradients (a tuple for a tuple
        ``argnums``).

    Raises:
        RuntimeError: ``fn`` returned more than one element ("grad can be implicitly
            created only for scalar outputs"), or a differentiated argument is not
            floating point.

    Example:
        >>> from jtoolkit.autodiff import backward
        >>> out, g = backward(lambda x: (3 * (x + 2) ** 2).mean(), jnp.ones((2, 2)))
        >>> float(out), g.tolist()
        (27.0, [[4.5, 4.5], [4.5, 4.5]])
    """
    args = tuple(_as_input(a) for a in args)
    nums = _argnums(argnums, len(args))
    _check_differentiable(args, nums)

    def scalar_fn(*a: Any) -> tuple[jax.Array, Any]:
        out = fn(*a)
        value = out[0] if has_aux else out
        _check_scalar(value, numel_one=True)
        return jnp.reshape(value, ()), out

    which = nums[0] if isinstance(argnums, int) else nums
    vg = jax.value_and_grad(scalar_fn, argnums=which, has_aux=True)
    (_, out), grads = vg(*args)
    return out, grads


def detach(x: Any) -> Any:
    """Stop gradients flowing through ``x`` (``jax.lax.stop_gradient``).

    torch counterpart: ``tensor.detach()``.

    Args:
        x: an array or a pytree of arrays (other leaves pass through).

    Returns:
        The same values, treated as constants by ``grad``.

    Example:
        >>> from jtoolkit.autodiff import detach, grad
        >>> float(grad(lambda x: x * detach(x))(3.0))
        3.0
    """
    return jax.tree.map(_stop, x)


def _stop(leaf: Any) -> Any:
    if isinstance(leaf, jax.Array | np.ndarray | np.generic):
        return jax.lax.stop_gradient(common.to_array(leaf))
    return leaf


class _NoGrad(contextlib.ContextDecorator):
    """``@no_grad()`` and ``with no_grad():`` (a no-op block: JAX records nothing)."""

    def __call__(self, fn: Callable) -> Callable:  # type: ignore[override]
        return no_grad(fn)

    def __enter__(self) -> _NoGrad:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def no_grad(fn: Callable | None = None) -> Any:
    """Decorate a function so that its outputs carry no gradient.

    torch counterpart: ``@torch.no_grad()`` / ``with torch.no_grad():``. JAX
    computes gradients only when asked, so inference code needs nothing; this
    makes the intent explicit and applies ``stop_gradient`` to every output, so
    the function is a constant inside ``grad``. ``@no_grad``, ``@no_grad()`` and
    ``with no_grad():`` (which does nothing) all work.

    Args:
        fn: the function; None returns a decorator/context manager.

    Returns:
        The wrapped function (or the decorator).

    Example:
        >>> from jtoolkit.autodiff import grad, no_grad
        >>> @no_grad
        ... def double(x):
        ...     return 2.0 * x
        >>> float(grad(lambda x: double(x) + x)(1.0))
        1.0
    """
    if fn is None:
        return _NoGrad()

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return detach(fn(*args, **kwargs))

    return wrapped


# --- retain / intermediate_grads: the twin of ``tensor.retain_grad()`` -----------
#
# ``retain(name, y)`` inside ``fn`` is the identity, except while
# ``intermediate_grads`` traces ``fn``: a first abstract pass records every name's
# shape, the second adds a zero "perturbation" input per name, and the gradient with
# respect to that perturbation is d out / d y (the trick flax's ``perturb`` uses).

_STATE = threading.local()


class _Record:
    def __init__(self) -> None:
        self.shapes: dict[str, Any] = {}

    def retain(self, name: str, x: Any) -> Any:
        if name in self.shapes:
            raise ValueError(
                f"retain(): the name {name!r} is used twice; give each intermediate "
                "its own name"
            )
        for leaf in jax.tree.leaves(x):
            if not common.is_float(jnp.result_type(leaf)):
                raise RuntimeError(
                    f"can't retain_grad on Tensor that has requires_grad=False: "
                    f"retain({name!r}, ...) got {jnp.result_type(leaf)}; only "
                    "floating-point values have gradients"
                )
        self.shapes[name] = jax.tree.map(
            lambda leaf: jax.ShapeDtypeStruct(jnp.shape(leaf), jnp.result_type(leaf)),
            x,
        )
        return x


class _Perturb:
    def __init__(self, perturbations: dict[str, Any]) -> None:
        self.perturbations = perturbations
        self.seen: set[str] = set()

    def retain(self, name: str, x: Any) -> Any:
        if name not in self.perturbations or name in self.seen:
            raise RuntimeError(
                f"retain({name!r}) was not called the same way in both traces of "
                "fn; fn must call retain() with fixed names, once each"
            )
        self.seen.add(name)
        return jax.tree.map(jnp.add, x, self.perturbations[name])


@contextlib.contextmanager
def _active(ctx: _Record | _Perturb) -> Iterator[None]:
    stack = _STATE.__dict__.setdefault("stack", [])
    stack.append(ctx)
    try:
        yield
    finally:
        stack.pop()


def retain(name: str, x: Any) -> Any:
    """Name an intermediate for :func:`intermediate_grads` (the identity elsewhere).

    torch counterpart: ``y.retain_grad()`` (then ``y.grad``).

    Args:
        name: a name unique within the function.
        x: a floating-point array (or pytree of them).

    Returns:
        ``x`` (use the returned value, so the gradient flows through the marker).

    Raises:
        ValueError: a name used twice in one call. RuntimeError: a non-float ``x``.

    Example:
        >>> from jtoolkit.autodiff import retain
        >>> retain("y", jnp.ones(2)).tolist()  # outside intermediate_grads: identity
        [1.0, 1.0]
    """
    stack = getattr(_STATE, "stack", None)
    return stack[-1].retain(name, x) if stack else x


class IntermediateGrads(NamedTuple):
    """Result of :func:`intermediate_grads` (unpacks as a 3-tuple)."""

    value: Any
    """``fn``'s output (``(value, aux)`` with ``has_aux``)."""
    intermediates: dict[str, Any]
    """``{name: d out / d intermediate}`` for every ``retain(name, ...)``."""
    grads: Any
    """Gradients of the arguments at ``argnums`` (``x.grad``)."""


def intermediate_grads(
    fn: Callable, *args: Any, argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> IntermediateGrads:
    """Gradients of a scalar output w.r.t. named intermediates (``retain_grad``).

    torch counterpart: ``y.retain_grad(); out.backward(); y.grad, x.grad``. Inside
    ``fn``, write ``y = retain("y", x + 2)``; this returns ``d out / d y`` under the
    name "y", plus the argument gradients. Works under ``jax.jit`` (jit the call to
    ``intermediate_grads``, not ``fn`` alone: a jitted ``fn`` reuses its compiled
    trace and skips the markers, which raises). ``fn`` is traced twice (shapes,
    then gradients). A ``retain`` inside ``lax.scan``/``fori_loop`` bodies gives
    the gradient summed over iterations.

    Args:
        fn: function calling :func:`retain`; returns a one-element float array.
        *args: its inputs (numpy and lists of numbers become arrays).
        argnums: argument(s) whose gradients go into ``grads``.
        has_aux: ``fn`` returns ``(value, aux)``.

    Returns:
        :class:`IntermediateGrads` ``(value, intermediates, grads)``.

    Raises:
        RuntimeError: non-scalar output ("grad can be implicitly created only for
            scalar outputs"), non-float arguments, or markers skipped in a trace.
        ValueError: ``fn`` called no :func:`retain`, or reused a name.

    Example:
        >>> from jtoolkit.autodiff import intermediate_grads, retain
        >>> def f(x):
        ...     y = retain("y", x + 2)
        ...     return (y * y * 3).mean()
        >>> out, inter, gx = intermediate_grads(f, jnp.ones((2, 2)))
        >>> float(out), inter["y"].tolist(), gx.tolist()
        (27.0, [[4.5, 4.5], [4.5, 4.5]], [[4.5, 4.5], [4.5, 4.5]])
    """
    args = tuple(_as_input(a) for a in args)
    nums = _argnums(argnums, len(args))
    _check_differentiable(args, nums)
    record = _Record()
    with _active(record):
        jax.eval_shape(lambda: fn(*args))
    if not record.shapes:
        raise ValueError(
            "intermediate_grads(): fn called no retain(name, value), so there is no "
            "intermediate to differentiate (if fn is jax.jit-wrapped, its cached "
            "trace skips retain: pass the plain function and jit the whole call)"
        )
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), record.shapes)

    def perturbed(perturbations: dict[str, Any], *a: Any) -> tuple[jax.Array, Any]:
        ctx = _Perturb(perturbations)
        with _active(ctx):
            out = fn(*a)
        if ctx.seen != set(perturbations):
            missing = sorted(set(perturbations) - ctx.seen)
            raise RuntimeError(
                f"retain({missing[0]!r}) was skipped while differentiating fn (is fn, "
                "or the part calling retain, jax.jit-wrapped? jit the whole "
                "intermediate_grads call instead)"
            )
        value = out[0] if has_aux else out
        _check_scalar(value, numel_one=True)
        return jnp.reshape(value, ()), out

    diff = (0, *(n + 1 for n in nums))
    vg = jax.value_and_grad(perturbed, argnums=diff, has_aux=True)
    (_, out), grads = vg(zeros, *args)
    leaf_grads = grads[1] if isinstance(argnums, int) else tuple(grads[1:])
    return IntermediateGrads(out, grads[0], leaf_grads)
