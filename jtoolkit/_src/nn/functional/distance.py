"""``normalize`` and ``cosine_similarity`` with torch's formulas and zero gradients.

torch's vector norm has gradient 0 at the zero vector (plain JAX: nan); both
functions here keep that, so a zero row never poisons a gradient.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jtoolkit._src.core import arrays, checks, dtypes
from jtoolkit._src.core.eager_jit import eager_jit

__all__ = ["cosine_similarity", "normalize", "pairwise_distance"]


def _vector_norm(x: jax.Array, p: float, axis: int) -> jax.Array:
    """``||x||_p`` along ``axis`` (kept), with gradient 0 where the norm is 0."""
    if abs(p) == float("inf") and x.shape[axis] == 0:
        raise RuntimeError(
            f"linalg.vector_norm cannot compute the {p} norm on the dimension {axis} "
            "because this dimension is empty and the operation does not have an "
            "identity"
        )
    zero = jnp.all(x == 0, axis=axis, keepdims=True)
    safe = jnp.where(zero, jnp.ones_like(x), x)
    mag = safe * jnp.sign(safe)  # |x| with gradient sign(x), 0 at 0 as torch
    if p == float("inf"):
        norm = jnp.max(mag, axis=axis, keepdims=True)
    elif p == -float("inf"):
        norm = jnp.min(mag, axis=axis, keepdims=True)
    elif p == 0:  # the count of non-zeros, gradient 0 (torch)
        nonzero = jax.lax.stop_gradient((x != 0).astype(x.dtype))
        norm = jnp.sum(nonzero, axis=axis, keepdims=True)
    elif p == 2:
        norm = jnp.sqrt(jnp.sum(mag * mag, axis=axis, keepdims=True))
    elif p == 1:
        norm = jnp.sum(mag, axis=axis, keepdims=True)
    else:
        norm = jnp.sum(mag**p, axis=axis, keepdims=True) ** (1.0 / p)
    return jnp.where(zero, jnp.zeros_like(norm), norm)


def _float(x: Any) -> jax.Array:
    x = arrays.to_array(x)
    if not dtypes.is_float(x.dtype):
        x = x.astype(dtypes.default_float())
    return x


@eager_jit
def normalize(
    input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12
) -> jax.Array:
    """``x / max(||x||_p, eps)`` along ``dim``.

    torch counterpart: ``torch.nn.functional.normalize(input, p=2.0, dim=1,
    eps=1e-12)``.

    Args:
        input: floating array.
        p: the norm's exponent (``inf``: max |x|, ``-inf``: min |x|, 0: the count
            of non-zeros, negative: ``sum(|x|^p)^(1/p)``, as torch).
        dim: the dim to normalise.
        eps: the smallest denominator.

    Returns:
        Array of ``input``'s shape.

    Raises:
        IndexError: ``dim`` out of range.

    Example:
        >>> from jtoolkit.functional import normalize
        >>> normalize([[3.0, 4.0]]).tolist()
        [[0.6000000238418579, 0.800000011920929]]
    """
    x = _float(input)
    axis = checks.wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        x, axis = x.reshape(1), 0
        return (x / jnp.maximum(_vector_norm(x, p, 0), eps)).reshape(())
    return x / jnp.maximum(_vector_norm(x, p, axis), eps)


def _clamp_forward(norm: jax.Array, eps: float) -> jax.Array:
    """``max(norm, eps)`` forward, ``norm``'s gradient backward (torch clamps the
    norm in place under no_grad)."""
    return norm + jax.lax.stop_gradient(jnp.maximum(norm, eps) - norm)


@eager_jit
def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> jax.Array:
    """``sum((x1 / ||x1||) * (x2 / ||x2||))`` along ``dim``, norms clamped at ``eps``.

    torch counterpart: ``torch.nn.functional.cosine_similarity(x1, x2, dim=1,
    eps=1e-8)``, torch 2.x's formula (each input divided by its own clamped norm,
    which keeps the result in [-1, 1]); inputs broadcast.

    Args:
        x1, x2: arrays that broadcast.
        dim: the dim to reduce (of the broadcast shape).
        eps: the smallest norm.

    Returns:
        The broadcast shape without ``dim``.

    Raises:
        RuntimeError: shapes that do not broadcast. IndexError: ``dim`` out of
            range.

    Example:
        >>> from jtoolkit.functional import cosine_similarity
        >>> a, b = [[1.0, 0.0], [1.0, 1.0]], [[2.0, 0.0], [-1.0, -1.0]]
        >>> [round(v, 6) for v in cosine_similarity(a, b).tolist()]
        [1.0, -1.0]
    """
    a, b = _float(x1), _float(x2)
    checks.check_broadcast(a.shape, b.shape)
    dtype = jnp.result_type(a, b)
    a, b = jnp.broadcast_arrays(a.astype(dtype), b.astype(dtype))
    axis, scalar = checks.wrap_dim(dim, a.ndim), a.ndim == 0
    if scalar:
        a, b, axis = a.reshape(1), b.reshape(1), 0
    na = _clamp_forward(_vector_norm(a, 2, axis), eps)
    nb = _clamp_forward(_vector_norm(b, 2, axis), eps)
    out = jnp.sum((a / na) * (b / nb), axis=axis)
    return out.reshape(()) if scalar else out


@eager_jit
def pairwise_distance(
    x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> jax.Array:
    """``||x1 - x2 + eps||_p`` along the last dim (gradient 0 at distance 0).

    torch counterpart: ``torch.nn.functional.pairwise_distance(x1, x2, p=2.0,
    eps=1e-6, keepdim=False)``; inputs broadcast.

    Args:
        x1, x2: arrays that broadcast, ``[*, D]``.
        p: the norm's exponent (as :func:`normalize`). eps: added to the difference.
        keepdim: keep the last dim with size 1.

    Returns:
        ``[*]`` (``[*, 1]`` with ``keepdim``).

    Raises:
        RuntimeError: shapes that do not broadcast.

    Example:
        >>> from jtoolkit.functional import pairwise_distance
        >>> pairwise_distance([[0.0, 0.0]], [[3.0, 4.0]], eps=0.0).tolist()
        [5.0]
    """
    a, b = _float(x1), _float(x2)
    checks.check_broadcast(a.shape, b.shape)
    diff = a - b + eps
    scalar = diff.ndim == 0
    if scalar:
        diff = diff.reshape(1)
    norm = _vector_norm(diff, p, diff.ndim - 1)
    if scalar:
        return norm.reshape(())
    return norm if keepdim else jnp.squeeze(norm, -1)
