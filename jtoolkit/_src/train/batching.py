"""Deprecated home of the padding helpers: ``EpochFeeder`` (``feeder.py``) feeds
``fit`` now, with ``jtoolkit.data``'s one padding rule (``pad_batch``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jtoolkit._src.data.padding import batch_rows, pad_batch
from jtoolkit._src.train.feeder import batch_size_of

__all__ = ["batch_rows", "batch_size_of", "pad_batch", "supports_mask"]


def supports_mask(step: Callable, state: Any, padded: tuple[Any, Any]) -> bool:
    """Whether ``step`` (a ``TrainStep``) takes a padding mask: its loss is
    per-example (an abstract trace; nothing runs)."""
    return step.takes_mask(state, padded[0])  # type: ignore[attr-defined]
