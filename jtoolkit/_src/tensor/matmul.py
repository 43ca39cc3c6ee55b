"""Matrix products ``mm`` and ``mv`` with torch's checks and full float32 precision.

They run at ``Precision.HIGHEST``: torch's default matmul precision (no TF32 on
GPUs), where JAX's default may use TF32 on recent NVIDIA GPUs.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core import arrays, checks, dtypes

__all__ = ["mm", "mv"]


_HIGHEST = jax.lax.Precision.HIGHEST


def mm(a: Any, b: Any) -> jax.Array:
    """Matrix product of two 2-D arrays.

    torch counterpart: ``torch.mm(input, mat2)``.

    Args:
        a: ``[n, m]`` array.
        b: ``[m, p]`` array of the same dtype.

    Returns:
        ``[n, p]`` array, computed at full float32 precision.

    Raises:
        RuntimeError: an input is not 2-D, dtypes differ, or the inner sizes differ
            ("mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)").

    Example:
        >>> from jtoolkit.tensor_ops import mm
        >>> mm([[1, 2, 3], [4, 5, 6]], [[1, 4], [2, 5], [3, 6]]).tolist()
        [[14, 32], [32, 77]]
    """
    a, b = arrays.to_array(a), arrays.to_array(b)
    if a.ndim != 2:
        raise RuntimeError(
            f"self must be a matrix (got shape {checks.shape_str(a.shape)})"
        )
    if b.ndim != 2:
        raise RuntimeError(
            f"mat2 must be a matrix (got shape {checks.shape_str(b.shape)})"
        )
    if a.dtype != b.dtype:
        raise RuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: "
            f"{dtypes.cpp_name(a.dtype)} != {dtypes.cpp_name(b.dtype)}"
        )
    if a.dtype == np.bool_:
        raise NotImplementedError("\"addmm_impl_cpu_\" not implemented for 'Bool'")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} "
            f"and {b.shape[0]}x{b.shape[1]})"
        )
    return jnp.matmul(a, b, precision=_HIGHEST)


def mv(a: Any, v: Any) -> jax.Array:
    """Matrix-vector product.

    torch counterpart: ``torch.mv(input, vec)``.

    Args:
        a: ``[n, m]`` array.
        v: ``[m]`` array of the same dtype.

    Returns:
        ``[n]`` array.

    Raises:
        RuntimeError: wrong ranks, dtypes differ or sizes differ ("size mismatch, got
            input (2), mat (2x3), vec (4)").

    Example:
        >>> from jtoolkit.tensor_ops import mv
        >>> mv([[1.0, 2.0], [3.0, 4.0]], [1.0, 1.0]).tolist()
        [3.0, 7.0]
    """
    a, v = arrays.to_array(a), arrays.to_array(v)
    if a.ndim != 2 or v.ndim != 1:
        raise RuntimeError(
            f"vector + matrix @ vector expected, got 1, {a.ndim}, {v.ndim}"
        )
    if a.dtype != v.dtype:
        names = [
            dtypes.scalar_name(d) for d in (jnp.result_type(a, v), a.dtype, v.dtype)
        ]
        raise RuntimeError(
            f"addmv input tensors must have the same dtype, but got {names[0]}, "
            f"{names[1]}, and {names[2]}"
        )
    if a.shape[1] != v.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({a.shape[0]}), mat ({a.shape[0]}x{a.shape[1]})"
            f", vec ({v.shape[0]})"
        )
    return jnp.matmul(a, v, precision=_HIGHEST)
