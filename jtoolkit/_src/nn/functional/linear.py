"""``linear(x, weight, bias)`` in torch's ``[out_features, in_features]`` layout."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jtoolkit._src.core import arrays, dtypes
from jtoolkit._src.core.eager_jit import eager_jit

__all__ = ["bilinear", "linear", "linear_kernel"]


@eager_jit
def linear(input: Any, weight: Any, bias: Any = None) -> jax.Array:
    """``input @ weight.T + bias``, at full float32 precision.

    torch counterpart: ``torch.nn.functional.linear(input, weight, bias=None)``;
    ``weight`` is torch's ``[out_features, in_features]`` (a torch state dict's
    ``fc.weight`` as is; the transpose of a Flax kernel).

    Args:
        input: ``[..., in_features]`` array.
        weight: ``[out_features, in_features]`` (or ``[in_features]``) array.
        bias: None or ``[out_features]`` array.

    Returns:
        ``[..., out_features]`` array.

    Raises:
        RuntimeError: sizes that do not fit ("mat1 and mat2 shapes cannot be
            multiplied (2x3 and 4x4)", mat2 being ``weight.T``) or dtypes that
            differ.

    Example:
        >>> from jtoolkit.functional import linear
        >>> weight = [[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]]
        >>> linear([[1.0, 2.0]], weight, [0.0, 0.0, 1.0]).tolist()
        [[1.0, 3.0, 5.0]]
    """
    x, w = arrays.to_array(input), arrays.to_array(weight)
    if w.ndim not in (1, 2):
        raise RuntimeError(f"linear(): weight must be 1-D or 2-D, got {w.ndim}-D")
    if x.ndim == 0:
        raise RuntimeError(
            "both arguments to linear need to be at least 1D, but they are 0D and "
            f"{w.ndim}D"
        )
    wt = w.T
    if x.shape[-1] != wt.shape[0]:
        rows = math.prod(x.shape[:-1])
        cols = wt.shape[1] if wt.ndim == 2 else 1
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({rows}x{x.shape[-1]} and "
            f"{wt.shape[0]}x{cols})"
        )
    if x.dtype != w.dtype:
        raise RuntimeError(
            "mat1 and mat2 must have the same dtype, but got "
            f"{dtypes.scalar_name(x.dtype)} and {dtypes.scalar_name(w.dtype)}"
        )
    return linear_kernel(x, wt, None if bias is None else arrays.to_array(bias))


def linear_kernel(x: jax.Array, kernel: jax.Array, bias: jax.Array | None) -> jax.Array:
    """``x @ kernel + bias`` with a Flax ``[in, out]`` kernel, at full float32
    precision (torch's default: no TF32): the one matmul of ``linear`` and
    ``models.Linear``; no checks (the callers check shapes)."""
    out = jnp.matmul(x, kernel, precision=jax.lax.Precision.HIGHEST)
    return out if bias is None else out + bias


@eager_jit
def bilinear(input1: Any, input2: Any, weight: Any, bias: Any = None) -> jax.Array:
    """``y[..., o] = x1[..., i] * weight[o, i, j] * x2[..., j] + bias[o]``.

    torch counterpart: ``torch.nn.functional.bilinear(input1, input2, weight,
    bias=None)``.

    Args:
        input1: ``[*, in1]``. input2: ``[*, in2]`` (the same leading dims).
        weight: ``[out, in1, in2]``. bias: ``[out]`` or None.

    Returns:
        ``[*, out]``.

    Raises:
        RuntimeError: mismatched sizes (torch's messages).

    Example:
        >>> from jtoolkit.functional import bilinear
        >>> bilinear(jnp.ones((2, 3)), jnp.ones((2, 4)), jnp.ones((5, 3, 4))).shape
        (2, 5)
    """
    x1, x2 = arrays.to_array(input1), arrays.to_array(input2)
    w = arrays.to_array(weight)
    if x1.ndim != x2.ndim or x1.shape[:-1] != x2.shape[:-1]:
        raise RuntimeError(
            f"bilinear(): input batch dimensions do not match: got "
            f"{list(x1.shape[:-1])} and {list(x2.shape[:-1])}"
        )
    if w.ndim != 3 or x1.shape[-1] != w.shape[1] or x2.shape[-1] != w.shape[2]:
        raise RuntimeError(
            f"bilinear(): input sizes [{x1.shape[-1]}] and [{x2.shape[-1]}] do not "
            f"match weight {list(w.shape)} ([out_features, in1, in2])"
        )
    y = jnp.einsum("...i,oij,...j->...o", x1, w, x2, precision="highest")
    return y if bias is None else y + arrays.to_array(bias)
