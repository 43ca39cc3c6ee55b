"""``fit()``: the host-side epoch loop around the jitted train and eval steps.

Everything on the device stays in the jitted steps; this loop only feeds batches
(padding the last one so the compiled step is reused), reads metrics at log points,
steps ReduceLROnPlateau on a validation metric, keeps the history, stops early,
saves checkpoints and resumes from them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import jax
import numpy as np

from jtoolkit._src.checkpoint.store import (
    latest_step,
    restore_checkpoint,
    save_checkpoint,
)
from jtoolkit._src.core.checks import check_choice, check_int
from jtoolkit._src.train.batching import batch_rows, pad_batch, supports_mask
from jtoolkit._src.train.callbacks import (
    EarlyStopping,
    plateau_from_json,
    plateau_to_json,
)
from jtoolkit._src.train.state import TrainState

__all__ = ["FitResult", "fit", "lr_of"]


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


def _bar(run: _Run, total: int, epoch: int):
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=f"epoch {epoch}/{run.epochs}",
        disable=not run.progress,
        leave=True,
        dynamic_ncols=True,
    )


def _raise_nonfinite(
    flags: list, losses: list, checked: int, first_step: int, epoch: int
) -> None:
    """Raise for the first non-finite step among ``flags[checked:]`` (one transfer)."""
    bad = np.flatnonzero(~np.asarray(jax.device_get(flags[checked:]), bool))
    if bad.size:
        i = checked + int(bad[0])
        raise FloatingPointError(
            f"non-finite loss ({float(losses[i])}) or gradient at step "
            f"{first_step + i + 1} (epoch {epoch}, batch {i + 1}); that update was "
            "skipped. Lower the learning rate, clip gradients "
            "(jtoolkit.optim.clip_grad_norm), check the data, or pass "
            "nan_policy='skip' to make_train_step and fit to carry on"
        )


def _train_epoch(run, state, loader, epoch, nan_policy, use_mask, size):
    losses, counts, flags = [], [], []
    checked = 0  # flags before this index are known finite
    first_step = int(state.step)
    start = time.perf_counter()
    seen = 0
    bar = _bar(run, len(loader), epoch)
    for i, batch in enumerate(loader):
        rows = batch_rows(batch)
        if use_mask:
            batch, mask = pad_batch(batch, size)
            state, metrics = run.train_step(state, batch, mask)
        else:
            state, metrics = run.train_step(state, batch)
        losses.append(metrics["loss"])
        flags.append(metrics["finite"])
        counts.append(rows)
        seen += rows
        if (i + 1) % run.log_every == 0 or i + 1 == len(loader):
            if nan_policy == "raise":
                _raise_nonfinite(flags, losses, checked, first_step, epoch)
                checked = len(flags)
            if run.progress:  # reading the loss waits for the device: only to show it
                rate = seen / max(time.perf_counter() - start, 1e-9)
                bar.set_postfix(
                    loss=f"{float(losses[-1]):.4f}",
                    lr=f"{lr_of(state.opt_state) or float('nan'):.3g}",
                    samples_s=f"{rate:.0f}",
                )
        bar.update(1)
    bar.close()
    jax.block_until_ready(state.step)
    elapsed = time.perf_counter() - start
    values = np.asarray(jax.device_get(losses), np.float64)
    finite = np.isfinite(values)
    weights = np.asarray(counts, np.float64) * finite
    train_loss = float(np.sum(values[finite] * weights[finite]) / max(weights.sum(), 1))
    return state, {
        "train_loss": train_loss if weights.sum() else math.nan,
        "samples_per_s": seen / max(elapsed, 1e-9),
        "time_s": elapsed,
        "skipped_steps": int(np.sum(~finite)),
    }


def _evaluate(run, state, loader, use_mask, size) -> dict[str, float]:
    sums: dict[str, float] = {}
    total = 0.0
    for batch in loader:
        if use_mask:
            batch, mask = pad_batch(batch, size)
            out = jax.device_get(run.eval_step(state, batch, mask))
        else:
            out = jax.device_get(run.eval_step(state, batch))
        count = float(out.pop("count"))
        total += count
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + float(v) * count
    return {f"val_{k}": v / max(total, 1.0) for k, v in sums.items()}


def _first_batch(loader: Iterable) -> Any:
    state = loader.state_dict() if hasattr(loader, "state_dict") else None
    batch = next(iter(loader))
    if state is not None:
        loader.load_state_dict(state)
    return batch


def _resume(directory, state, plateau, early):
    """Restore ``(state, start_epoch, history, plateau_state, early_state)``."""
    if latest_step(directory) is None:
        return state, 0, [], None, None
    state, extra = restore_checkpoint(directory, state, with_extra=True)
    extra = extra or {}
    pstate = plateau_from_json(extra.get("plateau")) if plateau is not None else None
    return (
        state,
        int(extra.get("epoch", 0)),
        list(extra.get("history", [])),
        pstate,
        (extra.get("early_stopping")),
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
    nan_policy: str = "raise",
    progress: bool = True,
    log_every: int = 20,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
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
        resume: continue from the latest checkpoint in ``checkpoint_dir`` if any.
        nan_policy: ``"raise"`` stops with FloatingPointError naming the step of the
            first non-finite loss (checked every ``log_every`` steps); ``"skip"``
            carries on (those updates are skipped by the step when it was built with
            ``nan_policy="skip"`` or ``"raise"``). Match ``make_train_step``'s.
        progress: show a tqdm bar per epoch (loss, lr, samples/s).
        log_every: steps between host reads of the loss (progress, NaN check).
        on_epoch_end: called with each epoch's metrics dict.

    Returns:
        ``FitResult(state, history)``; ``history`` has one dict per epoch with
        ``epoch``, ``train_loss``, ``lr``, ``samples_per_s``, ``time_s``,
        ``skipped_steps`` and the ``val_*`` metrics.

    Raises:
        ValueError: bad ``epochs``, ``checkpoint_every``, ``nan_policy``, or
            ``val_loader`` without ``eval_step``, or ``resume`` without
            ``checkpoint_dir``.
        FloatingPointError: a non-finite loss with ``nan_policy="raise"``.

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
    _check_fit_args(epochs, checkpoint_every, nan_policy, eval_step, val_loader)
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir= (where to resume from)")
    run = _Run(
        train_step, eval_step, epochs, plateau, plateau_metric, log_every, progress
    )
    start, history, pstate, estate = 0, [], None, None
    if resume:
        state, start, history, pstate, estate = _resume(
            checkpoint_dir, state, plateau, early_stopping
        )
    if plateau is not None and pstate is None:
        pstate = plateau.init(lr_of(state.opt_state))
    early = early_stopping.init(estate) if early_stopping is not None else None
    first = _first_batch(train_loader)
    size = batch_rows(first)
    use_mask = supports_mask(train_step, state, pad_batch(first, size))
    # Validation batches are padded to the validation loader's own first batch, so
    # a larger eval batch size (common in torch code) works and compiles once.
    val_size, eval_mask = 0, False
    if val_loader is not None:
        val_first = _first_batch(val_loader)
        val_size = batch_rows(val_first)
        eval_mask = supports_mask(eval_step, state, pad_batch(val_first, val_size))
    for epoch in range(start + 1, epochs + 1):
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(epoch - 1)
        state, record = _train_epoch(
            run, state, train_loader, epoch, nan_policy, use_mask, size
        )
        if val_loader is not None:
            record.update(_evaluate(run, state, val_loader, eval_mask, val_size))
        record = {"epoch": epoch, **record, "lr": lr_of(state.opt_state)}
        state, pstate = _step_plateau(run, state, pstate, record)
        history.append(record)
        if on_epoch_end is not None:
            on_epoch_end(record)
        stop = early is not None and early.update(record)
        if checkpoint_dir is not None and (
            epoch % checkpoint_every == 0 or epoch == epochs or stop
        ):
            extra = {
                "epoch": epoch,
                "history": history,
                "plateau": plateau_to_json(pstate),
                "early_stopping": None if early is None else early.to_json(),
                "loader": _loader_state(train_loader),
            }
            save_checkpoint(
                checkpoint_dir, state, epoch, extra=extra, max_to_keep=max_to_keep
            )
        if stop:
            break
    return FitResult(state, history)


def _loader_state(loader: Any) -> dict | None:
    return loader.state_dict() if hasattr(loader, "state_dict") else None


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
    return state.replace(opt_state=new_opt_state), pstate


def _check_fit_args(epochs, checkpoint_every, nan_policy, eval_step, val_loader):
    check_int("epochs", epochs, fn="fit", minimum=0)
    check_int("checkpoint_every", checkpoint_every, fn="fit", minimum=1)
    check_choice("nan_policy", nan_policy, ("raise", "skip"), fn="fit")
    if val_loader is not None and eval_step is None:
        raise ValueError("val_loader needs eval_step=make_eval_step(metric_fn)")


def lr_of(opt_state: Any) -> float | None:
    """The optimizer's current learning rate as a float (None if it holds none)."""
    try:
        from jtoolkit._src.optim.lr import current_lr

        lr = current_lr(opt_state)
    except (ValueError, TypeError, AttributeError, ImportError):
        return None
    if isinstance(lr, list):
        lr = lr[0]
    return float(lr)
