"""fit's callbacks: TensorBoard files, EMA vs torch, exact mid-epoch resume,
resume="auto", CSV/History/Lambda hooks, TerminateOnNaN and metric objects."""

import csv

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit import data, losses, models, optim
from jtoolkit.checkpoint import all_steps
from jtoolkit.train import (
    EMA,
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoard,
    TerminateOnNaN,
    TrainState,
    fit,
    make_eval_step,
    make_train_step,
)

_TIMING = ("samples_per_s", "time_s")


def _loss(model, batch):
    return losses.cross_entropy(model(batch[0]), batch[1], reduction="none")


def _metric(model, batch):
    logits = model(batch[0])
    return {
        "loss": losses.cross_entropy(logits, batch[1], reduction="none"),
        "accuracy": (jnp.argmax(logits, -1) == batch[1]).astype(jnp.float32),
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


OPT = optim.adam(lr=1e-2)
STEP = make_train_step(_loss, OPT)
EVAL = make_eval_step(_metric)


def _state():
    net = models.MLP([6, 16, 2], dropout=0.2, rngs=nnx.Rngs(0))
    return TrainState.create(net, OPT, seed=1)


def _strip(history):
    return [{k: v for k, v in r.items() if k not in _TIMING} for r in history]


def _run(epochs, callbacks=(), resume=None, **kwargs):
    train, val = _loaders()
    return fit(
        _state(),
        STEP,
        train,
        epochs,
        validation=val,
        eval_step=EVAL,
        callbacks=callbacks,
        resume=resume,
        progress=False,
        **kwargs,
    )


class _Interrupt(Callback):
    """Raise after ``after`` calls of the step: a kill in the middle of an epoch."""

    def __init__(self, after):
        self.after, self.calls = after, 0

    def on_step_end(self, run, metrics):
        self.calls += 1
        if self.calls == self.after:
            raise KeyboardInterrupt


def test_mid_epoch_checkpoints_resume_exactly(tmp_path):
    plateau = dict(mode="max", patience=0, factor=0.5)  # moves the lr every epoch
    _, straight = _run(3, [ReduceLROnPlateau(**plateau)])
    ckpt = tmp_path / "c"
    for after in (7, 4):  # 5 batches an epoch: killed at batches 7, then 6 + 4
        cbs = [ReduceLROnPlateau(**plateau), ModelCheckpoint(ckpt, every_steps=2)]
        with pytest.raises(KeyboardInterrupt):
            _run(3, [*cbs, _Interrupt(after)], resume="auto")
    assert all_steps(ckpt) == [5, 6, 8]  # epoch 1's end, then mid-epoch 2
    cbs = [ReduceLROnPlateau(**plateau), ModelCheckpoint(ckpt, every_steps=2)]
    _, resumed = _run(3, cbs, resume="auto")
    assert _strip(resumed) == _strip(straight)


def test_resume_auto_starts_fresh_and_resume_true_needs_a_checkpoint(tmp_path):
    lines = []
    cbs = [ModelCheckpoint(tmp_path / "a")]
    _run(1, cbs, resume="auto", log=lines.append)
    assert lines == [f"fit: no checkpoint in {tmp_path / 'a'} yet: starting fresh"]
    assert all_steps(tmp_path / "a") == [1]
    with pytest.raises(FileNotFoundError, match="resume='auto'"):
        _run(1, [ModelCheckpoint(tmp_path / "b")], resume=True)


def test_tensorboard_event_files_read_back(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    _, history = _run(2, [TensorBoard(tmp_path / "tb")])
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert {"train_loss", "val_loss", "val_accuracy", "lr"} <= set(
        events.Tags()["scalars"]
    )
    got = [(e.step, e.value) for e in events.Scalars("val_loss")]
    want = [(r["epoch"], r["val_loss"]) for r in history]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_csv_history_lambda_and_early_stopping(tmp_path):
    history_cb, seen = History(), []
    lam = LambdaCallback(on_epoch_end=lambda run, record: seen.append(record["epoch"]))
    es = EarlyStopping(patience=1, monitor="val_loss", mode="max")  # stops at 2
    _, history = _run(5, [CSVLogger(tmp_path / "log.csv"), history_cb, lam, es])
    assert len(history) == 2 and seen == [1, 2] and history_cb.history == history
    with open(tmp_path / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert float(rows[1]["val_loss"]) == pytest.approx(history[1]["val_loss"])


def test_terminate_on_nan_stops_quietly():
    x = np.ones((40, 6), np.float32)
    x[25, 0] = np.nan  # in the 4th batch of 8
    loader = data.DataLoader(data.ArrayDataset(x, np.zeros(40, np.int32)), 8)
    skip = make_train_step(_loss, OPT, nan_policy="skip")
    cb, lines = TerminateOnNaN(), []
    state, _ = fit(
        _state(), skip, loader, 3, callbacks=[cb], progress=False, log=lines.append
    )
    assert cb.stopped_at == 4 and int(state.step) == 3 and "non-finite" in lines[0]


class _Accuracy:
    """A tiny metric with the jtoolkit.metrics protocol (masked counts)."""

    def init(self):
        return jnp.zeros(2)

    def update(self, state, preds, target, mask=None):
        right = (jnp.argmax(preds, -1) == target).astype(jnp.float32)
        m = jnp.ones_like(right) if mask is None else mask
        return state + jnp.stack([jnp.sum(right * m), jnp.sum(m)])

    def merge(self, a, b):
        return a + b

    def compute(self, state):
        return state[0] / state[1]


def test_metric_objects_score_the_validation_rows():
    _, history = _run(1, metrics={"acc": _Accuracy()})
    # The eval step's per-example accuracy over the same (ragged, padded) rows.
    assert history[0]["val_acc"] == pytest.approx(history[0]["val_accuracy"])


def test_ema_equals_torch_averaged_model(torch):
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    net = models.MLP([6, 8, 2], rngs=nnx.Rngs(0))
    tnet = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)
    )
    sd = models.torch_state_dict(net)
    tnet.load_state_dict({k[7:]: torch.tensor(v) for k, v in sd.items()})
    ema_t = AveragedModel(tnet, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    topt = torch.optim.SGD(tnet.parameters(), lr=0.5)
    for i in range(0, 48, 16):
        loss = torch.nn.functional.cross_entropy(
            tnet(torch.tensor(x[i : i + 16])), torch.tensor(y[i : i + 16])
        )
        topt.zero_grad()
        loss.backward()
        topt.step()
        ema_t.update_parameters(tnet)
    opt = optim.sgd(lr=0.5)
    ema = EMA(0.9)
    loader = data.DataLoader(data.ArrayDataset(x, y.astype(np.int32)), 16)
    state, _ = fit(
        TrainState.create(net, opt),
        make_train_step(_loss, opt),
        loader,
        1,
        callbacks=[ema],
        progress=False,
    )
    averaged = models.torch_state_dict(ema.evaluation_state(state).module())
    for name, value in ema_t.module.state_dict().items():
        np.testing.assert_allclose(
            averaged["layers." + name], value.numpy(), rtol=1e-5, atol=1e-6
        )
    assert jax.tree.structure(ema.average) == jax.tree.structure(state.params)


def test_model_checkpoint_keeps_the_best_by_its_monitor(tmp_path):
    best = ModelCheckpoint(tmp_path / "c", keep=1, best=1, monitor="val_loss")
    _, history = _run(3, [best])
    winner = min(history, key=lambda r: r["val_loss"])["epoch"]
    assert all_steps(tmp_path / "c" / "best") == [winner]
    assert all_steps(tmp_path / "c") == [3]
