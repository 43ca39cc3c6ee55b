"""``History``: the epoch records of a run, as a list."""

from __future__ import annotations

from typing import Any

from jtoolkit._src.train.callbacks.base import Callback, Run

__all__ = ["History"]


class History(Callback):
    """Collect each epoch's metrics dict in ``history`` (Keras's ``History``).

    ``fit`` returns the same list as ``FitResult.history``; this callback gives
    it to code that holds only the callback (and keeps the epochs of a resumed
    run's earlier part).

    Example:
        >>> History().history
        []
    """

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []

    def on_train_begin(self, run: Run) -> None:
        self.history = [dict(r) for r in run.history]

    def on_epoch_end(self, run: Run, record: dict[str, Any]) -> None:
        self.history.append(dict(record))
