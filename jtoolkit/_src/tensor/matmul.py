"""Matrix products (mm, mv, matmul, bmm, einsum): torch's checks, full float32.

They run at ``Precision.HIGHEST``: torch's default matmul precision (no TF32 on
GPUs), where JAX's default may use TF32 on recent NVIDIA GPUs. Not wrapped in
``eager_jit``: ``jnp.matmul`` and ``jnp.einsum`` are one compiled program already.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core import arrays, checks, dtypes

__all__ = ["bmm", "einsum", "matmul", "mm", "mv"]


_HIGHEST = jax.lax.Precision.HIGHEST


def mm(a: ArrayLike, b: ArrayLike) -> jax.Array:
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
    for name, x in (("self", a), ("mat2", b)):
        if x.ndim != 2:
            shape = checks.shape_str(x.shape)
            raise RuntimeError(f"{name} must be a matrix (got shape {shape})")
    _same_dtype(a, b)
    if a.dtype == np.bool_:
        raise NotImplementedError("\"addmm_impl_cpu_\" not implemented for 'Bool'")
    _check_matmul(a, b)
    return jnp.matmul(a, b, precision=_HIGHEST)


def mv(a: ArrayLike, v: ArrayLike) -> jax.Array:
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


def _check_matmul(a: jax.Array, b: jax.Array) -> None:
    """Raise torch's RuntimeError for operands ``matmul`` cannot multiply."""
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(
            "both arguments to matmul need to be at least 1D, but they are "
            f"{a.ndim}D and {b.ndim}D"
        )
    if a.ndim == 1 and b.ndim == 1 and a.shape != b.shape:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
            f"[{b.shape[0]}] to have the same number of elements, but got "
            f"{a.shape[0]} and {b.shape[0]} elements respectively"
        )
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner_b:
        rows = a.shape[-2] if a.ndim > 1 else 1
        m2 = (b.shape[0], 1) if b.ndim == 1 else b.shape[-2:]
        if a.ndim > 2 and b.ndim > 2:
            raise RuntimeError(
                "Expected size for first two dimensions of batch2 tensor to be: "
                f"[{a.shape[0]}, {a.shape[-1]}] but got: [{b.shape[0]}, {inner_b}]."
            )
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({rows}x{a.shape[-1]} and "
            f"{m2[0]}x{m2[1]})"
        )


def _same_dtype(a: jax.Array, b: jax.Array) -> None:
    if a.dtype != b.dtype:
        raise RuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: "
            f"{dtypes.cpp_name(a.dtype)} != {dtypes.cpp_name(b.dtype)}"
        )


def matmul(input: ArrayLike, other: ArrayLike) -> jax.Array:
    """Matrix product with torch's broadcasting rules (1-D, 2-D and batched).

    torch counterpart: ``torch.matmul(input, other)`` (the ``@`` operator): 1-D
    operands are promoted to a row/column and the added dim removed; batch dims
    broadcast. Full float32 precision, as :func:`mm`.

    Args:
        input: ``[..., n, m]`` or ``[m]`` array.
        other: ``[..., m, p]`` or ``[m]`` array of the same dtype.

    Returns:
        The product, with torch's output shape.

    Raises:
        RuntimeError: a 0-d operand, dtypes that differ, inner sizes that differ
            ("mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)"), or batch
            dims that do not broadcast.

    Example:
        >>> from jtoolkit.tensor_ops import matmul
        >>> matmul([[1, 2], [3, 4]], [1, 1]).tolist(), matmul([1, 2], [3, 4]).item()
        ([3, 7], 11)
    """
    a, b = arrays.to_array(input), arrays.to_array(other)
    _check_matmul(a, b)
    _same_dtype(a, b)
    if a.ndim > 2 and b.ndim > 2:
        checks.check_broadcast(a.shape[:-2], b.shape[:-2])
    return jnp.matmul(a, b, precision=_HIGHEST)


def bmm(input: ArrayLike, mat2: ArrayLike) -> jax.Array:
    """Batched matrix product of two 3-D arrays with the same batch size.

    torch counterpart: ``torch.bmm(input, mat2)`` (no broadcasting).

    Args:
        input: ``[b, n, m]`` array.
        mat2: ``[b, m, p]`` array of the same dtype.

    Returns:
        ``[b, n, p]`` array.

    Raises:
        RuntimeError: an operand that is not 3-D ("batch1 must be a 3D tensor"),
            dtypes that differ, or sizes that do not fit ("Expected size for first
            two dimensions of batch2 tensor to be: [2, 3] but got: [2, 4].").

    Example:
        >>> from jtoolkit.tensor_ops import bmm
        >>> bmm(jnp.ones((2, 1, 3)), jnp.ones((2, 3, 4))).shape
        (2, 1, 4)
    """
    a, b = arrays.to_array(input), arrays.to_array(mat2)
    for name, x in (("batch1", a), ("batch2", b)):
        if x.ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")
    if (b.shape[0], b.shape[1]) != (a.shape[0], a.shape[2]):
        raise RuntimeError(
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}]."
        )
    _same_dtype(a, b)
    return jnp.matmul(a, b, precision=_HIGHEST)


def einsum(equation: str, *operands: ArrayLike) -> jax.Array:
    """Einstein summation over the operands, at full float32 precision.

    torch counterpart: ``torch.einsum(equation, *operands)`` (also with the
    operands as one list, as torch accepts).

    Args:
        equation: e.g. ``"bij,bjk->bik"`` (``...`` broadcasts).
        *operands: arrays, or one list/tuple of arrays.

    Returns:
        The contraction.

    Raises:
        RuntimeError: sizes of one subscript that do not broadcast, or the wrong
            number of operands (torch's RuntimeError; JAX's ValueError is
            converted).

    Example:
        >>> from jtoolkit.tensor_ops import einsum
        >>> einsum("ij,j->i", [[1.0, 2.0], [3.0, 4.0]], [1.0, 1.0]).tolist()
        [3.0, 7.0]
    """
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    xs = [arrays.to_array(x) for x in operands]
    try:
        return jnp.einsum(equation, *xs, precision=_HIGHEST)
    except ValueError as exc:
        shapes = ", ".join(checks.shape_str(x.shape) for x in xs)
        raise RuntimeError(f"einsum(): {exc} (operand shapes {shapes})") from exc
