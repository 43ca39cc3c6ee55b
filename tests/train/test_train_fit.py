"""fit(): loss goes down, resume equals uninterrupted, NaN stop, early stopping."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit import data, losses, models, optim, schedules
from jtoolkit._src.train.batching import pad_batch, supports_mask
from jtoolkit._src.train.callbacks import state_from_json, state_to_json
from jtoolkit.checkpoint import all_steps
from jtoolkit.train import (
    EarlyStopping,
    EarlyStoppingState,
    MaskUnsupportedError,
    TrainState,
    fit,
    make_eval_step,
    make_train_step,
)

_TIMING = ("samples_per_s", "time_s")


def _loss_fn(model, batch):
    x, y = batch
    return losses.cross_entropy(model(x), y, reduction="none")


def _metric_fn(model, batch):
    x, y = batch
    logits = model(x)
    return {
        "loss": losses.cross_entropy(logits, y, reduction="none"),
        "accuracy": (jnp.argmax(logits, -1) == y).astype(jnp.float32),
    }


def _loaders(n=150, batch_size=32):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n + 50, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    train = data.DataLoader(
        data.ArrayDataset(x[:n], y[:n]), batch_size=batch_size, shuffle=True, seed=3
    )
    val = data.DataLoader(data.ArrayDataset(x[n:], y[n:]), batch_size=batch_size)
    return train, val


class _Setup:
    """One optimizer, one compiled train/eval step, shared by the runs of a test."""

    def __init__(self, lr=1e-2):
        self.opt = optim.adam(lr=lr)
        self.step = make_train_step(_loss_fn, self.opt)
        self.eval = make_eval_step(_metric_fn)

    def state(self):
        net = models.MLP([6, 16, 2], dropout=0.2, rngs=nnx.Rngs(0))
        return TrainState.create(net, self.opt, seed=1)


def _strip(history):
    return [{k: v for k, v in r.items() if k not in _TIMING} for r in history]


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


def test_scalar_loss_steps_are_recognised_by_type_not_message():
    setup = _Setup()
    scalar = make_train_step(lambda m, b: jnp.mean(_loss_fn(m, b)), setup.opt)
    batch = (np.zeros((4, 6), np.float32), np.zeros(4, np.int32))
    assert not supports_mask(scalar, setup.state(), pad_batch(batch, 4))
    assert supports_mask(setup.step, setup.state(), pad_batch(batch, 4))
    with pytest.raises(MaskUnsupportedError, match="per-example"):
        scalar(setup.state(), batch, np.ones(4, np.float32))


def test_early_stopping_is_a_pure_state_machine_that_survives_json():
    es = EarlyStopping(patience=2, mode="max", min_delta=0.1)
    step = jax.jit(es.step)
    state = es.init()
    stops = []
    for v in (0.5, 0.55, 0.7, 0.75, 0.78):
        state = state_from_json(EarlyStoppingState, state_to_json(step(state, v)))
        stops.append(bool(state.stop))
    assert stops == [False, False, False, False, True]
    assert float(state.best) == pytest.approx(0.7)
