"""``retain`` / ``intermediate_grads``: the twin of torch's ``tensor.retain_grad()``.

``retain(name, y)`` inside ``fn`` is the identity, except while
``intermediate_grads`` traces ``fn``: a first abstract pass records every name's
shape, the second adds a zero "perturbation" input per name, and the gradient with
respect to that perturbation is d out / d y (the trick flax's ``perturb`` uses).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jtoolkit._src.autodiff.inputs import (
    argnums_tuple,
    as_input,
    check_differentiable,
    check_scalar,
)
from jtoolkit._src.core import dtypes

__all__ = ["IntermediateGrads", "intermediate_grads", "retain"]


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
            if not dtypes.is_float(jnp.result_type(leaf)):
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
    args = tuple(as_input(a) for a in args)
    nums = argnums_tuple(argnums, len(args))
    check_differentiable(args, nums)
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
        check_scalar(value, numel_one=True)
        return jnp.reshape(value, ()), out

    diff = (0, *(n + 1 for n in nums))
    vg = jax.value_and_grad(perturbed, argnums=diff, has_aux=True)
    (_, out), grads = vg(zeros, *args)
    leaf_grads = grads[1] if isinstance(argnums, int) else tuple(grads[1:])
    return IntermediateGrads(out, grads[0], leaf_grads)
