"""``TensorBoard``: the epoch metrics as TensorBoard scalars."""

from __future__ import annotations

import numbers
import os
from typing import Any

from jtoolkit._src.train.callbacks.base import Callback, Run

__all__ = ["TensorBoard"]


class TensorBoard(Callback):
    """Write every numeric epoch metric as a scalar (tag = its name, step = epoch).

    The twin of Keras's ``TensorBoard`` and torch's
    ``torch.utils.tensorboard.SummaryWriter.add_scalar`` after each epoch; real
    event files (``tensorboardX``'s writer, or ``torch.utils.tensorboard``'s), so
    ``tensorboard --logdir`` and its ``EventAccumulator`` read them. With
    ``update_freq=N`` the running training loss is also written every ``N``
    loader batches (tag ``batch/train_loss``, step = batches done). Only process
    0 writes.

    Args:
        log_dir: the event file directory (created).
        update_freq: ``"epoch"`` or an int (batches between batch-level scalars).

    Raises:
        ImportError: neither tensorboardX nor torch's tensorboard is installed.

    Example:
        >>> TensorBoard("tb").log_dir
        'tb'
    """

    def __init__(self, log_dir: str | os.PathLike, update_freq: Any = "epoch") -> None:
        self.log_dir, self.update_freq = os.fspath(log_dir), update_freq
        self._writer: Any = None
        self._next = 0

    def on_train_begin(self, run: Run) -> None:
        import jax

        if jax.process_index() != 0:
            return
        try:
            from tensorboardX import SummaryWriter
        except ImportError:  # torch's copy of the same writer
            from torch.utils.tensorboard import SummaryWriter
        self._writer = SummaryWriter(self.log_dir)
        if isinstance(self.update_freq, int):
            self._next = run.batches_done + self.update_freq

    def on_step_end(self, run: Run, metrics: dict[str, Any]) -> None:
        if self._writer is None or not isinstance(self.update_freq, int):
            return
        if run.batches_done >= self._next and run.running_loss is not None:
            self._writer.add_scalar(
                "batch/train_loss", run.running_loss, run.batches_done
            )
            self._next = run.batches_done + self.update_freq

    def on_epoch_end(self, run: Run, record: dict[str, Any]) -> None:
        if self._writer is None:
            return
        for name, value in record.items():
            if name != "epoch" and isinstance(value, numbers.Real):
                self._writer.add_scalar(name, float(value), run.epoch)
        self._writer.flush()

    def on_train_end(self, run: Run) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
