"""Tests of ``jtoolkit/_src/train/distributed.py`` (``replicated``).

Moved from test_scale_out.py, test_train_sharding.py when the tests were laid out to
mirror the code; those files' notes:

test_scale_out.py:
fit, the steps and the CLI over 8 fake CPU devices equal a single-device run.

test_train_sharding.py:
Data parallelism: the same jitted step over a batch sharded across devices.

The step is a plain ``jax.jit``, so a batch placed with a ``NamedSharding`` (here by
``prefetch_to_device``) is split over the devices and the state is replicated; the
losses and parameters equal a single-device run.

In-process tests use the 8 CPU devices every test process has (root conftest); the
CLI test starts processes with ``XLA_FLAGS`` because it is about the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jtoolkit import data, losses, models, optim
from jtoolkit.train import TrainState, fit, make_eval_step, make_train_step

N = 105  # batch 16: six full batches and a ragged last batch of 9


def _loss_fn(model, batch):
    return losses.cross_entropy(model(batch[0]), batch[1], reduction="none")


def _metric_fn(model, batch):
    logits = model(batch[0])
    return {
        "loss": losses.cross_entropy(logits, batch[1], reduction="none"),
        "acc": (logits.argmax(-1) == batch[1]).astype(np.float32),
    }


def _fit(make_model, x, y, mesh, epochs=2, opt=None, k=1):
    opt = opt or optim.adam(1e-2)
    state = TrainState.create(make_model(), opt, seed=0)
    step = make_train_step(_loss_fn, opt, mesh=mesh, steps=k)
    ev = make_eval_step(_metric_fn, mesh=mesh)
    train = data.DataLoader(
        data.ArrayDataset(x, y), batch_size=16, shuffle=True, seed=1
    )
    val = data.DataLoader(data.ArrayDataset(x[:40], y[:40]), batch_size=16)
    jitted = step.jitted if mesh is not None else step
    sizes = []
    state, hist = fit(
        state,
        step,
        train,
        epochs,
        eval_step=ev,
        val_loader=val,
        progress=False,
        mesh=mesh,
        steps_per_execution=k,
        on_epoch_end=lambda record: sizes.append(jitted._cache_size()),
    )
    return state, hist, sizes


def _compare(name, make_model, x, y):
    _, h1, _ = _fit(make_model, x, y, None)
    s8, h8, sizes = _fit(make_model, x, y, "auto")
    # Epoch 1 holds the ragged last batch: nothing new compiles after it.
    assert sizes[0] == sizes[-1], f"{name}: recompiled, cache sizes {sizes}"
    for a, b in zip(h1, h8, strict=True):
        for key in ("train_loss", "val_loss", "val_acc"):
            np.testing.assert_allclose(b[key], a[key], rtol=1e-5, err_msg=name)
    leaf = jax.tree.leaves(s8.model)[0]
    assert len(leaf.sharding.device_set) == 8, leaf.sharding
    # Parameters after ONE step from identical parameters (Adam magnifies the
    # rounding of near-zero gradients over many steps).
    p1 = _fit(make_model, x[:16], y[:16], None, epochs=1, opt=optim.sgd(0.1))[0]
    p8 = _fit(make_model, x[:16], y[:16], "auto", epochs=1, opt=optim.sgd(0.1))[0]
    for a, b in zip(jax.tree.leaves(p1.model), jax.tree.leaves(p8.model), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, err_msg=name)
    # k = 3 steps per dispatch on the mesh: the same run.
    _, h83, _ = _fit(make_model, x, y, "auto", k=3)
    for a, b in zip(h1, h83, strict=True):
        np.testing.assert_allclose(b["train_loss"], a["train_loss"], rtol=1e-5)


def test_fit_on_eight_devices_equals_one_device():
    assert jax.device_count() == 8, jax.devices()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 64)).astype(np.float32)
    y = rng.integers(0, 10, N).astype(np.int32)
    _compare("simple", lambda: models.SimpleNN(64, 32, 10, rngs=nnx.Rngs(0)), x, y)
    xi = rng.standard_normal((N, 8, 8, 1)).astype(np.float32)
    _compare("cnn", lambda: models.CNN(1, 10, rngs=nnx.Rngs(0)), xi, y)

    # A global batch that does not split over 8 devices: a clear ValueError.
    opt = optim.sgd(0.1)
    step = make_train_step(_loss_fn, opt, mesh="auto")
    bad = data.DataLoader(data.ArrayDataset(x, y), batch_size=12)
    state = TrainState.create(models.SimpleNN(64, 32, 10, rngs=nnx.Rngs(0)), opt)
    with pytest.raises(ValueError, match="divisible by 8") as err:
        fit(state, step, bad, 1, progress=False)
    assert "12" in str(err.value), err.value


def _env(devices: int) -> dict:
    return {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "JAX_PLATFORMS": "cpu",
    }


def _cli(tmp_path, name, devices, *extra):
    metrics = tmp_path / f"{name}.jsonl"
    cmd = [sys.executable, "-m", "jtoolkit.train", "--dataset", "synthetic"]
    cmd += ["--epochs", "2", "--batch-size", "64", "--no-progress"]
    cmd += ["--metrics-file", str(metrics), *extra]
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=240, env=_env(devices)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    return result.stdout, lines


@pytest.mark.slow
def test_cli_data_parallel_on_eight_devices_matches_one(tmp_path):
    out8, dp = _cli(tmp_path, "dp", 8, "--data-parallel")
    _, single = _cli(tmp_path, "single", 1)
    assert "8 device(s)" in out8 and "1 process" in out8, out8
    assert dp[-1]["train_loss"] == pytest.approx(single[-1]["train_loss"], rel=1e-4)


def test_data_parallel_step_equals_single_device():
    """A batch prefetched onto 4 of the session's devices, split over them."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 16)).astype(np.float32)
    y = rng.integers(0, 3, 64).astype(np.int32)
    opt = optim.adam(1e-2)

    def loss_fn(model, batch):
        return losses.cross_entropy(model(batch[0]), batch[1])

    def run(placement):
        net = models.MLP([16, 32, 3], rngs=nnx.Rngs(0))
        state = TrainState.create(net, opt, seed=0)
        step = make_train_step(loss_fn, opt)
        loader = data.DataLoader(
            data.ArrayDataset(x, y), batch_size=16, shuffle=True, seed=1
        )
        out, spread = [], set()
        for batch in data.prefetch_to_device(loader, 2, placement):
            spread.add(len(batch[0].sharding.device_set))
            state, metrics = step(state, batch)
            out.append(float(metrics["loss"]))
        return out, jax.tree.leaves(state.model), spread

    mesh = Mesh(np.array(jax.devices()[:4]), ("data",))
    losses_dp, params_dp, spread_dp = run(NamedSharding(mesh, PartitionSpec("data")))
    losses_1, params_1, spread_1 = run(jax.devices()[0])
    assert spread_dp == {4} and spread_1 == {1}, (spread_dp, spread_1)
    np.testing.assert_allclose(losses_dp, losses_1, rtol=1e-5)
    for a, b in zip(params_dp, params_1, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
