"""One training epoch on the host: feed batches (or groups of ``k``), read metrics.

The device work is all in the jitted step; this loop pads and groups batches, keeps
the per-step loss and finiteness flags as device arrays, and reads them only at log
points (progress bar, NaN check) and once at the end of the epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import jax
import numpy as np

from jtoolkit._src.train.batching import BatchPadder
from jtoolkit._src.train.multi_step import stack_group

__all__ = ["EpochLog", "evaluate", "lr_of", "train_epoch"]


class EpochLog:
    """Per-call metrics of an epoch: device arrays, read in as few transfers as can be.

    Each call adds its loss and finiteness flags (scalars, or ``(k,)`` for a group)
    and how many of its steps were real.
    """

    def __init__(self) -> None:
        self.losses: list[Any] = []
        self.flags: list[Any] = []
        self.real: list[int] = []
        self.rows: list[int] = []  # per real step
        self.checked = 0  # calls before this index are known finite

    def add(self, metrics: dict, real: int, rows: list[int]) -> None:
        self.losses.append(metrics["loss"])
        self.flags.append(metrics["finite"])
        self.real.append(real)
        self.rows += rows

    @property
    def steps(self) -> int:
        return sum(self.real)

    def _host(self, arrays: list[Any], start: int) -> np.ndarray:
        values = jax.device_get(arrays[start:])
        real = self.real[start:]
        pairs = zip(values, real, strict=True)
        parts = [np.atleast_1d(np.asarray(v))[:n] for v, n in pairs]
        return np.concatenate(parts) if parts else np.zeros(0)

    def first_nonfinite(self) -> tuple[int, float] | None:
        """``(step index in the epoch, loss)`` of the first non-finite step not yet
        checked, or None; marks everything so far as checked."""
        flags = self._host(self.flags, self.checked).astype(bool)
        offset = sum(self.real[: self.checked])
        self.checked = len(self.flags)
        bad = np.flatnonzero(~flags)
        if not bad.size:
            return None
        i = int(bad[0])
        losses = self._host(self.losses, 0)
        return offset + i, float(losses[offset + i])

    def losses_on_host(self) -> np.ndarray:
        return self._host(self.losses, 0).astype(np.float64)

    def last_loss(self) -> float:
        last = np.atleast_1d(np.asarray(jax.device_get(self.losses[-1])))
        return float(last[self.real[-1] - 1])


def raise_nonfinite(log: EpochLog, first_step: int, epoch: int) -> None:
    """FloatingPointError naming the first non-finite step (one transfer)."""
    found = log.first_nonfinite()
    if found is None:
        return
    i, loss = found
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


def _calls(step: Callable, padder: BatchPadder, loader: Iterable, state_ref: list):
    """``(batch, mask, valid or None, real steps, rows)`` per call of ``step``.

    With ``step.steps == k > 1`` batches are grouped by ``k`` (the last group
    filled and flagged); a ragged batch whose step takes no mask runs alone
    through ``step.single``.
    """
    k = getattr(step, "steps", 1)
    group: list[tuple[Any, Any, int]] = []
    for batch, mask, rows in padder.batches(loader, state_ref[0]):
        if k == 1:
            yield step, batch, mask, None, [rows]
            continue
        if mask is None and padder.size is not None and rows != padder.size:
            yield from _flush(step, group, k)
            group = []
            yield step.single, batch, None, None, [rows]
            continue
        group.append((batch, mask, rows))
        if len(group) == k:
            yield from _flush(step, group, k)
            group = []
    yield from _flush(step, group, k)


def _flush(step: Callable, group: list, k: int):
    if group:
        batch, mask, valid = stack_group(
            [g[0] for g in group], [g[1] for g in group], k
        )
        yield step, batch, mask, valid, [g[2] for g in group]


def train_epoch(run: Any, state: Any, loader: Any, epoch: int, padder):
    """Run one epoch; returns ``(state, record)`` with the epoch's train metrics."""
    log = EpochLog()
    first_step = int(state.step)
    start = time.perf_counter()
    bar = run.bar(len(loader), epoch)
    ref = [state]
    next_log = run.log_every
    for fn, batch, mask, valid, rows in _calls(run.train_step, padder, loader, ref):
        if valid is not None:
            state, metrics = fn(state, batch, mask, valid)
        elif mask is not None:
            state, metrics = fn(state, batch, mask)
        else:
            state, metrics = fn(state, batch)
        ref[0] = state
        log.add(metrics, len(rows), rows)
        done = log.steps
        if done >= next_log or done == len(loader):
            next_log = (done // run.log_every + 1) * run.log_every
            if run.nan_policy == "raise":
                raise_nonfinite(log, first_step, epoch)
            if run.progress:  # reading the loss waits for the device: only to show it
                rate = sum(log.rows) / max(time.perf_counter() - start, 1e-9)
                bar.set_postfix(
                    loss=f"{log.last_loss():.4f}",
                    lr=f"{lr_of(state.opt_state) or float('nan'):.3g}",
                    samples_s=f"{rate:.0f}",
                )
        bar.update(len(rows))
    bar.close()
    jax.block_until_ready(state.step)
    elapsed = time.perf_counter() - start
    values = log.losses_on_host()
    finite = np.isfinite(values)
    weights = np.asarray(log.rows, np.float64) * finite
    train_loss = float(np.sum(values[finite] * weights[finite]) / max(weights.sum(), 1))
    seen = sum(log.rows)
    return state, {
        "train_loss": train_loss if weights.sum() else math.nan,
        "samples_per_s": seen * jax.process_count() / max(elapsed, 1e-9),
        "time_s": elapsed,
        "skipped_steps": int(np.sum(~finite)),
    }


def evaluate(eval_step: Callable, state: Any, loader: Iterable, padder) -> dict:
    """Validation metrics (``val_<name>``), weighted by each batch's real rows."""
    sums: dict[str, float] = {}
    total = 0.0
    for batch, mask, _ in padder.batches(loader, state):
        if mask is None:
            out = jax.device_get(eval_step(state, batch))
        else:
            out = jax.device_get(eval_step(state, batch, mask))
        count = float(out.pop("count"))
        total += count
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + float(v) * count
    return {f"val_{k}": v / max(total, 1.0) for k, v in sums.items()}


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
