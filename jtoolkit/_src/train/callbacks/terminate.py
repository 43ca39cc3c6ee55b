"""``TerminateOnNaN``: stop training at the first non-finite loss."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jtoolkit._src.train.callbacks.base import Callback, Run

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """End training (``run.stop``) after a call whose loss is NaN or infinite.

    The twin of Keras's ``TerminateOnNaN``: where ``nan_policy="raise"`` raises,
    this stops quietly, with one log line, after the current call. It reads each
    call's loss (one device sync per call).

    Example:
        >>> TerminateOnNaN().stopped_at is None
        True
    """

    def __init__(self) -> None:
        self.stopped_at: int | None = None

    def on_step_end(self, run: Run, metrics: dict[str, Any]) -> None:
        n = run.call_batches  # stacked metrics: the real steps come first
        losses = np.atleast_1d(np.asarray(jax.device_get(metrics["loss"])))[:n]
        finite = np.atleast_1d(np.asarray(jax.device_get(metrics["finite"])))[:n]
        bad = [float(v) for v, ok in zip(losses, finite, strict=True) if not ok]
        if bad:
            self.stopped_at = run.batches_done
            run.stop = True
            run.log(
                f"TerminateOnNaN: non-finite loss {bad[0]} at batch {run.batch} of "
                f"epoch {run.epoch}: stopping"
            )
