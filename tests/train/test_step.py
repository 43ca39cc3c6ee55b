"""Tests of ``jtoolkit/_src/train/step.py`` (``make_eval_step``, ``make_train_step``).

Moved from test_train_engine.py, test_train_reliability.py when the tests were laid out
to mirror the code; those files' notes:

test_train_engine.py:
The functional train engine: TrainState, jitted train/eval steps, fused epoch.

test_train_reliability.py:
Training state reliability: donated-state reuse, huge finite gradients, and fit
resuming from the newest intact checkpoint (never a silent fresh start).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jtoolkit.train import TrainState, fit, make_eval_step, make_train_step
from tests.train._harness import (
    _X,
    _data,
    _leaves_equal,
    _mean_ce,
    _Net,
    _per_example_ce,
    _snapshot,
)


def test_loss_decreases_state_advances_no_retrace(rng):
    traces = []

    def loss_fn(model, batch):
        traces.append(1)
        return _per_example_ce(model, batch)

    opt = optax.adam(1e-2)
    step = make_train_step(loss_fn, opt)
    state = TrainState.create(_Net(nnx.Rngs(0), p=0.0), opt)
    x, y = _data(rng)
    mask = np.ones(16, np.float32)
    losses = []
    for _ in range(30):
        state, metrics = step(state, (x, y), mask)
        losses.append(float(metrics["loss"]))
    # A padded, masked last batch of an epoch reuses the compiled step.
    last = np.zeros(16, np.float32)
    last[:5] = 1
    state, _ = step(state, (x, y), last)
    assert losses[-1] < 0.5 * losses[0]
    assert int(state.step) == 31
    assert len(traces) == 1
    assert step._cache_size() == 1


def test_batchnorm_stats_and_dropout_advance_in_step(rng):
    opt = optax.sgd(0.0)  # no parameter change: only NNX state moves
    step = make_train_step(_mean_ce, opt)
    state = TrainState.create(_Net(nnx.Rngs(0)), opt, seed=1)
    x, y = _data(rng)
    mean0 = np.asarray(state.model["bn"]["mean"])
    state, m1 = step(state, (x, y))
    mean1 = np.asarray(state.model["bn"]["mean"])
    state, m2 = step(state, (x, y))
    mean2 = np.asarray(state.model["bn"]["mean"])
    assert not np.allclose(mean0, mean1) and not np.allclose(mean1, mean2)
    # Same batch, same params: the loss differs only through a new dropout mask.
    assert float(m1["loss"]) != float(m2["loss"])
    # nnx BatchNorm's running mean after one step: momentum * 0 + (1 - m) * batch mean
    h = np.asarray(_Net(nnx.Rngs(0)).fc1(x))
    np.testing.assert_allclose(mean1, 0.01 * h.mean(0), rtol=1e-5, atol=1e-7)


def test_dropout_randomness_depends_only_on_seed(rng):
    opt = optax.sgd(0.1)
    step = make_train_step(_mean_ce, opt)
    x, y = _data(rng)
    runs = []
    for seed in (0, 0, 1):
        state = TrainState.create(_Net(nnx.Rngs(0)), opt, seed=seed)
        state, metrics = step(state, (x, y))
        runs.append(float(metrics["loss"]))
    assert runs[0] == runs[1] != runs[2]


def test_masked_padded_batch_equals_unpadded_batch(rng):
    opt = optax.adam(1e-2)
    step = make_train_step(_per_example_ce, opt)
    x, y = _data(rng, 16)
    net = _Net(nnx.Rngs(0), p=0.0)
    a = TrainState.create(net, opt)
    b = TrainState.create(net, opt)
    mask = (np.arange(16) < 11).astype(np.float32)
    xp, yp = x.copy(), y.copy()
    xp[11:], yp[11:] = x[10], y[10]  # padding rows: copies of a real row
    a, ma = step(a, (xp, yp), mask)
    # Reference: a plain un-padded 11-row batch (its own compile; BatchNorm is fed
    # only real rows there, so compare on a BatchNorm-free model).
    lin = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    c = TrainState.create(lin, opt)
    d = TrainState.create(lin, opt)
    c, mc = step(c, (xp, yp), mask)
    d, md = step(d, (x[:11], y[:11]))
    np.testing.assert_allclose(float(mc["loss"]), float(md["loss"]), rtol=1e-6)
    for u, v in zip(jax.tree.leaves(c.model), jax.tree.leaves(d.model), strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-7)
    assert np.isfinite(float(ma["loss"]))
    del b


def test_nonfinite_loss_skips_update_and_reports(rng):
    opt = optax.sgd(0.1)
    step = make_train_step(_mean_ce, opt, nan_policy="skip")
    state = TrainState.create(_Net(nnx.Rngs(0), p=0.0), opt)
    x, y = _data(rng)
    before = _snapshot(state.model)
    bad = x.copy()
    bad[0, 0] = np.nan
    state, metrics = step(state, (bad, y))
    assert not bool(metrics["finite"]) and np.isnan(float(metrics["loss"]))
    assert int(state.step) == 0
    assert _leaves_equal(state.model, before)
    state, metrics = step(state, (x, y))
    assert bool(metrics["finite"]) and int(state.step) == 1


def test_bad_options_and_loss_shapes_raise_clearly(rng):
    opt = optax.sgd(0.1)
    x, y = _data(rng)
    with pytest.raises(ValueError, match="precision"):
        make_train_step(_mean_ce, opt, precision="fp8")
    with pytest.raises(ValueError, match="nan_policy"):
        make_train_step(_mean_ce, opt, nan_policy="maybe")
    step = make_train_step(_mean_ce, opt)
    state = TrainState.create(nnx.Linear(3, 2, rngs=nnx.Rngs(0)), opt)
    with pytest.raises(ValueError, match="per-example"):
        step(state, (x, y), np.ones(16, np.float32))
    aux_step = make_train_step(lambda m, b: (_mean_ce(m, b), 1.0), opt)
    with pytest.raises(ValueError, match="has_aux=True"):
        aux_step(state, (x, y))


def test_has_aux_and_eval_step(rng):
    opt = optax.sgd(0.1)

    def loss_fn(model, batch):
        logits = model(batch[0])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch[1])
        return loss, {"acc": jnp.mean(logits.argmax(-1) == batch[1])}

    step = make_train_step(loss_fn, opt, has_aux=True)
    state = TrainState.create(_Net(nnx.Rngs(0)), opt)
    x, y = _data(rng)
    state, metrics = step(state, (x, y))
    assert 0.0 <= float(metrics["aux"]["acc"]) <= 1.0

    def metric_fn(model, batch):
        logits = model(batch[0])
        return {
            "loss": optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]),
            "acc": (logits.argmax(-1) == batch[1]).astype(jnp.float32),
        }

    evaluate = make_eval_step(metric_fn)
    before = _snapshot(state.model)
    full = evaluate(state, (x, y))
    mask = (np.arange(16) < 9).astype(np.float32)
    part = evaluate(state, (x, y), mask)
    head = evaluate(state, (x[:9], y[:9]))
    assert _leaves_equal(state.model, before)  # eval does not touch the state
    assert float(full["count"]) == 16 and float(part["count"]) == 9
    # eval mode: BatchNorm uses running stats and no dropout, so rows are independent
    np.testing.assert_allclose(float(part["loss"]), float(head["loss"]), rtol=1e-6)
    np.testing.assert_allclose(float(part["acc"]), float(head["acc"]), rtol=1e-6)


def test_adam_steps_match_torch(torch, rng):
    """Two-layer MLP + CE + Adam: parameters after 3 jitted steps equal torch's."""
    opt = optax.adam(1e-2)

    class _Mlp(nnx.Module):
        def __init__(self, rngs):
            self.fc1 = nnx.Linear(3, 5, rngs=rngs)
            self.fc2 = nnx.Linear(5, 2, rngs=rngs)

        def __call__(self, x):
            return self.fc2(nnx.relu(self.fc1(x)))

    net = _Mlp(nnx.Rngs(0))
    tnet = torch.nn.Sequential(
        torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2)
    )
    with torch.no_grad():
        for i, layer in ((0, net.fc1), (2, net.fc2)):
            tnet[i].weight.copy_(torch.tensor(np.asarray(layer.kernel[...]).T))
            tnet[i].bias.copy_(torch.tensor(np.asarray(layer.bias[...])))
    topt = torch.optim.Adam(tnet.parameters(), lr=1e-2)
    step = make_train_step(_mean_ce, opt)
    state = TrainState.create(net, opt)
    x, y = _data(rng)
    for _ in range(3):
        state, metrics = step(state, (x, y))
        topt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(
            tnet(torch.tensor(x)), torch.tensor(y).long()
        )
        tloss.backward()
        topt.step()
        np.testing.assert_allclose(float(metrics["loss"]), tloss.item(), rtol=1e-5)
    np.testing.assert_allclose(
        state.model["fc1"]["kernel"],
        tnet[0].weight.detach().numpy().T,
        rtol=1e-5,
        atol=1e-7,
    )
    np.testing.assert_allclose(
        state.model["fc2"]["bias"], tnet[2].bias.detach().numpy(), rtol=1e-5, atol=1e-7
    )


def test_huge_finite_gradients_are_finite():
    """100 gradients of 1e37 are finite though their sum overflows float32."""
    opt = optax.sgd(0.0)
    step = make_train_step(lambda m, b: jnp.sum(m.kernel) * 1e37, opt)
    state = TrainState.create(nnx.Linear(100, 1, rngs=nnx.Rngs(0)), opt)
    state, metrics = step(state, None)
    assert np.isfinite(float(metrics["loss"]))
    assert bool(metrics["finite"]) and int(state.step) == 1


def test_nonfinite_gradient_with_finite_loss_is_not_called_a_loss():
    opt = optax.sgd(0.0)
    # d/dw of sqrt(|w|) at w = 0 is inf while the loss itself is finite.
    step = make_train_step(lambda m, b: jnp.sum(jnp.sqrt(jnp.abs(m.bias))), opt)
    model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    state = TrainState.create(model, opt)
    with pytest.raises(FloatingPointError, match=r"non-finite gradient \(loss 0\)"):
        fit(state, step, [_X], 1, progress=False)
