"""``one_hot``: class indices to integer one-hot vectors, as torch."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core import arrays, checks, dtypes

__all__ = ["one_hot"]


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
