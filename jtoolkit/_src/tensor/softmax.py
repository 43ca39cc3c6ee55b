"""``softmax`` and ``log_softmax`` along a dim, with torch's dtype rules."""

from __future__ import annotations

from typing import Any

import jax
from jax.typing import ArrayLike

from jtoolkit._src.core import arrays, checks, dtypes
from jtoolkit._src.core.eager_jit import eager_jit

__all__ = ["log_softmax", "softmax"]


def _prepare(input: Any, dim: Any, dtype: Any, kernel: str) -> tuple[jax.Array, int]:
    x = arrays.to_array(input)
    dtype = dtypes.resolve_dtype(dtype)
    if dtype is not None:
        x = x.astype(dtype)
    if not dtypes.is_float(x.dtype):
        raise NotImplementedError(
            f"\"{kernel}\" not implemented for '{dtypes.scalar_name(x.dtype)}'"
        )
    if dim is None:
        raise TypeError(
            f"{kernel.split('_')[0]}() missing required argument 'dim' (int): write "
            "softmax(x, dim=-1)"
        )
    return x, checks.wrap_dim(dim, x.ndim)


@eager_jit(operands=("input",))
def softmax(input: ArrayLike, dim: int, dtype: Any = None) -> jax.Array:
    """``exp(x) / sum(exp(x))`` along ``dim`` (max-shifted, stable).

    torch counterpart: ``torch.softmax(input, dim, dtype=None)``.

    Args:
        input: a floating array (or any array with a floating ``dtype``).
        dim: the dim that sums to 1.
        dtype: cast the input to this dtype first.

    Returns:
        Array of ``input``'s shape.

    Raises:
        NotImplementedError: integer input, as torch. IndexError: ``dim`` out of
        range. TypeError: no ``dim``.

    Example:
        >>> from jtoolkit.tensor_ops import softmax
        >>> [round(v, 4) for v in softmax([1.0, 2.0, 3.0], dim=0).tolist()]
        [0.09, 0.2447, 0.6652]
    """
    x, axis = _prepare(input, dim, dtype, "softmax_kernel_impl")
    return jax.nn.softmax(x.reshape(x.shape or (1,)), axis=axis).reshape(x.shape)


@eager_jit(operands=("input",))
def log_softmax(input: ArrayLike, dim: int, dtype: Any = None) -> jax.Array:
    """``x - logsumexp(x)`` along ``dim``.

    torch counterpart: ``torch.log_softmax(input, dim, dtype=None)``.

    Args:
        input: a floating array.
        dim: the dim to normalise over.
        dtype: cast the input to this dtype first.

    Returns:
        Array of ``input``'s shape.

    Raises:
        As :func:`softmax`.

    Example:
        >>> from jtoolkit.tensor_ops import log_softmax
        >>> [round(v, 4) for v in log_softmax([[1.0, 2.0]], dim=1)[0].tolist()]
        [-1.3133, -0.3133]
    """
    x, axis = _prepare(input, dim, dtype, "log_softmax_lastdim_kernel_impl")
    return jax.nn.log_softmax(x.reshape(x.shape or (1,)), axis=axis).reshape(x.shape)
