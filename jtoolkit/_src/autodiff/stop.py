"""Cutting gradients: ``detach`` and ``no_grad`` (torch.Tensor.detach, no_grad)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jtoolkit._src.core import arrays

__all__ = ["detach", "no_grad"]


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
        return jax.lax.stop_gradient(arrays.to_array(leaf))
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
