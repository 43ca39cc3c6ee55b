"""torch.autograd entry points (grad, jacobian, vjp, ``backward``) over JAX transforms.

Thin wrappers: torch's scalar-output check and error text, JAX's machinery.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jtoolkit._src.autodiff.inputs import (
    argnums_tuple,
    as_input,
    check_differentiable,
    check_scalar,
)

__all__ = ["backward", "grad", "hessian", "jacobian", "jvp", "value_and_grad", "vjp"]


def _scalar_checked(fn: Callable, has_aux: bool) -> Callable:
    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        out = fn(*args, **kwargs)
        check_scalar(out[0] if has_aux else out, numel_one=False)
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
    args = tuple(as_input(a) for a in args)
    nums = argnums_tuple(argnums, len(args))
    check_differentiable(args, nums)

    def scalar_fn(*a: Any) -> tuple[jax.Array, Any]:
        out = fn(*a)
        value = out[0] if has_aux else out
        check_scalar(value, numel_one=True)
        return jnp.reshape(value, ()), out

    which = nums[0] if isinstance(argnums, int) else nums
    vg = jax.value_and_grad(scalar_fn, argnums=which, has_aux=True)
    (_, out), grads = vg(*args)
    return out, grads
