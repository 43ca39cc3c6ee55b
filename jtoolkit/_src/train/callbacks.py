"""Host-side state machines of ``fit``: early stopping, and their JSON form.

``EarlyStopping`` is a pure ``init``/``step`` state machine like
``ReduceLROnPlateau``: its state is a NamedTuple of scalar arrays. Both states go
into a checkpoint's JSON through one path (``state_to_json`` / ``state_from_json``),
which keeps each field's dtype so a resumed run never retraces.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core.checks import check_choice, check_int

__all__ = [
    "EarlyStopping",
    "EarlyStoppingState",
    "state_from_json",
    "state_to_json",
]


def state_to_json(state: Any) -> dict | None:
    """A NamedTuple of scalars (plateau, early stopping) as ``{field: [dtype, value]}``.

    Example:
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


class EarlyStoppingState(NamedTuple):
    """Best value so far, epochs without improvement, and whether to stop."""

    best: jax.Array
    bad_epochs: jax.Array
    stop: jax.Array


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    The twin of Lightning's ``EarlyStopping(monitor, patience, mode, min_delta)``
    (torch itself has none). Pure and jittable, like ``ReduceLROnPlateau``:
    ``state = es.init()``, then ``state = es.step(state, metric)`` once per epoch;
    ``state.stop`` says when to stop. ``fit(early_stopping=es)`` does this for you
    with ``history[-1][es.monitor]``.

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
