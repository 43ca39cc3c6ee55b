"""Tests of ``jtoolkit/_src/train/precision.py`` (``SlowPrecisionWarning``,
``compute_dtype``, ``cpu_has_native_bf16``).

Moved from test_train_engine.py when the tests were laid out to mirror the code; that
file's notes:

The functional train engine: TrainState, jitted train/eval steps, fused epoch.
"""

import warnings

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jtoolkit.train import TrainState, make_train_step
from tests.train._harness import (
    _data,
    _leaves_equal,
    _mean_ce,
    _snapshot,
)


def test_bf16_compute_keeps_fp32_master_weights(rng):
    opt = optax.adam(1e-2)
    step32 = make_train_step(_mean_ce, opt)
    step16 = make_train_step(_mean_ce, opt, precision="bf16")
    net = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    a = TrainState.create(net, opt)
    b = TrainState.create(net, opt)
    x, y = _data(rng)
    a, ma = step32(a, (x, y))
    b, mb = step16(b, (x, y))
    assert b.model["kernel"].dtype == jnp.float32
    assert mb["loss"].dtype == jnp.float32
    np.testing.assert_allclose(float(ma["loss"]), float(mb["loss"]), rtol=2e-2)
    assert float(ma["loss"]) != float(mb["loss"])  # really computed in bf16


def test_fp16_dynamic_loss_scale_backs_off_and_skips(rng):
    opt = optax.sgd(0.1)
    step = make_train_step(_mean_ce, opt, precision="fp16")
    state = TrainState.create(
        nnx.Linear(3, 2, rngs=nnx.Rngs(0)), opt, loss_scale=2.0**16
    )
    x, y = _data(rng)
    before = _snapshot(state.model)
    big = x * 3e4  # overflows float16 in the forward pass
    state, metrics = step(state, (big, y))
    assert not bool(metrics["finite"])
    assert float(state.loss_scale.scale) == 2.0**15
    assert _leaves_equal(state.model, before)
    state, metrics = step(state, (x, y))
    assert bool(metrics["finite"]) and int(state.loss_scale.growth_tracker) == 1
    assert not _leaves_equal(state.model, before)


def test_bf16_on_a_cpu_without_native_bf16_warns_once(tmp_path, monkeypatch):
    from jtoolkit._src.train import precision

    old, new = tmp_path / "old_cpu", tmp_path / "new_cpu"
    old.write_text("flags : fpu sse2 avx2 avx512f\n")
    new.write_text("flags : fpu avx512f avx512_bf16\n")
    assert not precision.cpu_has_native_bf16(str(old))
    assert precision.cpu_has_native_bf16(str(new))
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(precision, "_warned", set())
    with pytest.warns(precision.SlowPrecisionWarning, match="avx512_bf16"):
        precision.compute_dtype("bf16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        precision.compute_dtype("bf16")  # once per process
        precision.compute_dtype("fp32")
