"""Batches for ``fit``: rows, padding of the ragged last batch, mask support.

Padding happens where the batch lives: numpy leaves are padded on the host with
numpy, ``jax.Array`` leaves on their device with ``jnp``; nothing is copied back to
the host. A loader that can pad before it places batches (a sharded prefetcher, so
the padded batch splits evenly) offers ``with_padding(size)`` and ``fit`` uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jax
import numpy as np

from jtoolkit._src.data.padding import batch_rows, pad_batch
from jtoolkit._src.train.step import MaskUnsupportedError

__all__ = ["BatchPadder", "batch_rows", "batch_size_of", "pad_batch", "supports_mask"]


def batch_size_of(loader: Any) -> int | None:
    """The loader's batch size if it declares one (``DataLoader.batch_size``)."""
    size = getattr(loader, "batch_size", None)
    if size is None:
        size = getattr(getattr(loader, "batch_sampler", None), "batch_size", None)
    return size if isinstance(size, int) and size > 0 else None


def supports_mask(step: Callable, state: Any, padded: tuple[Any, np.ndarray]) -> bool:
    """Whether ``step`` takes a padding mask (its function returns per-example values).

    Traces abstractly (``jax.eval_shape``): no compile, nothing runs. A step whose
    function returns a scalar raises ``MaskUnsupportedError`` while tracing.
    """
    batch, mask = padded
    try:
        jax.eval_shape(step, state, batch, mask)
    except MaskUnsupportedError:
        return False
    return True


class BatchPadder:
    """Feeds a step: pads each batch to one size and passes the mask if it can.

    The size is the loader's declared batch size, else the rows of the first batch
    seen; whether the step takes a mask is asked (abstractly) on that first batch.
    No batch is fetched ahead of the epoch to learn either.
    """

    def __init__(self, step: Callable, size: int | None) -> None:
        self.step = step
        self.size = size
        self.use_mask: bool | None = None

    def batches(self, loader: Iterable, state: Any) -> Iterator[tuple[Any, Any, int]]:
        """``(batch, mask or None, real rows)`` for each batch of ``loader``.

        A loader with ``with_padding(size)`` (yielding ``(batch, mask, rows)``) pads
        its own batches before placing them; others are padded here.
        """
        if self.size is not None and hasattr(loader, "with_padding"):
            yield from self._from_padding_loader(loader, state)
            return
        for batch in loader:
            rows = batch_rows(batch)
            yield (*self.prepare(batch, state), rows)

    def _from_padding_loader(self, loader: Any, state: Any):
        for batch, mask, rows in loader.with_padding(self.size):
            if self.use_mask is None:
                self.use_mask = supports_mask(self.step, state, (batch, mask))
            if self.use_mask:
                yield batch, mask, rows
            elif rows == self.size:
                yield batch, None, rows
            else:
                raise ValueError(
                    f"the last batch has {rows} of {self.size} rows and this loader "
                    "pads it, which needs a step whose loss_fn returns per-example "
                    "values of shape (batch,) (e.g. reduction='none'), or drop_last="
                    "True in the DataLoader"
                )

    def prepare(self, batch: Any, state: Any) -> tuple[Any, Any]:
        """Pad ``batch`` (and decide once whether the step takes a mask)."""
        if self.size is None:
            self.size = batch_rows(batch)
        if self.use_mask is None:
            self.use_mask = supports_mask(self.step, state, pad_batch(batch, self.size))
        if not self.use_mask:
            return batch, None
        return pad_batch(batch, self.size)
