"""Padding the ragged last batch to a fixed size, with a 0/1 row mask.

The one rule for every place a batch is padded (``fit``'s ``EpochFeeder``, the
fused epoch's indices): copies of the last row fill the batch, the mask marks the
real rows. numpy leaves are padded with numpy on the host; a
``jax.Array`` leaf is padded on its own device, never copied back to the host.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["batch_rows", "pad_batch"]


def _leaves(batch: Any) -> list[Any]:
    import jax

    return jax.tree.leaves(batch)


def batch_rows(batch: Any) -> int:
    """Number of examples in a batch (leading dim of its first leaf).

    Example:
        >>> batch_rows((np.zeros((3, 2)), np.zeros(3)))
        3
    """
    return int(np.shape(_leaves(batch)[0])[0])


def _pad_leaf(x: Any, extra: int) -> Any:
    if isinstance(x, np.ndarray | np.generic | list | tuple | int | float):
        x = np.asarray(x)
        return np.concatenate([x, np.repeat(x[-1:], extra, axis=0)])
    import jax.numpy as jnp  # a device array: padded where it lives

    return jnp.concatenate([x, jnp.repeat(x[-1:], extra, axis=0)])


def pad_batch(batch: Any, size: int) -> tuple[Any, np.ndarray]:
    """Pad every leaf to ``size`` rows with copies of the last row; 0/1 row mask.

    Raises:
        ValueError: the batch has more than ``size`` rows.

    Example:
        >>> b, m = pad_batch((np.arange(3.0),), 5)
        >>> b[0].tolist(), m.tolist()
        ([0.0, 1.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 0.0, 0.0])
    """
    import jax

    rows = batch_rows(batch)
    mask = (np.arange(size) < rows).astype(np.float32)
    if rows == size:
        return batch, mask
    if rows > size:
        raise ValueError(
            f"batch of {rows} rows is larger than the batch size {size}; batches "
            "are padded up to the loader's batch size (its first batch's rows when "
            "it declares none)"
        )
    return jax.tree.map(lambda x: _pad_leaf(x, size - rows), batch), mask
