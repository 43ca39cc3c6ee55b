"""``CSVLogger``: one CSV row per epoch."""

from __future__ import annotations

import csv
import os
from typing import Any

from jtoolkit._src.train.callbacks.base import Callback, Run

__all__ = ["CSVLogger"]


class CSVLogger(Callback):
    """Write each epoch's metrics as a row of ``path`` (Keras's ``CSVLogger``).

    A fresh run starts the file; a resumed run keeps the rows of the epochs it
    resumed after and drops later ones (a kill between the row and the
    checkpoint repeats no epoch). Only process 0 writes.

    Args:
        path: the CSV file.
        separator: the field separator.

    Example:
        >>> CSVLogger("log.csv").path
        'log.csv'
    """

    def __init__(self, path: str | os.PathLike, separator: str = ",") -> None:
        self.path, self.separator = os.fspath(path), separator
        self._fields: list[str] | None = None

    def on_train_begin(self, run: Run) -> None:
        import jax

        self._primary = jax.process_index() == 0
        if not self._primary:
            return
        done = run.history
        fields = self._fields = list(done[0]) if done else None
        with open(self.path, "w", newline="") as f:
            if fields is not None:
                writer = csv.DictWriter(f, fields, delimiter=self.separator)
                writer.writeheader()
                writer.writerows(done)

    def on_epoch_end(self, run: Run, record: dict[str, Any]) -> None:
        if not self._primary:
            return
        fields, new = self._fields, self._fields is None
        if fields is None:
            fields = self._fields = list(record)
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(
                f, fields, delimiter=self.separator, extrasaction="ignore"
            )
            if new:
                writer.writeheader()
            writer.writerow(record)
