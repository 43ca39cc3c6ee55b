"""steps_per_execution: k steps in one dispatch equal k single steps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit import data, losses, models, optim
from jtoolkit.train import TrainState, fit, make_train_step

K = 3


def _loss_fn(model, batch):
    x, y = batch
    return losses.cross_entropy(model(x), y, reduction="none")


def _scalar_loss_fn(model, batch):
    return jnp.mean(_loss_fn(model, batch))


def _state(opt):
    net = models.MLP([6, 16, 3], dropout=0.2, rngs=nnx.Rngs(0))  # RNG streams too
    return TrainState.create(net, opt, seed=1)


def _loader(x, y, batch_size=32):
    return data.DataLoader(
        data.ArrayDataset(x, y), batch_size=batch_size, shuffle=True, seed=3
    )


def _data(n=150, nan_row=None):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = rng.integers(0, 3, n).astype(np.int32)
    if nan_row is not None:
        x[nan_row, 0] = np.nan
    return x, y


def _strip(history):
    return [
        {k: v for k, v in r.items() if k not in ("time_s", "samples_per_s")}
        for r in history
    ]


@pytest.fixture(scope="module")
def opt():
    return optim.adam(1e-2)


@pytest.fixture(scope="module")
def steps(opt):
    return make_train_step(_loss_fn, opt), make_train_step(_loss_fn, opt, steps=K)


def test_k_steps_per_call_equal_k_single_steps(opt, steps):
    single, multi = steps
    x, y = _data()  # 150 rows, batch 32: 5 batches, the last (22 rows) padded
    s1, h1 = fit(_state(opt), single, _loader(x, y), 2, progress=False)
    sk, hk = fit(
        _state(opt), multi, _loader(x, y), 2, progress=False, steps_per_execution=K
    )  # groups of 3 and 2 (+ 1 filler step that must not change anything)
    assert int(sk.step) == int(s1.step) == 10
    for a, b in zip(_strip(h1), _strip(hk), strict=True):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_allclose(b[key], a[key], rtol=1e-6, err_msg=key)
    for a, b in zip(jax.tree.leaves(s1), jax.tree.leaves(sk), strict=True):
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


def test_metrics_come_back_stacked_and_filler_steps_change_nothing(opt, steps):
    _, multi = steps
    x, y = _data(n=64)
    batches = (x.reshape(2, 32, 6)[[0, 1, 1]], y.reshape(2, 32)[[0, 1, 1]])
    masks = np.ones((K, 32), np.float32)
    state, metrics = multi(_state(opt), batches, masks, np.array([True, True, False]))
    assert metrics["loss"].shape == (K,) and int(state.step) == 2
    state2, _ = multi(_state(opt), batches, masks, np.array([True, True, True]))
    assert int(state2.step) == 3


def test_nan_is_reported_at_its_step_and_skipped_inside_a_group(opt):
    loader = data.DataLoader(data.ArrayDataset(*_data(nan_row=100)), batch_size=32)
    multi = make_train_step(_loss_fn, opt, steps=K)
    with pytest.raises(FloatingPointError, match=r"at step 4 \(epoch 1, batch 4\)"):
        fit(_state(opt), multi, loader, 1, progress=False, steps_per_execution=K)
    skip_k = make_train_step(_loss_fn, opt, nan_policy="skip", steps=K)
    skip_1 = make_train_step(_loss_fn, opt, nan_policy="skip")
    sk, hk = fit(_state(opt), skip_k, loader, 1, progress=False, steps_per_execution=K)
    s1, h1 = fit(_state(opt), skip_1, loader, 1, progress=False)
    assert hk[0]["skipped_steps"] == h1[0]["skipped_steps"] == 1
    assert int(sk.step) == int(s1.step) == 4
    np.testing.assert_allclose(hk[0]["train_loss"], h1[0]["train_loss"], rtol=1e-6)


def test_scalar_losses_need_batches_of_one_size(opt):
    # Per-example losses are the contract (issue #19): a scalar loss cannot leave
    # padded rows out, so ragged batches are refused before any step runs.
    x, y = _data()
    single = make_train_step(_scalar_loss_fn, opt)
    with pytest.raises(ValueError, match=r"scalar loss .* 22 of 32 rows"):
        fit(_state(opt), single, _loader(x, y), 1, progress=False)
    x, y = _data(n=160)  # five full batches: a scalar loss is fine
    s1, h1 = fit(_state(opt), single, _loader(x, y), 1, progress=False)
    sk, hk = fit(
        _state(opt), single, _loader(x, y), 1, progress=False, steps_per_execution=K
    )
    np.testing.assert_allclose(hk[0]["train_loss"], h1[0]["train_loss"], rtol=1e-6)
    assert int(sk.step) == int(s1.step) == 5


def test_steps_mismatch_and_bad_values_are_clear(opt, steps):
    single, multi = steps
    x, y = _data()
    # Any step runs k per call (issue #19): step.with_steps(K), no rebuild.
    state, _ = fit(
        _state(opt), single, _loader(x, y), 1, progress=False, steps_per_execution=K
    )
    assert int(state.step) == 5 and single.with_steps(K) is single.with_steps(K)
    with pytest.raises(ValueError, match="steps_per_execution must be an integer"):
        fit(_state(opt), single, _loader(x, y), 1, steps_per_execution=0)
    with pytest.raises(ValueError, match="make_train_step: steps must be"):
        make_train_step(_loss_fn, opt, steps=0)
    # A k-step step used with steps_per_execution=1 falls back to its single step.
    _, history = fit(_state(opt), multi, _loader(x, y), 1, progress=False)
    assert np.isfinite(history[0]["train_loss"])


@pytest.mark.parametrize("accumulate", [1, 2])
def test_a_conv_models_k_step_program_keeps_xlas_fast_cpu_convolution(accumulate):
    """XLA's CPU compiler leaves conv gradients in a while body on its generic
    loop (37x slower; a CNN's k-step epoch never finished on 2 devices): the k-step
    and accumulation scans trace the model under ``conv_lowering.in_loop()``."""
    net = models.Sequential(
        models.Conv2d(1, 4, 3, padding=1, rngs=nnx.Rngs(0)),
        models.ReLU(),
        models.Flatten(),
        models.Linear(4 * 6 * 6, 3, rngs=nnx.Rngs(1)),
    )
    opt = optim.sgd(lr=0.1)
    rng = np.random.default_rng(0)
    lead = (K, accumulate) if accumulate > 1 else (K,)  # k steps of k' batches
    xs = rng.standard_normal((*lead, 4, 6, 6, 1)).astype(np.float32)
    ys = rng.integers(0, 3, (*lead, 4)).astype(np.int32)
    single = make_train_step(_scalar_loss_fn, opt, accumulate=accumulate)
    multi = single.with_steps(K)
    state = TrainState.create(net, opt)
    hlo = multi.lower(state, (xs, ys), None, None).compile().as_text()
    labels = [
        line.split("dim_labels=")[1].split(",")[0]
        for line in hlo.splitlines()
        if " convolution(" in line
    ]
    assert labels and all(label.startswith("b01f") for label in labels), labels
    one = state
    for i in range(K):
        one, _ = single(one, (xs[i], ys[i]))
    many, _ = multi(TrainState.create(net, opt), (xs, ys))
    for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(many), strict=True):
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
