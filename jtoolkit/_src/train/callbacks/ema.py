"""``EMA``: an exponential moving average of the weights, evaluated and saved."""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core.checks import fail
from jtoolkit._src.train.callbacks.base import Callback, Run
from jtoolkit._src.train.model_state import ModelState, combine, param_mask, partition

__all__ = ["EMA"]


@jax.jit
def _average(ema: Any, params: Any, decay: jax.Array) -> Any:
    return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)


class EMA(Callback):
    """Keep ``ema = decay * ema + (1 - decay) * params`` after every step call;
    validate on the averaged weights, and save them.

    The twin of ``torch.optim.swa_utils.AveragedModel(model,
    multi_avg_fn=get_ema_multi_avg_fn(decay))`` updated after each
    ``optimizer.step()``: the first update copies the parameters, later ones
    average. Only ``nnx.Param`` leaves are averaged (BatchNorm statistics are the
    model's current ones, as ``AveragedModel``'s default ``use_buffers=False``
    followed by ``update_bn``). With ``steps_per_execution=k`` the average is
    updated once per call (every ``k`` steps).

    Validation in ``fit`` runs on the averaged weights (``evaluation_state``).
    With ``directory``, the averaged ``TrainState`` is saved there after every
    epoch (``jtoolkit.checkpoint`` format, numbered by epoch, last ``keep``).
    The average itself travels in checkpoints as the callback's state, so a
    resumed run continues it exactly.

    Args:
        decay: in [0, 1).
        directory: where to save the averaged weights (None: not saved).
        keep: averaged checkpoints kept.

    Raises:
        ValueError: ``decay`` outside [0, 1).

    Example:
        >>> EMA(0.99).decay
        0.99
    """

    def __init__(
        self, decay: float, directory: str | os.PathLike | None = None, keep: int = 3
    ) -> None:
        if not 0.0 <= float(decay) < 1.0:
            fail("decay", decay, "a float in [0, 1)", fn="EMA")
        self.decay = float(decay)
        self.directory = None if directory is None else os.fspath(directory)
        self.keep = keep
        self.average: Any = None
        self._mask: Any = None
        self._saved: list | None = None

    def on_train_begin(self, run: Run) -> None:
        model = run.state.model
        self._mask = param_mask(model.graphdef, model.variables)
        self.average = None
        if run.resumed and self._saved is not None:
            treedef = jax.tree.structure(self._params(run.state))
            leaves = [jnp.asarray(np.asarray(v, dtype)) for dtype, v in self._saved]
            self.average = jax.tree.unflatten(treedef, leaves)

    def _params(self, state: Any) -> Any:
        return partition(state.model.variables, self._mask)[0]

    def on_step_end(self, run: Run, metrics: dict[str, Any]) -> None:
        params = self._params(run.state)
        if self.average is None:
            self.average = jax.tree.map(jnp.copy, params)
        else:
            self.average = _average(self.average, params, jnp.float32(self.decay))

    def evaluation_state(self, state: Any) -> Any:
        """``state`` with the averaged parameters (its other leaves kept)."""
        if self.average is None:
            return state
        rest = partition(state.model.variables, self._mask)[1]
        model = ModelState(state.model.graphdef, combine(self.average, rest))
        return state.replace(model=model)

    def on_epoch_end(self, run: Run, record: dict[str, Any]) -> None:
        if self.directory is None:
            return
        from jtoolkit._src.checkpoint.store import save_checkpoint

        state = self.evaluation_state(run.state)
        save_checkpoint(self.directory, state, run.epoch, max_to_keep=self.keep)

    @property
    def state(self) -> dict[str, Any]:
        if self.average is None:
            return {"average": None}
        leaves, _ = jax.tree.flatten(jax.device_get(self.average))
        return {"average": [[str(x.dtype), np.asarray(x).tolist()] for x in leaves]}

    def load_state(self, state: dict[str, Any]) -> None:
        self._saved = state.get("average")
