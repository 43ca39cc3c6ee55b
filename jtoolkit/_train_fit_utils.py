"""Small host-side helpers of ``fit``: padding, lr reading, plateau JSON, early stop."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

__all__ = [
    "EarlyStopping",
    "batch_rows",
    "lr_of",
    "pad_batch",
    "plateau_from_json",
    "plateau_to_json",
    "supports_mask",
]


def batch_rows(batch: Any) -> int:
    """Number of examples in a batch (leading dim of its first leaf)."""
    return int(np.shape(jax.tree.leaves(batch)[0])[0])


def pad_batch(batch: Any, size: int) -> tuple[Any, np.ndarray]:
    """Pad every leaf to ``size`` rows with copies of the last row; 0/1 row mask.

    Example:
        >>> b, m = pad_batch((np.arange(3.0),), 5)
        >>> b[0].tolist(), m.tolist()
        ([0.0, 1.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 0.0, 0.0])
    """
    rows = batch_rows(batch)
    mask = (np.arange(size) < rows).astype(np.float32)
    if rows == size:
        return batch, mask
    if rows > size:
        raise ValueError(
            f"batch of {rows} rows is larger than the first batch ({size}); fit pads "
            "smaller batches to the first batch's size"
        )

    def pad(x):
        x = np.asarray(x)
        return np.concatenate([x, np.repeat(x[-1:], size - rows, axis=0)])

    return jax.tree.map(pad, batch), mask


def supports_mask(step: Callable, state: Any, padded: tuple[Any, np.ndarray]) -> bool:
    """Whether ``step`` takes a padding mask (its function returns per-example values).

    Traces abstractly (``jax.eval_shape``): no compile, nothing runs.
    """
    batch, mask = padded
    try:
        jax.eval_shape(step, state, batch, mask)
    except ValueError as err:
        if "padding mask" in str(err):
            return False
        raise
    return True


def lr_of(opt_state: Any) -> float | None:
    """The optimizer's current learning rate as a float (None if it holds none)."""
    try:
        from jtoolkit.optim import current_lr

        lr = current_lr(opt_state)
    except (ValueError, TypeError, AttributeError, ImportError):
        return None
    if isinstance(lr, list):
        lr = lr[0]
    return float(lr)


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

    from jtoolkit.schedules import PlateauState

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
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got mode={self.mode!r}")
        if isinstance(self.patience, bool) or not isinstance(self.patience, int):
            raise ValueError(f"patience must be an int >= 1, got {self.patience!r}")
        if self.patience < 1:
            raise ValueError(f"patience must be an int >= 1, got {self.patience!r}")

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
