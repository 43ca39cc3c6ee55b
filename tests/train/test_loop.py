"""Tests of ``jtoolkit/_src/train/loop.py`` (``fit``).

Moved from test_train_fit.py, test_train_reliability.py when the tests were laid out to
mirror the code; those files' notes:

test_train_fit.py:
fit(): loss goes down, resume equals uninterrupted, NaN stop, early stopping.

test_train_reliability.py:
Training state reliability: donated-state reuse, huge finite gradients, and fit
resuming from the newest intact checkpoint (never a silent fresh start).
"""

import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import data, losses, schedules
from jtoolkit._src.train.batching import pad_batch
from jtoolkit.checkpoint import CheckpointCorruptError, all_steps
from jtoolkit.train import (
    EarlyStopping,
    fit,
    make_eval_step,
    make_train_step,
)
from tests.train._harness import (
    _BATCHES,
    _STEP,
    _loss_fn,
    _metric_fn,
    _Setup,
    _state,
)

_TIMING = ("samples_per_s", "time_s")


def _loaders(n=150, batch_size=32):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n + 50, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    train = data.DataLoader(
        data.ArrayDataset(x[:n], y[:n]), batch_size=batch_size, shuffle=True, seed=3
    )
    val = data.DataLoader(data.ArrayDataset(x[n:], y[n:]), batch_size=batch_size)
    return train, val


def _strip(history):
    return [{k: v for k, v in r.items() if k not in _TIMING} for r in history]


def test_fit_traces_loss_and_metrics_once():
    """Asking whether the loss and metrics are per-example (so the padded last
    batch can be masked) reuses the steps' own traces: over two epochs, each
    function is traced once, not once more per epoch for the question."""
    traced = {"loss": 0, "metric": 0}

    def loss_fn(model, batch):
        traced["loss"] += 1
        return _loss_fn(model, batch)

    def metric_fn(model, batch):
        traced["metric"] += 1
        return _metric_fn(model, batch)

    setup = _Setup()
    train, val = _loaders()  # last batches of 22 (train) and 18 (val) rows: masked
    step, ev = make_train_step(loss_fn, setup.opt), make_eval_step(metric_fn)
    fit(setup.state(), step, train, 2, eval_step=ev, val_loader=val, progress=False)
    assert traced == {"loss": 1, "metric": 1}
    assert step._cache_size() == 1 and ev._cache_size() == 1


def test_fit_learns_and_reuses_compiled_step():
    setup = _Setup()
    train, val = _loaders()  # 150 rows, batch 32: last batch of 22 is padded
    seen = []
    state, history = fit(
        setup.state(),
        setup.step,
        train,
        4,
        eval_step=setup.eval,
        val_loader=val,
        progress=False,
        on_epoch_end=seen.append,
    )
    assert [r["epoch"] for r in history] == [1, 2, 3, 4] and seen == history
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["val_accuracy"] > 0.8
    assert int(state.step) == 4 * len(train)
    assert setup.step._cache_size() == 1  # the padded last batch did not recompile
    keys = {"train_loss", "val_loss", "val_accuracy", "lr", "samples_per_s"}
    assert keys <= set(history[0])
    np.testing.assert_allclose(history[0]["lr"], 1e-2, rtol=1e-6)


def test_resume_equals_uninterrupted(tmp_path):
    setup = _Setup()
    # mode="max" on a falling val_loss: a "plateau" every epoch, so the lr moves.
    plateau = schedules.ReduceLROnPlateau("max", patience=0, factor=0.5)
    kwargs = dict(eval_step=setup.eval, plateau=plateau, progress=False)
    train, val = _loaders()
    _, straight = fit(setup.state(), setup.step, train, 4, val_loader=val, **kwargs)
    train, val = _loaders()
    ckpt = str(tmp_path / "ckpt")
    _, first = fit(
        setup.state(),
        setup.step,
        train,
        2,
        val_loader=val,
        checkpoint_dir=ckpt,
        **kwargs,
    )
    assert all_steps(ckpt) == [1, 2]
    train, val = _loaders()  # a fresh process would build fresh loaders
    _, resumed = fit(
        setup.state(),
        setup.step,
        train,
        4,
        val_loader=val,
        checkpoint_dir=ckpt,
        resume=True,
        **kwargs,
    )
    assert _strip(first) == _strip(straight[:2])
    assert _strip(resumed) == _strip(straight)
    lrs = [r["lr"] for r in straight]
    np.testing.assert_allclose(lrs, [1e-2, 1e-2, 5e-3, 2.5e-3], rtol=1e-6)
    assert all_steps(ckpt) == [2, 3, 4]  # max_to_keep=3


def test_nan_loss_stops_naming_the_step():
    setup = _Setup()
    x = np.ones((40, 6), np.float32)
    x[25, 0] = np.nan  # sample 25 is in the 4th batch of 8 (unshuffled)
    y = np.zeros(40, np.int32)
    loader = data.DataLoader(data.ArrayDataset(x, y), batch_size=8)
    with pytest.raises(FloatingPointError, match=r"at step 4 \(epoch 1, batch 4\)"):
        fit(setup.state(), setup.step, loader, 1, progress=False, log_every=2)
    skip = make_train_step(_loss_fn, setup.opt, nan_policy="skip")
    assert skip.nan_policy == "skip"  # fit reads the step's own policy
    state, history = fit(setup.state(), skip, loader, 1, progress=False)
    assert history[0]["skipped_steps"] == 1 and int(state.step) == 4
    assert np.isfinite(history[0]["train_loss"])


def test_early_stopping_and_bad_arguments(tmp_path):
    setup = _Setup(lr=0.0)  # nothing improves: stop after `patience` epochs
    train, val = _loaders()
    ckpt = str(tmp_path / "c")
    _, history = fit(
        setup.state(),
        setup.step,
        train,
        10,
        eval_step=setup.eval,
        val_loader=val,
        early_stopping=EarlyStopping(patience=2),
        checkpoint_dir=ckpt,
        checkpoint_every=5,
        progress=False,
    )
    assert len(history) == 3
    assert all_steps(ckpt) == [3]  # the stopping epoch is saved
    with pytest.raises(ValueError, match="fit: epochs must be an integer >= 0, got -1"):
        fit(setup.state(), setup.step, train, -1)
    with pytest.raises(ValueError, match="needs eval_step"):
        fit(setup.state(), setup.step, train, 1, val_loader=val)
    with pytest.raises(ValueError, match="checkpoint_dir"):
        fit(setup.state(), setup.step, train, 1, resume=True)
    with pytest.raises(ValueError, match="EarlyStopping: patience must be an integer"):
        EarlyStopping(patience=0)


def test_validation_batches_may_be_larger_than_training_batches():
    setup = _Setup()
    train, _ = _loaders(batch_size=16)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((70, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    big = data.DataLoader(data.ArrayDataset(x, y), batch_size=64)  # 64 + a padded 6
    state, history = fit(
        setup.state(),
        setup.step,
        train,
        1,
        eval_step=setup.eval,
        val_loader=big,
        progress=False,
    )
    logits = state.model(x)
    expected = float(losses.cross_entropy(logits, y))
    np.testing.assert_allclose(history[0]["val_loss"], expected, rtol=1e-5)


class _CountingBatches:
    """A plain re-iterable of batches that counts how often it is iterated."""

    def __init__(self, batches):
        self.batches, self.passes = batches, 0

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        self.passes += 1
        return iter(self.batches)


def test_fit_fetches_no_batch_ahead_and_pads_device_batches_on_device():
    """One pass per epoch (no look-ahead fetch to learn the batch shape), and a
    ragged jax.Array batch is padded on its device, never pulled to the host."""
    setup = _Setup()
    x = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)
    y = (np.arange(20) % 2).astype(np.int32)
    batches = [
        (jnp.asarray(x[i : i + 8]), jnp.asarray(y[i : i + 8])) for i in (0, 8, 16)
    ]
    train = _CountingBatches(batches)
    val = _CountingBatches(batches)
    _, history = fit(
        setup.state(),
        setup.step,
        train,
        2,
        eval_step=setup.eval,
        val_loader=val,
        progress=False,
    )
    assert train.passes == 2 and val.passes == 2
    padded, mask = pad_batch(batches[-1], 8)
    assert isinstance(padded[0], jax.Array) and padded[0].shape == (8, 6)
    np.testing.assert_array_equal(mask, [1, 1, 1, 1, 0, 0, 0, 0])
    # The padded last batch gives the loss of its 4 real rows only.
    assert np.isfinite(history[-1]["train_loss"])


def test_fit_resume_falls_back_to_the_newest_intact_checkpoint(tmp_path):
    _, straight = fit(_state(), _STEP, _BATCHES, 4, progress=False)
    fit(_state(), _STEP, _BATCHES, 3, checkpoint_dir=str(tmp_path), progress=False)
    shutil.rmtree(tmp_path / "3" / "extra")  # damage: never a fresh start
    with pytest.warns(UserWarning, match=f"{tmp_path / '3'}.*extra"):
        _, resumed = fit(
            _state(),
            _STEP,
            _BATCHES,
            4,
            checkpoint_dir=str(tmp_path),
            resume=True,
            progress=False,
        )
    assert [r["epoch"] for r in resumed] == [1, 2, 3, 4]
    for a, b in zip(resumed, straight, strict=True):
        assert a["train_loss"] == b["train_loss"]
    assert all_steps(tmp_path) == [2, 3, 4]


def test_fit_resume_with_every_checkpoint_damaged_raises(tmp_path):
    fit(_state(), _STEP, _BATCHES, 1, checkpoint_dir=str(tmp_path), progress=False)
    shutil.rmtree(tmp_path / "1" / "state")
    with pytest.raises(CheckpointCorruptError, match="no intact checkpoint"):
        fit(
            _state(),
            _STEP,
            _BATCHES,
            2,
            checkpoint_dir=str(tmp_path),
            resume=True,
            progress=False,
        )


def test_fit_enforces_retention_at_start_up(tmp_path):
    from jtoolkit.checkpoint import save_checkpoint

    for s in range(1, 6):
        save_checkpoint(tmp_path, _state(), s, extra={"epoch": s, "history": []})
    fit(
        _state(),
        _STEP,
        _BATCHES,
        0,
        checkpoint_dir=str(tmp_path),
        max_to_keep=2,
        progress=False,
    )
    assert all_steps(tmp_path) == [4, 5]


def test_fit_rejects_a_checkpoint_dir_that_is_a_file_before_training(tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    seen = []
    with pytest.raises(NotADirectoryError, match="is a file"):
        fit(
            _state(),
            _STEP,
            _BATCHES,
            1,
            checkpoint_dir=str(path),
            progress=False,
            on_epoch_end=seen.append,
        )
    assert seen == []
