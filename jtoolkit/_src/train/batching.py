"""Small host-side helpers of ``fit``: padding, lr reading, plateau JSON, early stop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

__all__ = ["batch_rows", "pad_batch", "supports_mask"]


def batch_rows(batch: Any) -> int:
    """Number of examples in a batch (leading dim of its first leaf)."""
    return int(np.shape(jax.tree.leaves(batch)[0])[0])


def pad_batch(batch: Any, size: int) -> tuple[Any, np.ndarray]:
    """Pad every leaf to ``size`` rows with copies of the last row; 0/1 row mask.

    Example:
        >>> b, m = pad_batch((np.arange(3.0),), 5)
        >>> b[0].tolist(), m.tolist()
        ([0.0, 1.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 0.0, 0.0])
    """
    rows = batch_rows(batch)
    mask = (np.arange(size) < rows).astype(np.float32)
    if rows == size:
        return batch, mask
    if rows > size:
        raise ValueError(
            f"batch of {rows} rows is larger than the first batch ({size}); fit pads "
            "smaller batches to the first batch's size"
        )

    def pad(x):
        x = np.asarray(x)
        return np.concatenate([x, np.repeat(x[-1:], size - rows, axis=0)])

    return jax.tree.map(pad, batch), mask


def supports_mask(step: Callable, state: Any, padded: tuple[Any, np.ndarray]) -> bool:
    """Whether ``step`` takes a padding mask (its function returns per-example values).

    Traces abstractly (``jax.eval_shape``): no compile, nothing runs.
    """
    batch, mask = padded
    try:
        jax.eval_shape(step, state, batch, mask)
    except ValueError as err:
        if "padding mask" in str(err):
            return False
        raise
    return True
