"""``fit()``: the host-side epoch loop around the jitted train and eval steps.

Everything on the device stays in the jitted steps; this loop only feeds batches
(padding the last one so the compiled step is reused), reads metrics at log points,
steps ReduceLROnPlateau on a validation metric, keeps the history, stops early,
saves checkpoints and resumes from them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import jax

from jtoolkit._src.checkpoint.integrity import CheckpointCorruptError
from jtoolkit._src.checkpoint.store import (
    latest_step,
    prune_checkpoints,
    restore_checkpoint,
    save_checkpoint,
)
from jtoolkit._src.core.checks import check_int
from jtoolkit._src.core.protocols import SupportsSetEpoch, SupportsStateDict
from jtoolkit._src.data.prefetch import prefetch_to_device
from jtoolkit._src.schedules.plateau import PlateauState
from jtoolkit._src.train.batching import BatchPadder, batch_size_of
from jtoolkit._src.train.callbacks import (
    EarlyStopping,
    EarlyStoppingState,
    state_from_json,
    state_to_json,
)
from jtoolkit._src.train.distributed import (
    batch_sharding,
    check_divisible,
    is_primary,
    place_replicated,
    resolve_mesh,
)
from jtoolkit._src.train.epoch import evaluate, lr_of, train_epoch
from jtoolkit._src.train.state import TrainState

__all__ = ["FitResult", "fit"]


class FitResult(NamedTuple):
    """What ``fit`` returns: the final state and one metrics dict per epoch."""

    state: TrainState
    history: list[dict[str, Any]]


class _Run(NamedTuple):
    """Static settings of one ``fit`` call (derived once, never changed)."""

    train_step: Callable
    eval_step: Callable | None
    epochs: int
    plateau: Any
    plateau_metric: str
    log_every: int
    progress: bool
    nan_policy: str

    def bar(self, total: int, epoch: int):
        """A tqdm bar for one epoch (disabled without ``progress``)."""
        from tqdm.auto import tqdm

        return tqdm(
            total=total,
            desc=f"epoch {epoch}/{self.epochs}",
            disable=not self.progress,
            leave=True,
            dynamic_ncols=True,
        )


def _resume(directory, state, plateau, early):
    """Restore ``(state, start_epoch, history, plateau_state, early_state)``.

    The newest intact checkpoint is used (damaged ones are skipped with a warning);
    if checkpoints exist but none is intact, CheckpointCorruptError: never a
    silent fresh start. A checkpoint without fit's ``extra`` is damage too.
    """
    if latest_step(directory) is None:
        return state, 0, [], None, None
    state, extra = restore_checkpoint(directory, state, with_extra=True)
    if not isinstance(extra, dict) or "epoch" not in extra:
        raise CheckpointCorruptError(
            f"the newest intact checkpoint in {directory!s} has no fit state "
            "(extra/ with epoch, history, loader): it was not written by fit"
        )
    pstate = None
    if plateau is not None:
        pstate = state_from_json(PlateauState, extra.get("plateau"))
    estate = None
    if early is not None:
        estate = state_from_json(EarlyStoppingState, extra.get("early_stopping"))
    return (
        state,
        int(extra.get("epoch", 0)),
        list(extra.get("history", [])),
        pstate,
        estate,
    )


def fit(
    state: TrainState,
    train_step: Callable,
    train_loader: Iterable,
    epochs: int,
    *,
    eval_step: Callable | None = None,
    val_loader: Iterable | None = None,
    plateau: Any = None,
    plateau_metric: str = "val_loss",
    early_stopping: EarlyStopping | None = None,
    checkpoint_dir: str | None = None,
    checkpoint_every: int = 1,
    max_to_keep: int | None = 3,
    resume: bool = False,
    progress: bool = True,
    log_every: int = 20,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    mesh: Any = None,
    steps_per_execution: int = 1,
) -> FitResult:
    """Train ``epochs`` epochs over ``train_loader`` with validation and checkpoints.

    The twin of the tutorial's ``for epoch in range(epochs): for x, y in loader:
    ...; scheduler.step()`` loop with ``torch.save`` every few epochs. Per-step and
    per-epoch lr schedules live inside the optimizer (``lr=schedule`` or
    ``jtoolkit.schedules.per_epoch``); ``plateau`` (a
    ``jtoolkit.schedules.ReduceLROnPlateau``) is stepped on ``plateau_metric`` after
    each validation and written into the optimizer with ``jtoolkit.optim.set_lr``.

    The last, smaller batch is padded to the batch size with a 0/1 mask, so the
    compiled step is reused, when ``loss_fn`` returns per-example losses (shape
    ``(batch,)``, e.g. ``reduction="none"``); with a scalar loss it is passed as is
    (one extra compile for that shape; BatchNorm then sees only real rows).

    Resume: with ``checkpoint_dir`` and ``resume=True`` the latest checkpoint (model,
    optimizer state, step, PRNG key, plateau and early-stopping state, history,
    loader position) is restored into ``state`` and training continues at the next
    epoch; the loader's order depends only on its seed and the epoch
    (``set_epoch``), so the resumed run ends with exactly the metrics of an
    uninterrupted one. ``epochs`` may be larger than in the first run.

    Args:
        state: a ``TrainState`` (a fresh one when resuming: it is the restore target).
        train_step: ``make_train_step(loss_fn, optimizer, ...)``.
        train_loader: a ``jtoolkit.data.DataLoader`` (or any re-iterable of batches
            with ``len``; ``set_epoch``/``state_dict`` are used when present).
        epochs: total number of epochs (including those of a resumed run).
        eval_step: ``make_eval_step(metric_fn)``; its metrics appear as ``val_<name>``.
        val_loader: validation batches (needs ``eval_step``).
        plateau: a ``ReduceLROnPlateau`` (the optimizer built with a float ``lr``).
        plateau_metric: history key it watches (``"val_loss"``).
        early_stopping: ``EarlyStopping(patience, monitor, mode)`` or None.
        checkpoint_dir: save a checkpoint there every ``checkpoint_every`` epochs
            and after the last one.
        checkpoint_every: epochs between checkpoints (positive int).
        max_to_keep: checkpoints kept (None: all).
        resume: continue from the newest intact checkpoint in ``checkpoint_dir``
            if any (damaged newer ones are skipped with a warning naming them).
        progress: show a tqdm bar per epoch (loss, lr, samples/s).
        log_every: steps between host reads of the loss (progress, NaN check).
        on_epoch_end: called with each epoch's metrics dict (in every process).
        steps_per_execution: optimizer steps per dispatch (Keras's name): ``k``
            consecutive batches are stacked and run in one jitted ``lax.scan``,
            with the same parameters and per-step metrics as ``k`` single steps
            (the epoch's last, shorter group is filled and its filler steps
            skipped). Give a step built with ``make_train_step(..., steps=k)``; a
            single step is accepted only with ``k == 1``.
        mesh: data parallelism over ``jax.sharding``: ``None`` (the steps' own
            ``mesh``, else one device), ``"auto"`` (every device, axis ``"data"``)
            or a ``Mesh``. The state is replicated, each batch is padded on the
            host, then split over the data axis (``prefetch_to_device`` with a
            ``NamedSharding``), so a ragged last batch splits evenly. The loader's
            batch size times the process count must divide by the data shards.
            With several processes (``jax.distributed``) each process passes its
            own loader (a ``DistributedSampler`` shard); only process 0 shows
            progress; every process must call ``fit`` (checkpoints are collective).

    The step's own ``nan_policy`` (``make_train_step(..., nan_policy=)``) decides
    what a non-finite loss does: ``"raise"`` stops with FloatingPointError naming the
    step of the first non-finite loss (checked every ``log_every`` steps; the bad
    update itself was skipped), ``"skip"`` and ``"ignore"`` carry on.

    Returns:
        ``FitResult(state, history)``; ``history`` has one dict per epoch with
        ``epoch``, ``train_loss``, ``lr``, ``samples_per_s``, ``time_s``,
        ``skipped_steps`` and the ``val_*`` metrics.

    Raises:
        ValueError: bad ``epochs`` or ``checkpoint_every``, or
            ``val_loader`` without ``eval_step``, or ``resume`` without
            ``checkpoint_dir``.
        FloatingPointError: a non-finite loss or gradient with
            ``nan_policy="raise"``.
        CheckpointCorruptError: ``resume`` and no checkpoint in ``checkpoint_dir``
            is intact.
        NotADirectoryError: ``checkpoint_dir`` is a file (before any training).

    Example:
        >>> import optax
        >>> from flax import nnx
        >>> from jtoolkit.train import TrainState, make_train_step
        >>> x = np.linspace(-1, 1, 20, dtype=np.float32).reshape(10, 2)
        >>> batches = [(x[:8], x[:8, :1]), (x[8:], x[8:, :1])]
        >>> opt = optax.sgd(0.1)
        >>> step = make_train_step(lambda m, b: ((m(b[0]) - b[1]) ** 2)[:, 0], opt)
        >>> state = TrainState.create(nnx.Linear(2, 1, rngs=nnx.Rngs(0)), opt)
        >>> state, history = fit(state, step, batches, 3, progress=False)
        >>> len(history), int(state.step), history[-1]["epoch"]
        (3, 6, 3)
    """
    _check_fit_args(epochs, checkpoint_every, eval_step, val_loader)
    check_int("steps_per_execution", steps_per_execution, fn="fit", minimum=1)
    nan_policy = getattr(train_step, "nan_policy", "raise")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir= (where to resume from)")
    mesh = resolve_mesh(mesh) or getattr(train_step, "mesh", None)
    progress = progress and is_primary()
    if steps_per_execution != getattr(train_step, "steps", 1):
        train_step = _with_steps(train_step, steps_per_execution)
    run = _Run(
        train_step,
        eval_step,
        epochs,
        plateau,
        plateau_metric,
        log_every,
        progress,
        nan_policy,
    )
    start, history, pstate, estate = 0, [], None, None
    if mesh is not None:  # placed first: a restore lands on the target's sharding
        state = place_replicated(state, mesh)
    if resume:
        state, start, history, pstate, estate = _resume(
            checkpoint_dir, state, plateau, early_stopping
        )
    if mesh is not None:
        state = place_replicated(state, mesh)  # no-op for a restored state
        train_loader = _on_mesh(train_loader, mesh)
        val_loader = None if val_loader is None else _on_mesh(val_loader, mesh)
    if checkpoint_dir is not None:  # retention after a kill between save and prune
        if os.path.exists(checkpoint_dir) and not os.path.isdir(checkpoint_dir):
            raise NotADirectoryError(f"checkpoint_dir {checkpoint_dir} is a file")
        prune_checkpoints(checkpoint_dir, max_to_keep, protect=start or None)
    if plateau is not None and pstate is None:
        pstate = plateau.init(lr_of(state.opt_state))
    if early_stopping is not None and estate is None:
        estate = early_stopping.init()
    # Mask support is asked of the one-batch step (a k-step step takes stacks).
    single = getattr(run.train_step, "single", run.train_step)
    padder = BatchPadder(single, batch_size_of(train_loader))
    # Validation batches are padded to the validation loader's own batch size, so
    # a larger eval batch size (common in torch code) works and compiles once.
    val_padder = (
        None if eval_step is None else BatchPadder(eval_step, batch_size_of(val_loader))
    )
    for epoch in range(start + 1, epochs + 1):
        if isinstance(train_loader, SupportsSetEpoch):
            train_loader.set_epoch(epoch - 1)
        state, record = train_epoch(run, state, train_loader, epoch, padder)
        if val_loader is not None and val_padder is not None:  # eval_step given
            record.update(evaluate(val_padder.step, state, val_loader, val_padder))
        record = {"epoch": epoch, **record, "lr": lr_of(state.opt_state)}
        state, pstate = _step_plateau(run, state, pstate, record)
        history.append(record)
        if on_epoch_end is not None:
            on_epoch_end(record)
        estate = _step_early(early_stopping, estate, record)
        stop = estate is not None and bool(estate.stop)
        if checkpoint_dir is not None and (
            epoch % checkpoint_every == 0 or epoch == epochs or stop
        ):
            extra = {
                "epoch": epoch,
                "history": history,
                "plateau": state_to_json(pstate),
                "early_stopping": state_to_json(estate),
                "loader": _loader_state(train_loader),
            }
            save_checkpoint(
                checkpoint_dir, state, epoch, extra=extra, max_to_keep=max_to_keep
            )
        if stop:
            break
    return FitResult(state, history)


def _with_steps(train_step: Callable, steps: int) -> Callable:
    """``train_step`` for ``steps_per_execution`` (must have been built for it)."""
    built = getattr(train_step, "steps", 1)
    if steps == 1 and built > 1:
        return train_step.single
    raise ValueError(
        f"fit(steps_per_execution={steps}) needs a step built for it: "
        f"make_train_step(loss_fn, optimizer, steps={steps}) (this step runs "
        f"{built} step(s) per call)"
    )


def _on_mesh(loader: Iterable, mesh: Any) -> Iterable:
    """Batches of ``loader`` placed split over ``mesh`` (padded on the host first)."""
    size = batch_size_of(loader)
    if size is not None:
        check_divisible(size * jax.process_count(), mesh)
    if hasattr(loader, "with_padding"):
        return loader  # already a prefetcher: the caller chose its placement
    return prefetch_to_device(loader, 2, batch_sharding(mesh))


def _loader_state(loader: Any) -> dict | None:
    return loader.state_dict() if isinstance(loader, SupportsStateDict) else None


def _step_plateau(run: _Run, state: TrainState, pstate: Any, record: dict):
    if run.plateau is None:
        return state, pstate
    if run.plateau_metric not in record:
        raise KeyError(
            f"plateau_metric={run.plateau_metric!r} is not among the epoch metrics "
            f"{sorted(record)}; pass val_loader/eval_step or another metric name"
        )
    from jtoolkit._src.optim.lr import set_lr

    pstate = run.plateau.step(pstate, record[run.plateau_metric])
    # A host float: the lr array must not be shared with the (donated) opt_state.
    new_opt_state = set_lr(state.opt_state, float(pstate.lr))
    return dataclasses.replace(state, opt_state=new_opt_state), pstate


def _step_early(early: EarlyStopping | None, estate: Any, record: dict) -> Any:
    if early is None:
        return None
    if early.monitor not in record:
        raise KeyError(
            f"EarlyStopping monitor={early.monitor!r} is not among the epoch "
            f"metrics {sorted(record)}"
        )
    return early.step(estate, float(record[early.monitor]))


def _check_fit_args(epochs, checkpoint_every, eval_step, val_loader):
    check_int("epochs", epochs, fn="fit", minimum=0)
    check_int("checkpoint_every", checkpoint_every, fn="fit", minimum=1)
    if val_loader is not None and eval_step is None:
        raise ValueError("val_loader needs eval_step=make_eval_step(metric_fn)")
