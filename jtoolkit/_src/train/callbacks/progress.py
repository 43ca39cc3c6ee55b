"""``ProgressBar``: a tqdm bar per epoch with the running mean loss."""

from __future__ import annotations

import time
from typing import Any

from jtoolkit._src.train.callbacks.base import Callback, Run

__all__ = ["ProgressBar"]


class ProgressBar(Callback):
    """One tqdm bar per epoch: batches done, the epoch's running mean loss, lr and
    samples per second (Keras's progress bar, Lightning's ``TQDMProgressBar``).

    The loss shown is the mean over the epoch's batches so far as of the last log
    point (``fit(log_every=)``), never the stale loss of one old batch. Only
    process 0 shows bars.

    Example:
        >>> ProgressBar().leave
        True
    """

    def __init__(self, leave: bool = True) -> None:
        self.leave = leave
        self._bar: Any = None

    def on_epoch_begin(self, run: Run) -> None:
        import jax
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=run.steps_per_epoch,
            initial=run.batch,
            desc=f"epoch {run.epoch}/{run.epochs}",
            disable=jax.process_index() != 0,
            leave=self.leave,
            dynamic_ncols=True,
        )
        self._start, self._rows = time.perf_counter(), 0

    def on_step_end(self, run: Run, metrics: dict[str, Any]) -> None:
        if self._bar is None:
            return
        self._bar.update(run.call_batches)
        if run.running_loss is not None:
            rate = run.epoch_rows / max(time.perf_counter() - self._start, 1e-9)
            self._bar.set_postfix(
                loss=f"{run.running_loss:.4f}", samples_s=f"{rate:.0f}", refresh=False
            )

    def on_epoch_end(self, run: Run, record: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{record['train_loss']:.4f}")
            self._bar.close()
            self._bar = None

    def on_train_end(self, run: Run) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
