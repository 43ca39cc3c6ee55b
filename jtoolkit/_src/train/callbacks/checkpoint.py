"""``ModelCheckpoint``: atomic checkpoints every few epochs or steps, and the best.

A checkpoint holds the ``TrainState`` and, as JSON, everything else a resumed run
needs: the epochs done, the history, the loader's position (mid-epoch too), the
epoch's partial sums and every callback's ``state``. ``fit(resume=...)`` reads the
newest intact one from the first ``ModelCheckpoint``'s directory.
"""

from __future__ import annotations

import os
from typing import Any

from jtoolkit._src.checkpoint.store import prune_checkpoints, save_checkpoint
from jtoolkit._src.core.checks import check_choice, check_int
from jtoolkit._src.train.callbacks.base import Callback, Run

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Save checkpoints during ``fit``: every ``every_epochs`` epochs (and the last),
    every ``every_steps`` loader batches, and the ``best`` by ``monitor``.

    The twin of Keras's ``ModelCheckpoint`` and Lightning's (``every_n_epochs``,
    ``every_n_train_steps``, ``save_top_k``, ``monitor``, ``mode``), written with
    ``jtoolkit.checkpoint.save_checkpoint`` (atomic; a kill mid-save leaves the
    previous checkpoint intact). Checkpoints are numbered by epoch, or by loader
    batches done since the start when ``every_steps`` is set (then a resume
    continues mid-epoch with the batches not yet trained on).

    Args:
        directory: where checkpoints go (created if missing; a file raises).
        every_epochs: epochs between checkpoints (int >= 1).
        every_steps: loader batches between mid-epoch checkpoints (None: none).
            With ``steps_per_execution=k`` a save happens at the end of the call
            that crosses the mark.
        keep: checkpoints kept (None: all).
        best: keep this many best checkpoints by ``monitor`` in ``directory/best``
            (None: no best tracking).
        monitor: the epoch metric that decides "best".
        mode: ``"min"`` or ``"max"``.

    Raises:
        ValueError: bad counts or mode.
        NotADirectoryError: ``directory`` is a file (at the start of ``fit``).

    Example:
        >>> ModelCheckpoint("ckpt", every_steps=50).every_steps
        50
    """

    order = 100  # after every callback that changes the state it saves

    def __init__(
        self,
        directory: str | os.PathLike,
        every_epochs: int = 1,
        every_steps: int | None = None,
        keep: int | None = 3,
        best: int | None = None,
        monitor: str = "val_loss",
        mode: str = "min",
    ) -> None:
        fn = "ModelCheckpoint"
        check_int("every_epochs", every_epochs, fn=fn, minimum=1)
        if every_steps is not None:
            check_int("every_steps", every_steps, fn=fn, minimum=1)
        if keep is not None:
            check_int("keep", keep, fn=fn, minimum=1)
        if best is not None:
            check_int("best", best, fn=fn, minimum=1)
        check_choice("mode", mode, ("min", "max"), fn=fn)
        self.directory = os.fspath(directory)
        self.every_epochs, self.every_steps, self.keep = every_epochs, every_steps, keep
        self.best, self.monitor, self.mode = best, monitor, mode
        self._best_value: float | None = None
        self._mark = 0
        self._saved_at: tuple[int, int] | None = None

    def key(self, run: Run) -> int:
        """The checkpoint number for the run's current position."""
        return run.epoch if self.every_steps is None else run.batches_done

    def on_train_begin(self, run: Run) -> None:
        if os.path.exists(self.directory) and not os.path.isdir(self.directory):
            raise NotADirectoryError(f"checkpoint_dir {self.directory} is a file")
        if not run.resumed:
            self._best_value = None
        resumed = self.key(run) if run.resumed else None
        prune_checkpoints(self.directory, self.keep, protect=resumed or None)
        if self.every_steps is not None:
            self._mark = run.batches_done // self.every_steps

    def on_step_end(self, run: Run, metrics: dict[str, Any]) -> None:
        if self.every_steps is None:
            return
        mark = run.batches_done // self.every_steps
        if mark > self._mark and run.batch < run.steps_per_epoch:
            self._mark = mark
            self._save(run)

    def on_epoch_end(self, run: Run, record: dict[str, Any]) -> None:
        if self.every_steps is not None:
            self._mark = run.batches_done // self.every_steps
        due = run.epoch % self.every_epochs == 0 or run.epoch == run.epochs
        if self.best is not None and self._improved(record):
            save_checkpoint(
                os.path.join(self.directory, "best"),
                run.state,
                self.key(run),
                extra={**run.fit_state(), self.monitor: record[self.monitor]},
                max_to_keep=self.best,
            )
        if due or run.stop:
            self._save(run)

    def _improved(self, record: dict[str, Any]) -> bool:
        if self.monitor not in record:
            raise KeyError(
                f"ModelCheckpoint monitor={self.monitor!r} is not among the epoch "
                f"metrics {sorted(record)}"
            )
        value = float(record[self.monitor])
        old = self._best_value
        better = old is None or (value < old if self.mode == "min" else value > old)
        if better:
            self._best_value = value
        return better

    def save(self, run: Run) -> None:
        """Save the run's current position now, unless this callback just did.

        ``fit`` calls it when the job is preempted (SIGTERM): mid-epoch, with the
        loader position, so ``fit(resume=...)`` continues at the next batch.
        """
        if self._saved_at != (self.key(run), run.batches_done):
            self._save(run)

    def _save(self, run: Run) -> None:
        self._saved_at = (self.key(run), run.batches_done)
        save_checkpoint(
            self.directory,
            run.state,
            self.key(run),
            extra=run.fit_state(),
            max_to_keep=self.keep,
        )

    @property
    def state(self) -> dict[str, Any]:
        return {"best_value": self._best_value}

    def load_state(self, state: dict[str, Any]) -> None:
        self._best_value = state.get("best_value")
