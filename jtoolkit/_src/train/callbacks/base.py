"""``Callback``: the hooks ``fit`` calls, and ``Run``, what the hooks see.

Keras's callbacks own everything around the step the same way: checkpoints, early
stopping, learning-rate reduction, progress, logs. ``fit`` itself only feeds the
step, evaluates and calls the hooks; a callback changes the run by setting
``run.state`` (e.g. a new learning rate) or ``run.stop``. A callback's ``state`` is
a JSON-able dict saved in every checkpoint and given back on resume, so a resumed
run continues each callback where it was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

__all__ = ["Callback", "Run", "state_from_json", "state_to_json"]


@dataclasses.dataclass(eq=False)
class Run:
    """The live state of one ``fit`` call, shared with the callbacks.

    Attributes:
        state: the current ``TrainState`` (a callback may replace it).
        epochs: the last epoch of the run.
        epoch: the current epoch (1-based); after it ends, the last one done.
        batch: loader batches done in the current epoch.
        steps_per_epoch: batches per epoch (``len(loader)``).
        history: one metrics dict per finished epoch.
        loader: the training loader (its ``state_dict`` goes into checkpoints).
        stop: set True to end training after the current call or epoch.
        resumed: whether this run continues from a checkpoint (callbacks got
            their saved ``state`` back).
        running_loss: the mean training loss of the epoch so far, as of the last
            log point (read every ``log_every`` batches), or None.
        call_batches: real steps in the last call (stacked metrics hold these
            first, then zero-filled filler steps).
        log_every: loader batches between log points (host reads of the loss).
        epoch_rows: real examples trained on so far this epoch.
        position: the loader's ``state_dict()`` after the last batch the step
            has taken (prefetched batches do not count), or None.
        log: where one-line messages go (``print`` in process 0).
        fit_state: ``() -> dict``: everything a checkpoint needs besides the
            ``TrainState`` (set by ``fit``).
    """

    state: Any
    epochs: int
    steps_per_epoch: int
    loader: Any = None
    epoch: int = 0
    batch: int = 0
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    stop: bool = False
    resumed: bool = False
    running_loss: float | None = None
    position: Any = None
    call_batches: int = 0
    log_every: int = 20
    epoch_rows: int = 0
    log: Callable[[str], None] = print
    fit_state: Callable[[], dict] = dict

    @property
    def batches_done(self) -> int:
        """Loader batches done since the start of training (epoch 1, batch 0)."""
        return (self.epoch - 1) * self.steps_per_epoch + self.batch


class Callback:
    """Base class of ``fit``'s callbacks: override the hooks you need.

    The twin of Keras's ``keras.callbacks.Callback`` and Lightning's ``Callback``.
    Hooks run in the order the callbacks are given (checkpoints last):
    ``on_train_begin(run)``, then per epoch ``on_epoch_begin(run)``,
    ``on_step_end(run, metrics)`` after every call of the step (``metrics`` are
    the step's device arrays: stacked ``(k,)`` with ``steps_per_execution=k``;
    reading them waits for the device), ``on_epoch_end(run, record)`` with the
    epoch's metrics dict (after validation), and ``on_train_end(run)``.

    ``state`` (a JSON-able dict) is saved in checkpoints and handed to
    ``load_state`` on resume. ``evaluation_state(state)`` lets a callback choose
    the weights validation runs on (``EMA``).

    Example:
        >>> class CountEpochs(Callback):
        ...     def __init__(self):
        ...         self.epochs = 0
        ...     def on_epoch_end(self, run, record):
        ...         self.epochs += 1
        ...     @property
        ...     def state(self):
        ...         return {"epochs": self.epochs}
        ...     def load_state(self, state):
        ...         self.epochs = state["epochs"]
        >>> CountEpochs().state
        {'epochs': 0}
    """

    order: int = 0  # hooks run by increasing order (checkpoints: 100, last)

    def on_train_begin(self, run: Run) -> None:
        """Before the first epoch (after a resume restored everything)."""

    def on_epoch_begin(self, run: Run) -> None:
        """Before the first batch of ``run.epoch``."""

    def on_step_end(self, run: Run, metrics: dict[str, Any]) -> None:
        """After each call of the train step."""

    def on_epoch_end(self, run: Run, record: dict[str, Any]) -> None:
        """After validation of ``run.epoch``; ``record`` is its metrics dict."""

    def on_train_end(self, run: Run) -> None:
        """After the last epoch (or a stop)."""

    def evaluation_state(self, state: Any) -> Any:
        """The state validation should use (default: ``state`` itself)."""
        return state

    @property
    def state(self) -> dict[str, Any]:
        """JSON-able state saved in checkpoints (default: nothing)."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what ``state`` returned (on resume)."""


def state_to_json(state: Any) -> dict | None:
    """A NamedTuple of scalars (plateau, early stopping) as ``{field: [dtype, value]}``.

    Example:
        >>> from jtoolkit._src.train.callbacks.monitor import EarlyStopping
        >>> state_to_json(EarlyStopping(patience=2).init())
        {'best': ['float32', inf], 'bad_epochs': ['int32', 0], 'stop': ['bool', False]}
    """
    if state is None:
        return None
    out = {}
    for name, value in state._asdict().items():
        value = np.asarray(value)
        out[name] = [str(value.dtype), value.item()]
    return out


def state_from_json(cls: type, data: dict | None) -> Any:
    """Inverse of ``state_to_json`` for the NamedTuple class ``cls`` (dtypes kept)."""
    if data is None:
        return None
    return cls(**{k: jnp.asarray(v, dtype) for k, (dtype, v) in data.items()})
