"""``one_hot``, ``embedding`` and ``embedding_bag``: integer ids in, as torch."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core import arrays, checks, dtypes
from jtoolkit._src.core.eager_jit import eager_jit

__all__ = ["embedding", "embedding_bag", "one_hot"]


def _check_values(x: jax.Array, num_classes: int) -> int:
    """Check concrete class values; infer ``num_classes`` when it is -1."""
    if x.size == 0 and num_classes <= 0:  # torch: also for 0 and other negatives
        raise RuntimeError("Can not infer total number of classes from empty tensor.")
    if num_classes == -1:
        checks.ensure_concrete(x, "one_hot(num_classes=-1)")
        if x.size == 0:
            raise RuntimeError(
                "Can not infer total number of classes from empty tensor."
            )
        num_classes = int(np.max(np.asarray(x))) + 1
    if dtypes.is_tracer(x) or x.size == 0:
        return num_classes
    host = np.asarray(x)
    if host.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if host.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return num_classes


@eager_jit
def one_hot(tensor: Any, num_classes: int = -1) -> jax.Array:
    """``out[..., c] = 1`` where ``c == tensor[...]``, else 0, in the default int.

    torch counterpart: ``torch.nn.functional.one_hot(tensor, num_classes=-1)``
    (int64 in torch; int32 here without ``jax_enable_x64``). Any integer dtype is
    accepted (torch: int64 only).

    Args:
        tensor: integer array of class indices.
        num_classes: the number of classes; -1 infers ``max + 1`` (needs a
            concrete array: pass it explicitly under ``jax.jit``).

    Returns:
        Array of shape ``tensor.shape + (num_classes,)``.

    Raises:
        RuntimeError: a non-integer input ("one_hot is only applicable to index
            tensor of type LongTensor."), negative or too large class values
            (checked when concrete), or ``num_classes=-1`` on an empty array.

    Example:
        >>> from jtoolkit.functional import one_hot
        >>> one_hot(jnp.array([0, 2])).tolist()
        [[1, 0, 0], [0, 0, 1]]
    """
    x = arrays.to_array(tensor)
    if not dtypes.is_integral(x.dtype, include_bool=False):
        raise RuntimeError(
            "one_hot is only applicable to index tensor of type LongTensor."
        )
    num_classes = checks.torch_int_arg("num_classes", num_classes, "one_hot")
    num_classes = _check_values(x, num_classes)
    classes = jnp.arange(num_classes, dtype=x.dtype)
    return (x[..., None] == classes).astype(dtypes.default_int())


def _unsupported(fname: str, max_norm: Any, scale_grad_by_freq: bool) -> None:
    if max_norm is not None:
        raise NotImplementedError(
            f"{fname}: max_norm is not supported (torch renormalises the weight rows "
            "in place; arrays are immutable): renormalise the weight yourself"
        )
    if scale_grad_by_freq:
        raise NotImplementedError(f"{fname}: scale_grad_by_freq=True is not supported")


def _ids(input: Any, num_embeddings: int, fname: str) -> jax.Array:
    """Integer ids, range-checked when concrete (torch's IndexError)."""
    ids = arrays.to_array(input)
    if not dtypes.is_integral(ids.dtype, include_bool=False):
        raise RuntimeError(
            f"{fname} expects integer ids, but got dtype {ids.dtype}; cast with "
            ".astype(jnp.int32)"
        )
    if not dtypes.is_tracer(ids) and ids.size:
        host = np.asarray(ids)
        low, high = int(host.min()), int(host.max())
        if low < 0 or high >= num_embeddings:
            raise IndexError(
                f"index out of range in self: ids span [{low}, {high}] but "
                f"num_embeddings={num_embeddings}"
            )
    return ids


def _padding_index(padding_idx: Any, num_embeddings: int) -> int | None:
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise AssertionError("Padding_idx must be within num_embeddings")
    return int(padding_idx) % num_embeddings


@eager_jit
def embedding(
    input: Any,
    weight: Any,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> jax.Array:
    """Rows of ``weight`` at the ids ``input`` (gradient 0 for ``padding_idx``).

    torch counterpart: ``torch.nn.functional.embedding(input, weight,
    padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
    sparse=False)``. ``sparse=True`` is accepted and gives the same (dense)
    gradient: JAX has no sparse gradients.

    Args:
        input: integer ids, any shape. weight: ``[num_embeddings, dim]``.
        padding_idx: the id whose row gets no gradient (negative counts from
            the end). max_norm, norm_type, scale_grad_by_freq: unsupported
            (must keep their defaults). sparse: accepted, dense gradient.

    Returns:
        ``input.shape + (dim,)``.

    Raises:
        IndexError: an id outside ``[0, num_embeddings)`` (checked when concrete).
        RuntimeError: non-integer ids. NotImplementedError: ``max_norm`` or
            ``scale_grad_by_freq``.

    Example:
        >>> from jtoolkit.functional import embedding
        >>> w = jnp.arange(6.0).reshape(3, 2)
        >>> embedding(jnp.array([2, 0]), w).tolist()
        [[4.0, 5.0], [0.0, 1.0]]
    """
    del norm_type, sparse
    _unsupported("embedding", max_norm, scale_grad_by_freq)
    w = arrays.to_array(weight)
    ids = _ids(input, w.shape[0], "embedding")
    rows = jnp.take(w, ids, axis=0)
    pad = _padding_index(padding_idx, w.shape[0])
    if pad is None:
        return rows
    return jnp.where((ids == pad)[..., None], jax.lax.stop_gradient(rows), rows)


def _bags(ids: jax.Array, offsets: Any, include_last_offset: bool):
    """Flat ids, each position's bag and the number of bags (offsets concrete)."""
    if ids.ndim == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated "
                "is a mini-batch of fixed length sequences. However, found offsets "
                f"of type {type(offsets).__name__}"
            )
        bags, length = ids.shape
        return ids.reshape(-1), np.repeat(np.arange(bags), length), bags
    if ids.ndim != 1:
        raise ValueError(
            f"input has to be 1D or 2D Tensor, but got Tensor of dimension {ids.ndim}"
        )
    if offsets is None or np.ndim(offsets) != 1:
        raise ValueError(f"offsets has to be a 1D Tensor but got {offsets}")
    checks.ensure_concrete(offsets, "embedding_bag(offsets)")
    starts = np.asarray(offsets).astype(np.int64)
    if starts.size and starts[0] != 0:
        raise RuntimeError(
            "offsets[0] has to be 0, i.e., the first sequence in the mini-batch "
            f"has to start from position 0. However, got {starts[0]}"
        )
    bags = starts.size - 1 if include_last_offset else starts.size
    segment = np.searchsorted(starts, np.arange(ids.shape[0]), side="right") - 1
    return ids, segment, max(bags, 0)


@eager_jit
def embedding_bag(
    input: Any,
    weight: Any,
    offsets: Any = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Any = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> jax.Array:
    """Sum, mean or max of the embedding rows of each bag of ids.

    torch counterpart: ``torch.nn.functional.embedding_bag(input, weight,
    offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
    mode='mean', sparse=False, per_sample_weights=None, include_last_offset=False,
    padding_idx=None)``. A 2-D ``input`` is one bag per row; a 1-D one is cut
    into bags at ``offsets`` (concrete: they fix the output shape). Ids equal to
    ``padding_idx`` are left out (an empty bag gives zeros); ``sparse`` is
    accepted (dense gradient).

    Args:
        input: ``[B, L]`` or ``[n]`` integer ids. weight: ``[num_embeddings, D]``.
        offsets: ``[B]`` (``[B + 1]`` with ``include_last_offset``) starts of the
            bags of a 1-D input. mode: "sum", "mean" or "max".
        per_sample_weights: ``input``-shaped weights of each row (``mode="sum"``).
        padding_idx: ids to leave out. max_norm, norm_type, scale_grad_by_freq:
            unsupported (keep the defaults). sparse: accepted.

    Returns:
        ``[B, D]``.

    Raises:
        ValueError: a bad ``mode``, a bad ``input``/``offsets`` combination.
        RuntimeError: ``offsets[0] != 0``. IndexError: an id out of range.
        NotImplementedError: ``per_sample_weights`` with a mode other than
            "sum" (torch's), ``max_norm`` or ``scale_grad_by_freq``.

    Example:
        >>> from jtoolkit.functional import embedding_bag
        >>> w = jnp.arange(6.0).reshape(3, 2)
        >>> ids, offsets = jnp.array([0, 1, 2]), jnp.array([0, 2])
        >>> embedding_bag(ids, w, offsets, mode="sum").tolist()
        [[2.0, 4.0], [4.0, 5.0]]
    """
    del norm_type, sparse
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            "embedding_bag: per_sample_weights was not None. per_sample_weights is "
            f"only supported for mode='sum' (got mode='{mode}'). Please open a "
            "feature request on GitHub."
        )
    _unsupported("embedding_bag", max_norm, scale_grad_by_freq)
    w = arrays.to_array(weight)
    ids = _ids(input, w.shape[0], "embedding_bag")
    flat, segment, bags = _bags(ids, offsets, include_last_offset)
    rows = jnp.take(w, flat, axis=0)
    pad = _padding_index(padding_idx, w.shape[0])
    keep = jnp.ones(flat.shape, bool) if pad is None else flat != pad
    if per_sample_weights is not None:
        rows = rows * arrays.to_array(per_sample_weights).reshape(-1, 1)
    segment = jnp.asarray(segment, jnp.int32)
    count = jax.ops.segment_sum(keep.astype(w.dtype), segment, bags)[:, None]
    if mode == "max":
        masked = jnp.where(keep[:, None], rows, -jnp.inf)
        top = jax.ops.segment_max(masked, segment, bags)
        return jnp.where(count > 0, top, jnp.zeros_like(top))
    total = jax.ops.segment_sum(jnp.where(keep[:, None], rows, 0.0), segment, bags)
    return total if mode == "sum" else total / jnp.maximum(count, 1)
