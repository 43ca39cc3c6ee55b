"""``LambdaCallback``: a callback from plain functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jtoolkit._src.train.callbacks.base import Callback, Run

__all__ = ["LambdaCallback"]


class LambdaCallback(Callback):
    """Call the given functions at the matching hooks (Keras's ``LambdaCallback``).

    Each function takes the hook's arguments: ``on_train_begin(run)``,
    ``on_epoch_begin(run)``, ``on_step_end(run, metrics)``,
    ``on_epoch_end(run, record)``, ``on_train_end(run)``.

    Example:
        >>> seen = []
        >>> cb = LambdaCallback(on_epoch_end=lambda run, record: seen.append(record))
        >>> cb.on_epoch_end(None, {"epoch": 1})
        >>> seen
        [{'epoch': 1}]
    """

    def __init__(
        self,
        on_train_begin: Callable[[Run], Any] | None = None,
        on_epoch_begin: Callable[[Run], Any] | None = None,
        on_step_end: Callable[[Run, dict], Any] | None = None,
        on_epoch_end: Callable[[Run, dict], Any] | None = None,
        on_train_end: Callable[[Run], Any] | None = None,
    ) -> None:
        self._hooks = {
            "train_begin": on_train_begin,
            "epoch_begin": on_epoch_begin,
            "step_end": on_step_end,
            "epoch_end": on_epoch_end,
            "train_end": on_train_end,
        }

    def _call(self, name: str, *args: Any) -> None:
        fn = self._hooks[name]
        if fn is not None:
            fn(*args)

    def on_train_begin(self, run: Run) -> None:
        self._call("train_begin", run)

    def on_epoch_begin(self, run: Run) -> None:
        self._call("epoch_begin", run)

    def on_step_end(self, run: Run, metrics: dict[str, Any]) -> None:
        self._call("step_end", run, metrics)

    def on_epoch_end(self, run: Run, record: dict[str, Any]) -> None:
        self._call("epoch_end", run, record)

    def on_train_end(self, run: Run) -> None:
        self._call("train_end", run)
