"""Tests of ``jtoolkit/_src/train/loop.py``'s preemption (issue 20): a SIGTERM
during ``fit`` saves where the run stands and raises ``Preempted`` (exit code 143);
``resume="auto"`` then ends with the uninterrupted run's numbers. Also the donation
hint of ``jtoolkit/_src/train/step.py``, which must name only a real reuse."""

from __future__ import annotations

import os
import signal

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import data
from jtoolkit.checkpoint import all_steps
from jtoolkit.train import (
    PREEMPTED_EXIT_CODE,
    LambdaCallback,
    ModelCheckpoint,
    Preempted,
    fit,
    make_train_step,
)
from tests.train._harness import _BATCHES, _OPT, _STEP, _leaves_equal, _Setup, _state

_TIMING = ("samples_per_s", "time_s")


def _loaders():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((130, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    train = data.DataLoader(
        data.ArrayDataset(x[:100], y[:100]), batch_size=16, shuffle=True, seed=3
    )
    val = data.DataLoader(data.ArrayDataset(x[100:], y[100:]), batch_size=16)
    return train, val


def _strip(history):
    return [{k: v for k, v in r.items() if k not in _TIMING} for r in history]


def _sigterm_at(batches_done):
    def on_step_end(run, metrics):
        if run.batches_done == batches_done:
            os.kill(os.getpid(), signal.SIGTERM)

    return LambdaCallback(on_step_end=on_step_end)


@pytest.mark.parametrize("every_steps", [None, 4])
def test_sigterm_saves_mid_epoch_and_resume_auto_ends_like_uninterrupted(
    tmp_path, every_steps
):
    setup = _Setup()
    kwargs = dict(eval_step=setup.eval, progress=False)
    train, val = _loaders()  # 7 batches per epoch
    straight_state, straight = fit(
        setup.state(), setup.step, train, 3, validation=val, **kwargs
    )
    ckpt = tmp_path / "ckpt"
    saver = ModelCheckpoint(ckpt, every_steps=every_steps)
    train, val = _loaders()
    lines = []
    with pytest.raises(Preempted) as caught:
        fit(
            setup.state(),
            setup.step,
            train,
            3,
            validation=val,
            callbacks=[saver, _sigterm_at(10)],  # epoch 2, batch 3
            log=lines.append,
            **kwargs,
        )
    assert caught.value.code == PREEMPTED_EXIT_CODE == 143
    saved = caught.value.checkpoint_step
    assert saved == (2 if every_steps is None else 10)
    assert all_steps(ckpt)[-1] == saved
    assert any("preempted" in line and "batch 3" in line for line in lines), lines
    train, val = _loaders()  # a new process builds everything afresh
    state, resumed = fit(
        setup.state(),
        setup.step,
        train,
        3,
        validation=val,
        callbacks=[ModelCheckpoint(ckpt, every_steps=every_steps)],
        resume="auto",
        **kwargs,
    )
    assert _strip(resumed) == _strip(straight)
    assert int(state.step) == int(straight_state.step) == 21
    assert _leaves_equal(state.params, straight_state.params)


def test_sigterm_without_a_checkpoint_callback_still_stops_with_143():
    setup = _Setup()
    train, _ = _loaders()
    with pytest.raises(Preempted) as caught:
        fit(
            setup.state(),
            setup.step,
            train,
            2,
            callbacks=[_sigterm_at(2)],
            progress=False,
        )
    assert caught.value.code == 143 and caught.value.checkpoint_step is None
    # the request is spent: the next fit runs to its end
    _, history = fit(setup.state(), setup.step, train, 1, progress=False)
    assert len(history) == 1


def test_a_failure_inside_the_step_is_reported_as_itself_not_as_donation():
    def bad(x):
        raise ValueError("the loss failed on purpose")

    def loss(model, batch):  # fails at run time, after the state was donated
        pred = model(batch[0])
        jax.debug.callback(bad, pred)
        return ((pred - batch[1]) ** 2)[:, 0]

    step = make_train_step(loss, _OPT)
    with pytest.raises(Exception, match="failed on purpose") as caught:
        step(_state(), _BATCHES[0])
    assert "donated" not in str(caught.value)


def test_a_shape_error_in_the_loss_is_reported_as_itself():
    step = make_train_step(lambda m, b: m(b[0]) @ jnp.ones((3, 1)), _OPT)
    with pytest.raises(TypeError, match="dot_general") as caught:
        step(_state(), _BATCHES[0])
    assert "donated" not in str(caught.value)


def test_reusing_a_donated_state_still_gets_the_hint():
    state = _state()
    _STEP(state, _BATCHES[0])
    with pytest.raises(ValueError, match="donated to an earlier call"):
        _STEP(state, _BATCHES[0])


def _cli(ckpt, metrics, nproc):
    import sys

    cmd = [sys.executable, "-m", "jtoolkit.train", "--epochs", "3", "--no-progress"]
    cmd += ["--checkpoint-dir", str(ckpt), "--resume", "auto"]
    cmd += ["--checkpoint-every-steps", "5", "--metrics-file", str(metrics)]
    if nproc > 1:
        launch = [sys.executable, "-m", "jtoolkit.launch", "--nproc", str(nproc)]
        cmd = [*launch, *cmd[1:], "--data-parallel"]
    return cmd


def _cli_env():
    return {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=1",
        "JAX_PLATFORMS": "cpu",
    }


def _cli_metrics(path):
    import json

    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in _TIMING} for r in rows]


@pytest.mark.slow
@pytest.mark.parametrize("nproc", [1, 2])
def test_cli_sigterm_exits_143_and_the_rerun_ends_like_uninterrupted(tmp_path, nproc):
    import subprocess
    import time

    ckpt, metrics = tmp_path / "ckpt", tmp_path / "m.jsonl"
    run = subprocess.Popen(
        _cli(ckpt, metrics, nproc),
        env=_cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not all_steps(ckpt) and run.poll() is None:  # training has begun
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert run.poll() is None, run.communicate()
    run.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    out, err = run.communicate(timeout=120)
    print(
        f"nproc={nproc}: SIGTERM to exit {run.returncode} in "
        f"{time.monotonic() - sent:.2f} s"
    )
    assert run.returncode == 143, (out[-2000:], err[-4000:])
    assert "preempted" in err, err[-2000:]
    saved = all_steps(ckpt)[-1]
    assert saved >= 5  # saved at (or after) the step the SIGTERM came in
    again = subprocess.run(
        _cli(ckpt, metrics, nproc),
        env=_cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr[-4000:]
    straight = tmp_path / "straight.jsonl"
    plain = subprocess.run(
        _cli(tmp_path / "plain", straight, nproc),
        env=_cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert plain.returncode == 0, plain.stderr[-4000:]
    a, b = _cli_metrics(metrics), _cli_metrics(straight)
    assert [r["epoch"] for r in a] == [1, 2, 3]
    for ra, rb in zip(a, b, strict=True):
        assert ra.keys() == rb.keys()
        for key in ra:
            assert ra[key] == pytest.approx(rb[key], rel=1e-6, abs=0), key
