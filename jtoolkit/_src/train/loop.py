"""``fit()``: the step, the feeder and the callbacks, on one screen.

nanoGPT's loop shape: feed the step, read its metrics only at log points (the host
syncs are labelled), evaluate after each epoch, hand everything else to callbacks
(checkpoints, early stopping, lr on plateau, progress, logs, EMA). The step and the
feeder own the device work and the batching; this file owns the order of events.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import jax
import numpy as np

from jtoolkit._src.checkpoint.integrity import CheckpointCorruptError
from jtoolkit._src.checkpoint.store import latest_step, restore_checkpoint
from jtoolkit._src.core.checks import check_int
from jtoolkit._src.core.compilation_cache import enable_compilation_cache
from jtoolkit._src.train.callbacks.base import Callback, Run
from jtoolkit._src.train.callbacks.checkpoint import ModelCheckpoint
from jtoolkit._src.train.callbacks.lambda_callback import LambdaCallback
from jtoolkit._src.train.callbacks.monitor import ReduceLROnPlateau
from jtoolkit._src.train.callbacks.progress import ProgressBar
from jtoolkit._src.train.distributed import (
    batch_sharding,
    broadcast_from_primary,
    check_divisible,
    check_replicated,
    is_primary,
    resolve_mesh,
)
from jtoolkit._src.train.feeder import (
    EpochFeeder,
    Resumable,
    Shuffled,
    batch_size_of,
)
from jtoolkit._src.train.runtime import (
    Preempted,
    install_preemption_handler,
    preemption_requested,
    stop_preemption_polling,
)
from jtoolkit._src.train.state import TrainState
from jtoolkit._src.train.step import EvalStep, TrainStep
from jtoolkit._src.train.validation import (
    evaluate,
    lr_of,
    metric_updater,
    shard_validation,
)

__all__ = ["FitResult", "fit"]

_LEGACY = {
    "val_loader",
    "plateau",
    "plateau_metric",
    "early_stopping",
    "checkpoint_dir",
    "checkpoint_every",
    "max_to_keep",
    "on_epoch_end",
}


class FitResult(NamedTuple):
    """What ``fit`` returns: the final state and one metrics dict per epoch."""

    state: TrainState
    history: list[dict[str, Any]]


class _EpochLog:
    """Per-call metrics of an epoch: device arrays until a log point reads them.

    The host values are kept per step, so the epoch's loss is one ``np.sum`` over
    the same array however often it was read (and after a mid-epoch resume).
    """

    def __init__(self, partial: dict | None = None) -> None:
        partial = partial or {}
        self.losses: list[float] = list(partial.get("losses", []))
        self.finite: list[bool] = list(partial.get("finite", []))
        self.rows: list[int] = list(partial.get("rows", []))
        self.pending: list[tuple[Any, Any, tuple[int, ...]]] = []

    def add(self, metrics: dict, rows: tuple[int, ...]) -> None:
        self.pending.append((metrics["loss"], metrics["finite"], rows))

    def read(self) -> int:
        """Bring pending metrics to the host (HOST SYNC); the index of the first
        newly read step, so a caller can look for non-finite steps from there."""
        first = len(self.losses)
        if self.pending:
            values = jax.device_get([(p[0], p[1]) for p in self.pending])
            for (loss, ok), (_, _, rows) in zip(values, self.pending, strict=True):
                n = len(rows)
                self.losses += np.atleast_1d(np.asarray(loss))[:n].tolist()
                self.finite += np.atleast_1d(np.asarray(ok))[:n].tolist()
                self.rows += list(rows)
            self.pending = []
        return first

    def mean(self) -> float:
        values = np.asarray(self.losses, np.float64)
        finite = np.asarray(self.finite, bool)
        weights = np.asarray(self.rows, np.float64) * finite
        if not weights.sum():
            return math.nan
        return float(np.sum(values[finite] * weights[finite]) / weights.sum())

    def as_json(self) -> dict:
        self.read()
        return {"losses": self.losses, "finite": self.finite, "rows": self.rows}


def _raise_nonfinite(log: _EpochLog, start: int, first_step: int, epoch: int) -> None:
    """FloatingPointError naming the first non-finite step read since ``start``."""
    bad = [i for i in range(start, len(log.finite)) if not log.finite[i]]
    if not bad:
        return
    i, loss = bad[0], log.losses[bad[0]]
    what = (
        f"non-finite gradient (loss {loss:g})"
        if math.isfinite(loss)
        else f"non-finite loss ({loss})"
    )
    raise FloatingPointError(
        f"{what} at step {first_step + i + 1} (epoch {epoch}, batch {i + 1}); that "
        "update was skipped. Lower the learning rate, clip gradients "
        "(jtoolkit.optim.clip_grad_norm), check the data, or pass "
        "nan_policy='skip' to make_train_step to carry on"
    )


def _one_batch(batch: Any, axes: int) -> Any:
    """The abstract shape of one loader batch inside a stacked call's batch."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape[axes:], x.dtype), batch)


def _train_epoch(
    run: Run, step: TrainStep, feeder: EpochFeeder, hooks: list, log: _EpochLog
):
    """Feed one epoch (or its rest, after a mid-epoch resume) through ``step``."""
    first_step = int(run.state.step) - len(log.losses)  # HOST SYNC (once)
    start, next_read, use_mask = time.perf_counter(), run.log_every, None
    for feed in feeder:
        if use_mask is None:  # abstract trace of the loss: nothing runs
            one = _one_batch(feed.batch, step.batch_axis)
            plain = step.batches_per_call == 1  # then the call's own trace serves
            use_mask = step.takes_mask(
                run.state, feed.batch if plain else one, feed.mask if plain else None
            )
            feeder.check_scalar_loss(use_mask)
        if not use_mask:
            feeder.check_rows(feed.rows)
        mask = feed.mask if use_mask else None
        run.state, metrics = step(run.state, feed.batch, mask, feed.valid)
        acc = step.accumulate  # the log keeps one entry per optimizer step
        rows = feed.weights or feed.rows  # each loss weighs its rows on all processes
        log.add(
            metrics, tuple(sum(rows[i : i + acc]) for i in range(0, len(rows), acc))
        )
        run.batch += len(feed.rows)
        run.call_batches, run.position = len(feed.rows), feed.position
        run.epoch_rows += sum(feed.rows)
        if run.batch >= next_read or run.batch == run.steps_per_epoch:
            next_read = (run.batch // run.log_every + 1) * run.log_every
            read_from = log.read()  # HOST SYNC: at log points only
            if step.nan_policy == "raise":
                _raise_nonfinite(log, read_from, first_step, run.epoch)
            run.running_loss = log.mean()
        for cb in hooks:
            cb.on_step_end(run, metrics)
        # every call, every process, exactly once: the calls are counted, and JAX's
        # preemption sync manager answers True at the same call everywhere
        if preemption_requested():
            _preempted(run, hooks)
        if run.stop:
            break
    jax.block_until_ready(run.state.step)  # HOST SYNC: the epoch's time
    elapsed = time.perf_counter() - start
    log.read()
    return {
        "train_loss": log.mean(),
        "samples_per_s": run.epoch_rows * jax.process_count() / max(elapsed, 1e-9),
        "time_s": elapsed,
        "skipped_steps": int(np.sum(~np.asarray(log.finite, bool))),
    }


def _preempted(run: Run, hooks: list) -> None:
    """Save where the run stands (every process, together) and stop: Preempted."""
    saver = next((c for c in hooks if isinstance(c, ModelCheckpoint)), None)
    if saver is not None:
        saver.save(run)
    stop_preemption_polling()
    where = None if saver is None else saver.key(run)
    run.log(
        f"fit: preempted (SIGTERM) at epoch {run.epoch}, batch {run.batch}: "
        + ("no ModelCheckpoint, nothing saved" if saver is None else f"saved {where}")
    )
    raise Preempted(where)


def _legacy_callbacks(legacy: dict, validation: Any) -> tuple[list, Any, Any]:
    """Callbacks for the keywords of the first ``fit``: (callbacks, validation,
    checkpoint directory)."""
    unknown = set(legacy) - _LEGACY
    if unknown:
        name = sorted(unknown)[0]
        raise TypeError(f"fit() got an unexpected keyword argument {name!r}")
    out: list[Callback] = []
    if legacy.get("plateau") is not None:
        metric = legacy.get("plateau_metric", "val_loss")
        out.append(ReduceLROnPlateau(metric, scheduler=legacy["plateau"]))
    if legacy.get("on_epoch_end") is not None:
        writer = legacy["on_epoch_end"]
        out.append(LambdaCallback(on_epoch_end=lambda run, record: writer(record)))
    if legacy.get("early_stopping") is not None:
        out.append(legacy["early_stopping"])
    directory = legacy.get("checkpoint_dir")
    if directory is not None:
        every = legacy.get("checkpoint_every", 1)
        check_int("checkpoint_every", every, fn="fit", minimum=1)
        keep = legacy.get("max_to_keep", 3)
        out.append(ModelCheckpoint(directory, every_epochs=every, keep=keep))
    return out, legacy.get("val_loader", validation), directory


def _restore(run: Run, directory: Any, mode: Any, hooks: list) -> dict | None:
    """Load the newest intact checkpoint of ``directory`` into ``run``; returns the
    partial epoch's values (mid-epoch checkpoints) or None."""
    if latest_step(directory) is None:
        if mode == "auto":
            run.log(f"fit: no checkpoint in {directory} yet: starting fresh")
            return None
        raise FileNotFoundError(
            f"fit(resume=True): no checkpoint in {directory}; pass resume='auto' to "
            "start fresh when there is none"
        )
    run.state, extra = restore_checkpoint(directory, run.state, with_extra=True)
    if not isinstance(extra, dict) or "epoch" not in extra:
        raise CheckpointCorruptError(
            f"the newest intact checkpoint in {directory!s} has no fit state "
            "(extra/ with epoch, history, loader): it was not written by fit"
        )
    run.resumed, run.epoch = True, int(extra["epoch"])
    run.history = list(extra.get("history", []))
    saved = extra.get("callbacks") or []
    for cb, item in zip(hooks, saved, strict=False):
        if item.get("name") == type(cb).__name__:
            cb.load_state(item.get("state", {}))
    if extra.get("batch"):  # a mid-epoch checkpoint: continue that epoch
        if not isinstance(run.loader, Resumable):
            raise ValueError(
                "a mid-epoch checkpoint needs a loader with state_dict/"
                "load_state_dict (jtoolkit.data.DataLoader) to resume"
            )
        run.loader.load_state_dict(extra["loader"])
        run.epoch, run.batch = run.epoch + 1, int(extra["batch"])
        return extra.get("partial", {})
    return None


def _fit_state(run: Run, hooks: list, log_ref: list) -> dict:
    """The JSON part of a checkpoint at the run's current position."""
    mid = 0 < run.batch < run.steps_per_epoch or (
        run.batch == run.steps_per_epoch and len(run.history) < run.epoch
    )
    if mid:
        loader = run.position
    else:
        loader = run.loader.state_dict() if isinstance(run.loader, Resumable) else None
    return {
        "epoch": run.epoch - 1 if mid else run.epoch,
        "batch": run.batch if mid else 0,
        "history": run.history,
        "loader": loader,
        "partial": log_ref[0].as_json() if mid else None,
        "callbacks": [{"name": type(c).__name__, "state": c.state} for c in hooks],
    }


def fit(
    state: TrainState,
    train_step: TrainStep,
    train_loader: Iterable,
    epochs: int,
    *,
    validation: Iterable | None = None,
    eval_step: EvalStep | None = None,
    callbacks: Iterable[Callback] = (),
    resume: bool | str | None = None,
    mesh: Any = None,
    shard: Any = None,
    steps_per_execution: int = 1,
    metrics: Mapping[str, Any] | None = None,
    predict: Callable | None = None,
    progress: bool = True,
    log_every: int = 20,
    prefetch: int = 2,
    log: Callable[[str], None] | None = None,
    **legacy: Any,
) -> FitResult:
    """Train ``epochs`` epochs of ``train_step`` over ``train_loader``.

    The twin of the tutorial's ``for epoch in range(epochs): for x, y in loader:
    ...`` loop, shaped like Keras's ``model.fit``: an ``EpochFeeder`` pads every
    batch to one shape (with a mask; per-example losses leave the padded rows out,
    BatchNorm too), groups ``steps_per_execution`` batches per call and prefetches
    them to the device or mesh, so the step compiles once; after each epoch the
    ``validation`` loader is evaluated; ``callbacks`` do the rest. Per-step and
    per-epoch lr schedules live inside the optimizer.

    Resume: ``resume=True`` continues from the newest intact checkpoint of the
    first ``ModelCheckpoint`` (model, optimizer, step, PRNG key, history,
    callbacks' states, loader position, mid-epoch too) and fails if there is none;
    ``resume="auto"`` starts fresh (one log line) when there is none yet. The loader's
    order depends only on its seed and epoch, so a resumed run ends with exactly the
    metrics of an uninterrupted one. ``epochs`` may be larger than in the first run.

    Args:
        state: a ``TrainState`` (when resuming, the restore target).
        train_step: ``make_train_step(...)`` (any ``steps``; ``fit`` uses
            ``train_step.with_steps(steps_per_execution)``).
        train_loader: a ``jtoolkit.data.DataLoader`` or any sized re-iterable of
            batches (``set_epoch``/``state_dict`` used when it has them).
        epochs: total number of epochs (including those of a resumed run).
        validation: validation batches, evaluated after every epoch with
            ``eval_step`` (metrics ``val_<name>``) and ``metrics``. With a mesh
            over several processes a sequential ``DataLoader`` is sharded: each
            process evaluates its share, the sums are global, the numbers those of
            one process.
        eval_step: ``make_eval_step(metric_fn)``.
        callbacks: ``Callback`` objects (``ModelCheckpoint``, ``EarlyStopping``,
            ``ReduceLROnPlateau``, ``CSVLogger``, ``TensorBoard``, ``EMA``, ...).
        resume: None, True or ``"auto"`` (above).
        mesh: data parallelism: None (the step's own mesh, else one device),
            ``"auto"`` or a ``Mesh``; batches split over ``"data"``. The loader's
            batch size times the process count must divide by the data shards.
        shard: where the state lives on the mesh: None (the step's own ``shard``,
            else replicated), ``"fsdp"`` or a layout map (``state_shardings``'
            policy; ``make_train_step``'s ``shard``). The state is placed so
            before training (a restore lands there) and evaluated there.
        steps_per_execution: optimizer steps per dispatch (Keras's name); the same
            numbers as 1.
        metrics: ``{name: metric}`` with ``init() -> s``, ``update(s, preds,
            target, mask=None) -> s``, ``compute(s)`` (``jtoolkit.metrics``),
            computed over ``validation`` as ``val_<name>``.
        predict: ``predict(model, batch) -> (preds, target)`` for ``metrics``
            (default: ``(model(x), y)`` for ``(x, y)`` batches, model in eval mode).
        progress: show a ``ProgressBar`` (process 0) unless one is in callbacks.
        log_every: loader batches between host reads of the loss (running loss,
            NaN check).
        prefetch: calls' batches placed ahead on the device.
        log: where one-line messages go (default ``print`` in process 0).
        **legacy: the first ``fit``'s keywords, still accepted: ``val_loader``
            (= ``validation``), ``plateau``/``plateau_metric``
            (= ``ReduceLROnPlateau``), ``early_stopping`` (an ``EarlyStopping``),
            ``checkpoint_dir``/``checkpoint_every``/``max_to_keep``
            (= ``ModelCheckpoint(dir, every_epochs, keep)``), ``on_epoch_end``
            (= ``LambdaCallback(on_epoch_end=...)``).

    Preemption: ``fit`` installs ``install_preemption_handler`` and polls
    ``preemption_requested()`` after every call of the step (every process, once
    per call). After a SIGTERM (to any process of a job: JAX's sync manager makes
    them agree on the call) it saves a checkpoint right there through the first
    ``ModelCheckpoint`` (mid-epoch, with the loader position) and raises
    ``Preempted``, a ``SystemExit`` with code 143: uncaught, the process exits 143
    and ``resume="auto"`` in the next run continues exactly where it stopped;
    ``except Preempted`` keeps the process alive. A SIGTERM before the first call
    or after ``fit`` returns ends the process at once with 143. With several
    processes the initial state is broadcast from process 0 (DDP's rule), or, after
    a resume, checked to be the same everywhere.

    The step's own ``nan_policy`` decides what a non-finite loss does: ``"raise"``
    stops with FloatingPointError naming the step (checked every ``log_every``
    batches; the bad update itself was skipped), ``"skip"``/``"ignore"`` go on.

    Returns:
        ``FitResult(state, history)``; ``history`` has one dict per epoch with
        ``epoch``, ``train_loss``, ``samples_per_s``, ``time_s``,
        ``skipped_steps``, the ``val_*`` metrics and ``lr``.

    Raises:
        ValueError: bad ``epochs``/``steps_per_execution``, validation without
            ``eval_step``/``metrics``, ``resume`` without a checkpoint directory,
            or a scalar loss with ragged batches.
        FileNotFoundError: ``resume=True`` and no checkpoint yet.
        FloatingPointError: a non-finite loss with ``nan_policy="raise"``.
        Preempted: a SIGTERM arrived (after the checkpoint was saved); exit code
            143 when uncaught.
        CheckpointCorruptError: no checkpoint in the directory is intact.
        NotADirectoryError: the checkpoint directory is a file.

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
    install_preemption_handler()  # SIGTERM: save at the next step, then Preempted
    enable_compilation_cache()  # a second run of the script compiles nothing
    check_int("epochs", epochs, fn="fit", minimum=0)
    check_int("steps_per_execution", steps_per_execution, fn="fit", minimum=1)
    extra, validation, directory = _legacy_callbacks(legacy, validation)
    if validation is not None and eval_step is None and not metrics:
        raise ValueError(
            "validation (val_loader) needs eval_step=make_eval_step(metric_fn) or "
            "metrics="
        )
    hooks = sorted([*callbacks, *extra], key=lambda c: c.order)
    if progress and not any(isinstance(c, ProgressBar) for c in hooks):
        hooks.insert(0, ProgressBar())
    directory = next(
        (c.directory for c in hooks if isinstance(c, ModelCheckpoint)), directory
    )
    if resume and directory is None:
        raise ValueError(
            f"resume={resume!r} needs checkpoint_dir= or a ModelCheckpoint callback "
            "(where to resume from)"
        )
    mesh = resolve_mesh(mesh) or train_step.mesh
    step = train_step.with_mesh(mesh).with_steps(steps_per_execution)
    if shard is not None and mesh is None:
        raise ValueError(
            f"fit(shard={shard!r}) needs a mesh: pass mesh='auto' or a "
            "jax.sharding.Mesh (or give make_train_step one)"
        )
    step = step if shard is None else step.with_shard(shard)
    placement = None
    if mesh is not None:
        size = batch_size_of(train_loader)
        if size is not None:
            check_divisible(size * jax.process_count(), mesh)
        placement = batch_sharding(mesh, step.batch_axis)
        state = step.place(state)  # a restore lands on this sharding
        if eval_step is not None:
            eval_step = eval_step.with_mesh(mesh).with_shard(step.shard)
    feeder = EpochFeeder(
        train_loader,
        steps=step.steps,
        accumulate=step.accumulate,
        placement=placement,
        prefetch=prefetch,
    )
    say = log or (print if is_primary() else (lambda line: None))
    steps_per_epoch = len(train_loader)  # type: ignore[arg-type]
    run = Run(state, epochs, steps_per_epoch, train_loader, log=say)
    run.log_every = log_every
    log_ref = [_EpochLog()]
    run.fit_state = lambda: _fit_state(run, hooks, log_ref)
    partial = _restore(run, directory, resume, hooks) if resume else None
    if jax.process_count() > 1:  # DDP's guarantee: one model everywhere
        if run.resumed:
            check_replicated(run.state)
        else:
            run.state = broadcast_from_primary(run.state)
    val_feeder, updater = None, metric_updater(metrics, predict) if metrics else None
    if validation is not None:
        val_placement = None if mesh is None else batch_sharding(mesh, 0)
        val_feeder = EpochFeeder(
            shard_validation(validation, mesh),  # each process evaluates its share
            placement=val_placement,
            prefetch=prefetch,
        )
    try:
        for cb in hooks:
            cb.on_train_begin(run)
        first = run.epoch + 1 if partial is None else run.epoch
        for epoch in range(first, epochs + 1):
            if partial is None:
                run.epoch, run.batch = epoch, 0
                if isinstance(train_loader, Shuffled):
                    train_loader.set_epoch(epoch - 1)
            run.epoch_rows, run.running_loss = 0, None
            log_ref[0] = _EpochLog(partial)
            partial = None
            for cb in hooks:
                cb.on_epoch_begin(run)
            record: dict[str, Any] = {"epoch": epoch}
            if run.batch < run.steps_per_epoch:
                record |= _train_epoch(run, step, feeder, hooks, log_ref[0])
            else:  # killed after the epoch's last batch, before its end
                record |= {"train_loss": log_ref[0].mean(), "samples_per_s": 0.0}
                skipped = log_ref[0].finite.count(False)
                record |= {"time_s": 0.0, "skipped_steps": skipped}
            cut_short = run.stop and run.batch < run.steps_per_epoch
            if val_feeder is not None and not cut_short:
                checked = run.state
                for cb in hooks:
                    checked = cb.evaluation_state(checked)
                record |= evaluate(eval_step, checked, val_feeder, metrics, updater)
            record["lr"] = lr_of(run.state.opt_state)
            run.history.append(record)
            for cb in hooks:
                cb.on_epoch_end(run, record)
            if run.stop:
                break
        for cb in hooks:
            cb.on_train_end(run)
        return FitResult(run.state, run.history)
    finally:  # a SIGTERM from now on ends the process at once (143)
        stop_preemption_polling()
