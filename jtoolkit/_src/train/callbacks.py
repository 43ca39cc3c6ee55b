"""Host-side callbacks of ``fit``: early stopping, plateau state to and from JSON."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from jtoolkit._src.core.checks import check_choice, check_int

__all__ = ["EarlyStopping", "plateau_from_json", "plateau_to_json"]


def plateau_to_json(state: Any) -> dict | None:
    """A ReduceLROnPlateau state (NamedTuple of scalars) as a JSON-safe dict."""
    if state is None:
        return None
    out = {}
    for name, value in state._asdict().items():
        value = np.asarray(value)
        out[name] = [str(value.dtype), value.item()]
    return out


def plateau_from_json(data: dict | None) -> Any:
    """Inverse of ``plateau_to_json`` (dtypes kept, so a jitted step never retraces)."""
    if data is None:
        return None
    import jax.numpy as jnp

    from jtoolkit._src.schedules.plateau import PlateauState

    return PlateauState(**{k: jnp.asarray(v, dtype) for k, (dtype, v) in data.items()})


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    The twin of Lightning's ``EarlyStopping(monitor, patience, mode, min_delta)``
    (torch itself has none).

    Args:
        patience: epochs without improvement before stopping (int >= 1).
        monitor: history key to watch (``"val_loss"``).
        mode: ``"min"`` or ``"max"``.
        min_delta: smallest change that counts as an improvement.

    Example:
        >>> es = EarlyStopping(patience=1).init()
        >>> [es.update({"val_loss": v}) for v in (1.0, 0.5, 0.7)]
        [False, False, True]
    """

    patience: int = 5
    monitor: str = "val_loss"
    mode: str = "min"
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        check_choice("mode", self.mode, ("min", "max"), fn="EarlyStopping")
        check_int("patience", self.patience, fn="EarlyStopping", minimum=1)

    def init(self, state: dict | None = None) -> _EarlyTracker:
        """A tracker, fresh or from ``to_json()`` of a checkpoint."""
        return _EarlyTracker(self, state)


class _EarlyTracker:
    """Mutable host-side bookkeeping for one run (saved in checkpoints as JSON)."""

    def __init__(self, spec: EarlyStopping, state: dict | None) -> None:
        self.spec = spec
        worst = math.inf if spec.mode == "min" else -math.inf
        state = state or {"best": worst, "bad_epochs": 0}
        self.best, self.bad_epochs = float(state["best"]), int(state["bad_epochs"])

    def update(self, record: dict) -> bool:
        """Feed one epoch's metrics; True when training should stop."""
        if self.spec.monitor not in record:
            raise KeyError(
                f"EarlyStopping monitor={self.spec.monitor!r} is not among the epoch "
                f"metrics {sorted(record)}"
            )
        value = float(record[self.spec.monitor])
        delta = self.spec.min_delta
        better = (
            value < self.best - delta
            if self.spec.mode == "min"
            else (value > self.best + delta)
        )
        if better:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.spec.patience

    def to_json(self) -> dict:
        return {"best": self.best, "bad_epochs": self.bad_epochs}
