"""``F.flatten``: merge dims from ``start_dim=1`` in the array's row-major order."""

from __future__ import annotations

from typing import Any

import jax

from jtoolkit._src.core.eager_jit import eager_jit
from jtoolkit._src.tensor import shape

__all__ = ["flatten"]


@eager_jit
def flatten(input: Any, start_dim: int = 1, end_dim: int = -1) -> jax.Array:
    """Merge dims ``start_dim..end_dim`` (default: all but the batch dim).

    torch counterpart: ``torch.flatten(input, start_dim, end_dim)`` with
    ``nn.Flatten``'s default ``start_dim=1``. The element order is the row-major
    order of the array given: there is NO layout conversion (an NHWC array is
    flattened as (H, W, C), exactly as ``models.Flatten`` does; transpose NHWC
    conv features to NCHW first to keep torch's ``Linear`` weight layout, as
    ``models.CNN`` does).

    Args:
        input, start_dim, end_dim: as ``tensor_ops.flatten``.

    Returns:
        The flattened array; raises as ``tensor_ops.flatten``.

    Example:
        >>> from jtoolkit.functional import flatten
        >>> flatten(jnp.arange(8).reshape(2, 2, 2)).tolist()
        [[0, 1, 2, 3], [4, 5, 6, 7]]
    """
    return shape.flatten(input, start_dim, end_dim)
