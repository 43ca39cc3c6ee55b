"""``Monitor`` callbacks: early stopping and ReduceLROnPlateau on an epoch metric.

Keras's ``MonitorCallback`` shape: a callback that watches one key of the epoch's
metrics (``monitor``, e.g. ``"val_loss"``) in a direction (``mode``). The decisions
themselves are pure ``init``/``step`` state machines (``EarlyStopping`` here,
``jtoolkit.schedules.ReduceLROnPlateau``), whose states go into checkpoints as JSON.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core.checks import check_choice, check_int
from jtoolkit._src.schedules.plateau import PlateauState
from jtoolkit._src.schedules.plateau import ReduceLROnPlateau as PlateauSchedule
from jtoolkit._src.train.callbacks.base import (
    Callback,
    Run,
    state_from_json,
    state_to_json,
)

__all__ = [
    "EarlyStopping",
    "EarlyStoppingState",
    "Monitor",
    "ReduceLROnPlateau",
]


class Monitor(Callback):
    """A callback that acts on one epoch metric, ``monitor`` (Keras's
    ``MonitorCallback``); subclasses set ``monitor`` and implement ``decide``."""

    monitor: str = "val_loss"

    def value(self, record: dict[str, Any]) -> float:
        """The monitored value of ``record`` (KeyError naming what is there)."""
        if self.monitor not in record:
            raise KeyError(
                f"{type(self).__name__} monitor={self.monitor!r} is not among the "
                f"epoch metrics {sorted(record)}; pass validation= or another name"
            )
        return float(record[self.monitor])

    def on_epoch_end(self, run: Run, record: dict[str, Any]) -> None:
        self.decide(run, self.value(record))

    def decide(self, run: Run, value: float) -> None:
        """Act on this epoch's monitored ``value``."""


class EarlyStoppingState(NamedTuple):
    """Best value so far, epochs without improvement, and whether to stop."""

    best: jax.Array
    bad_epochs: jax.Array
    stop: jax.Array


@dataclasses.dataclass(eq=False)
class EarlyStopping(Monitor):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    The twin of Lightning's ``EarlyStopping(monitor, patience, mode, min_delta)``
    (torch itself has none). Pure and jittable, like ``ReduceLROnPlateau``:
    ``state = es.init()``, then ``state = es.step(state, metric)`` once per epoch;
    ``state.stop`` says when to stop. ``fit(early_stopping=es)`` does this for you
    with ``history[-1][es.monitor]``; as a callback (``fit(callbacks=[es])``) it
    sets ``run.stop``.

    Args:
        patience: epochs without improvement before stopping (int >= 1).
        monitor: history key ``fit`` feeds it (``"val_loss"``).
        mode: ``"min"`` or ``"max"``.
        min_delta: smallest change that counts as an improvement.

    Raises:
        ValueError: ``patience`` < 1 or ``mode`` not "min"/"max".

    Example:
        >>> es = EarlyStopping(patience=1)
        >>> state = es.init()
        >>> stops = []
        >>> for v in (1.0, 0.5, 0.7):
        ...     state = es.step(state, v)
        ...     stops.append(bool(state.stop))
        >>> stops
        [False, False, True]
    """

    patience: int = 5
    monitor: str = "val_loss"
    mode: str = "min"
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        check_choice("mode", self.mode, ("min", "max"), fn="EarlyStopping")
        check_int("patience", self.patience, fn="EarlyStopping", minimum=1)
        self._current: EarlyStoppingState | None = None

    def init(self) -> EarlyStoppingState:
        """The state before the first epoch."""
        worst = np.inf if self.mode == "min" else -np.inf
        return EarlyStoppingState(
            jnp.asarray(worst, jnp.float32),
            jnp.asarray(0, jnp.int32),
            jnp.asarray(False),
        )

    def step(self, state: EarlyStoppingState, metric: Any) -> EarlyStoppingState:
        """Feed one epoch's ``metric``; ``stop`` turns True once patience runs out."""
        value = jnp.asarray(metric, jnp.float32)
        delta = jnp.float32(self.min_delta)
        if self.mode == "min":
            better = value < state.best - delta
        else:
            better = value > state.best + delta
        bad = jnp.where(better, 0, state.bad_epochs + 1).astype(jnp.int32)
        best = jnp.where(better, value, state.best)
        return EarlyStoppingState(best, bad, state.stop | (bad >= self.patience))

    def on_train_begin(self, run: Run) -> None:
        if not run.resumed:
            self._current = None

    def decide(self, run: Run, value: float) -> None:
        self._current = self.step(self._current or self.init(), value)
        run.stop = run.stop or bool(self._current.stop)

    @property
    def state(self) -> dict[str, Any]:
        return {"machine": state_to_json(self._current)}

    def load_state(self, state: dict[str, Any]) -> None:
        self._current = state_from_json(EarlyStoppingState, state.get("machine"))


class ReduceLROnPlateau(Monitor):
    """Lower the learning rate when ``monitor`` stops improving (a callback).

    The twin of ``torch.optim.lr_scheduler.ReduceLROnPlateau`` stepped with a
    validation metric each epoch (torch's arguments and decisions, through the pure
    ``jtoolkit.schedules.ReduceLROnPlateau``); the new lr is written into the
    optimizer state with ``jtoolkit.optim.set_lr`` (an optimizer built with a float
    ``lr``). The epoch's record keeps the lr the epoch used.

    Args:
        monitor: the epoch metric watched (``"val_loss"``).
        mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps:
            torch's.
        scheduler: a ready ``jtoolkit.schedules.ReduceLROnPlateau`` instead of the
            arguments above.

    Example:
        >>> cb = ReduceLROnPlateau("val_loss", patience=0, factor=0.5)
        >>> cb.scheduler.factor, cb.monitor
        (0.5, 'val_loss')
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
        *,
        scheduler: PlateauSchedule | None = None,
    ) -> None:
        self.monitor = monitor
        self.scheduler = scheduler or PlateauSchedule(
            mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps
        )
        self._current: PlateauState | None = None

    def on_train_begin(self, run: Run) -> None:
        if not run.resumed or self._current is None:
            from jtoolkit._src.optim.lr import current_lr

            lr = current_lr(run.state.opt_state)
            lr = float(lr[0] if isinstance(lr, list) else lr)  # not a donated array
            self._current = self.scheduler.init(lr)

    def decide(self, run: Run, value: float) -> None:
        from jtoolkit._src.optim.lr import set_lr

        if self._current is None:
            raise RuntimeError(
                "ReduceLROnPlateau.decide before on_train_begin: pass the callback "
                "to fit(callbacks=...) so it sees the run start"
            )
        self._current = self.scheduler.step(self._current, value)
        # A host float: the lr array must not be shared with the (donated) state.
        opt_state = set_lr(run.state.opt_state, float(self._current.lr))
        run.state = run.state.replace(opt_state=opt_state)

    @property
    def state(self) -> dict[str, Any]:
        return {"machine": state_to_json(self._current)}

    def load_state(self, state: dict[str, Any]) -> None:
        self._current = state_from_json(PlateauState, state.get("machine"))
