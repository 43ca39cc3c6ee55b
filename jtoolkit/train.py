"""Training: a jitted pure train step, ``fit()``, checkpoints, and the demo CLI.

The twin of a PyTorch training loop (``model.train()``, forward, loss, ``backward()``,
``optimizer.step()``, ``scheduler.step()``, ``torch.save``) as pure JAX:

- ``TrainState.create(model, optimizer, seed=0)``: model state, optimizer state, step
  and PRNG key as one pytree;
- ``make_train_step(loss_fn, optimizer, has_aux=False, *, precision, nan_policy,
  mesh, accumulate)``: a ``TrainStep``, one ``jax.jit``-compiled pure
  ``step(state, batch, mask=None) -> (state, metrics)`` with the state donated;
  ``step.with_steps(k)`` runs ``k`` optimizer steps per dispatch; a padding mask
  given to a step whose loss is a scalar raises ``MaskUnsupportedError``;
- ``make_eval_step(metric_fn)``: an ``EvalStep`` (model in eval mode);
- ``make_fused_epoch``: a whole epoch as one ``lax.scan`` for data held on the device;
- ``fit(state, step, loader, epochs, *, validation, callbacks, resume, ...)``:
  epochs through an ``EpochFeeder`` (one padded shape, grouped, prefetched) with
  validation and callbacks; returns a ``FitResult(state, history)``;
- callbacks: ``Callback`` (hooks ``on_train_begin/end``, ``on_epoch_begin/end``,
  ``on_step_end``, a JSON-able ``state``), ``ModelCheckpoint``, ``EarlyStopping``
  (also a pure ``init``/``step`` state machine), ``ReduceLROnPlateau``,
  ``ProgressBar``, ``History``, ``CSVLogger``, ``TensorBoard``, ``TerminateOnNaN``,
  ``EMA``, ``LambdaCallback``;
- ``initialize_distributed()``: join a multi-process run (``python -m
  jtoolkit.launch``, SLURM, Open MPI) before anything touches a device, with
  fail-fast and agreement checks; ``preemption_requested()`` (SIGTERM, agreed
  across processes), ``check_replicated``/``broadcast_from_primary``;
- ``use_cpu_cores()``: one JAX CPU device per usable core (right after ``import
  jax``), so ``mesh="auto"`` splits each batch over the cores;
- ``save_checkpoint`` / ``restore_checkpoint``: atomic orbax checkpoints (the rest
  of the checkpoint API is in ``jtoolkit.checkpoint``);
- ``python -m jtoolkit.train``: the demo (``--help`` lists its options).

``TrainState.create``, ``make_train_step``, ``make_eval_step``, ``fit`` and the demo
switch on JAX's persistent compilation cache (``$JAX_COMPILATION_CACHE_DIR``, else a
configured ``jax_compilation_cache_dir``, else ``~/.cache/jtoolkit/jax``;
``JTOOLKIT_COMPILATION_CACHE=0`` turns it off), so a second run compiles nothing.

The names are loaded on first use, so ``python -m jtoolkit.train --help`` answers
without importing JAX.
"""

import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the real bindings, for type checkers and linters
    from jtoolkit._src.checkpoint.store import restore_checkpoint, save_checkpoint
    from jtoolkit._src.train.callbacks import (
        EMA,
        Callback,
        CSVLogger,
        EarlyStopping,
        EarlyStoppingState,
        History,
        LambdaCallback,
        ModelCheckpoint,
        Monitor,
        ProgressBar,
        ReduceLROnPlateau,
        TensorBoard,
        TerminateOnNaN,
    )
    from jtoolkit._src.train.cpu_devices import use_cpu_cores
    from jtoolkit._src.train.distributed import (
        broadcast_from_primary,
        check_replicated,
        initialize_distributed,
    )
    from jtoolkit._src.train.feeder import EpochFeeder
    from jtoolkit._src.train.fused import make_fused_epoch
    from jtoolkit._src.train.loop import FitResult, fit
    from jtoolkit._src.train.runtime import (
        PREEMPTED_EXIT_CODE,
        Preempted,
        install_preemption_handler,
        preemption_requested,
    )
    from jtoolkit._src.train.sharding import state_shardings
    from jtoolkit._src.train.state import TrainState
    from jtoolkit._src.train.step import (
        EvalStep,
        MaskUnsupportedError,
        TrainStep,
        make_eval_step,
        make_train_step,
    )

__all__ = [
    "EMA",
    "PREEMPTED_EXIT_CODE",
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "EarlyStoppingState",
    "EpochFeeder",
    "EvalStep",
    "FitResult",
    "History",
    "LambdaCallback",
    "MaskUnsupportedError",
    "ModelCheckpoint",
    "Monitor",
    "Preempted",
    "ProgressBar",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
    "TrainState",
    "TrainStep",
    "broadcast_from_primary",
    "check_replicated",
    "fit",
    "initialize_distributed",
    "install_preemption_handler",
    "main",
    "make_eval_step",
    "make_fused_epoch",
    "make_train_step",
    "preemption_requested",
    "restore_checkpoint",
    "save_checkpoint",
    "state_shardings",
    "use_cpu_cores",
]

_HOMES = {
    "TrainState": "jtoolkit._src.train.state",
    "make_train_step": "jtoolkit._src.train.step",
    "make_eval_step": "jtoolkit._src.train.step",
    "make_fused_epoch": "jtoolkit._src.train.fused",
    "initialize_distributed": "jtoolkit._src.train.distributed",
    "check_replicated": "jtoolkit._src.train.distributed",
    "broadcast_from_primary": "jtoolkit._src.train.distributed",
    "preemption_requested": "jtoolkit._src.train.runtime",
    "install_preemption_handler": "jtoolkit._src.train.runtime",
    "Preempted": "jtoolkit._src.train.runtime",
    "PREEMPTED_EXIT_CODE": "jtoolkit._src.train.runtime",
    "state_shardings": "jtoolkit._src.train.sharding",
    "use_cpu_cores": "jtoolkit._src.train.cpu_devices",
    "TrainStep": "jtoolkit._src.train.step",
    "EvalStep": "jtoolkit._src.train.step",
    "EpochFeeder": "jtoolkit._src.train.feeder",
    "MaskUnsupportedError": "jtoolkit._src.train.step",
    **{
        name: "jtoolkit._src.train.callbacks"
        for name in (
            "EMA",
            "CSVLogger",
            "Callback",
            "EarlyStopping",
            "EarlyStoppingState",
            "History",
            "LambdaCallback",
            "ModelCheckpoint",
            "Monitor",
            "ProgressBar",
            "ReduceLROnPlateau",
            "TensorBoard",
            "TerminateOnNaN",
        )
    },
    "FitResult": "jtoolkit._src.train.loop",
    "fit": "jtoolkit._src.train.loop",
    "save_checkpoint": "jtoolkit._src.checkpoint.store",
    "restore_checkpoint": "jtoolkit._src.checkpoint.store",
}


def __getattr__(name: str):
    """Import the home of a public name on first use (PEP 562)."""
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)


def main(argv: list[str] | None = None) -> int:
    """Run the demo CLI (``python -m jtoolkit.train``); returns the exit code.

    Bad options exit with code 2 and a one-line message (argparse's usage first).

    Example:
        >>> main(["--epochs", "-1"])  # doctest: +SKIP
        2
    """
    from jtoolkit._src.demo.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
