"""Leaving JAX and reading shapes: ``item``, ``numpy``, ``size``; and ``zero_``.

Host conversions need concrete values, so inside ``jax.jit`` they raise a clear
RuntimeError instead of JAX's tracer errors.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core import arrays, checks

__all__ = ["item", "numpy", "size", "zero_"]


def item(a: ArrayLike) -> bool | int | float | complex:
    """The value of a one-element array as a Python number.

    torch counterpart: ``tensor.item()``.

    Args:
        a: an array with exactly one element (any shape).

    Returns:
        A Python bool, int, float or complex.

    Raises:
        RuntimeError: more or fewer than one element, or a traced array (inside
            ``jit``).

    Example:
        >>> from jtoolkit.tensor_ops import item
        >>> item(jnp.array([[2.5]]))
        2.5
    """
    checks.ensure_concrete(a, "item()")
    a = arrays.to_array(a)
    if a.size != 1:
        raise RuntimeError(
            f"a Tensor with {a.size} elements cannot be converted to Scalar"
        )
    return a.item()


def numpy(a: ArrayLike) -> np.ndarray:
    """A writable numpy copy of an array (on the host).

    torch counterpart: ``tensor.numpy()`` (which shares memory; a JAX array is
    immutable, so this copies and the result is writable).

    Args:
        a: array on any device.

    Returns:
        ``np.ndarray`` with the same dtype and values.

    Raises:
        RuntimeError: a traced array (inside ``jit``).

    Example:
        >>> from jtoolkit.tensor_ops import numpy
        >>> numpy(jnp.arange(3)).tolist()
        [0, 1, 2]
    """
    checks.ensure_concrete(a, "numpy()")
    return np.array(arrays.to_array(a), copy=True)


def size(a: ArrayLike, dim: int | None = None) -> tuple[int, ...] | int:
    """The shape (a tuple, torch's ``torch.Size``) or the size of one dim.

    torch counterpart: ``tensor.size(dim=None)``.

    Args:
        a: array.
        dim: None for the whole shape, else one dim (negative counts from the end).

    Returns:
        A tuple of ints, or an int.

    Raises:
        IndexError: ``dim`` out of range.

    Example:
        >>> from jtoolkit.tensor_ops import size
        >>> size(jnp.zeros((2, 3, 4))), size(jnp.zeros((2, 3, 4)), -1)
        ((2, 3, 4), 4)
    """
    shape = tuple(int(d) for d in np.shape(a))
    if dim is None:
        return shape
    if not shape:
        checks.wrap_dim(dim, 0)
        raise IndexError(f"dimension specified as {dim} but tensor has no dimensions")
    return shape[checks.wrap_dim(dim, len(shape))]


def zero_(a: ArrayLike) -> jax.Array:
    """Zeros shaped and typed like ``a`` (functional ``tensor.zero_()``).

    torch counterpart: ``tensor.zero_()``, which fills in place; JAX arrays are
    immutable, so use the returned array (``a = zero_(a)``).

    Args:
        a: array.

    Returns:
        ``jnp.zeros_like(a)``.

    Example:
        >>> from jtoolkit.tensor_ops import zero_
        >>> zero_(jnp.ones((2,), jnp.int32)).tolist()
        [0, 0]
    """
    return jnp.zeros_like(arrays.to_array(a))
