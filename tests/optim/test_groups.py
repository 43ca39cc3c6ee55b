"""Tests of ``jtoolkit/_src/optim/groups.py`` (``param_groups``, ``param_paths``).

Moved from test_optim_tools.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.optim's param groups, clipping, accumulation and lr-in-state vs torch.

Uses the MLP harness of ``test_optim.py`` (base: 8 -> 16 tanh, classifier: 16 -> 4,
MSE, each framework computing its own gradients).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from parity import assert_close_to_truth, torch_references

from jtoolkit import optim
from jtoolkit._src.optim.groups import param_paths
from tests.optim._harness import (
    make_problem,
    max_diff,
    numpy_params,
    run_jax,
    torch_loss,
    torch_params,
)


# ---------------------------------------------------------------- param groups
def test_param_groups_base_and_classifier_lr(torch):
    """Tutorial: SGD([{base, lr}, {classifier, lr}], momentum=0.9)."""
    params, data = make_problem()
    tx = optim.param_groups(
        optim.sgd,
        [{"params": "base/*", "lr": 0.01}, {"params": "classifier", "lr": 0.1}],
        momentum=0.9,
    )
    got, state = run_jax(tx, params, data)

    def run(start, dtype):
        tp = torch_params(torch, start, dtype)
        opt = torch.optim.SGD(
            [
                {"params": list(tp["base"].values()), "lr": 0.01},
                {"params": list(tp["classifier"].values()), "lr": 0.1},
            ],
            momentum=0.9,
        )
        x, y = (torch.tensor(a, dtype=dtype) for a in data[0])
        for _ in range(50):
            opt.zero_grad()
            torch_loss(torch, tp, x, y).backward()
            opt.step()
        return numpy_params(tp)

    truth, references = torch_references(run, params, torch)
    assert max_diff(truth, params) > 0.1
    assert_close_to_truth(got, truth, references)
    assert [float(lr) for lr in optim.current_lr(state)] == pytest.approx([0.01, 0.1])


def bn_problem(seed: int = 1) -> tuple[dict, tuple]:
    rng = np.random.default_rng(seed)

    def arr(*shape, scale=0.5, loc=0.0):
        return (loc + rng.normal(size=shape) * scale).astype(np.float32)

    params = {
        "features": {"weight": arr(16, 8), "bias": arr(16)},
        "bn": {"weight": arr(16, loc=1.0, scale=0.2), "bias": arr(16, scale=0.2)},
        "classifier": {"weight": arr(4, 16), "bias": arr(4)},
    }
    return params, (arr(32, 8, scale=1.0), arr(32, 4, scale=1.0))


def bn_forward(xp, p, x, normalize):
    h = x @ p["features"]["weight"].T + p["features"]["bias"]
    h = normalize(h) * p["bn"]["weight"] + p["bn"]["bias"]
    return xp.tanh(h) @ p["classifier"]["weight"].T + p["classifier"]["bias"]


def bn_loss_jax(p, x, y):
    def normalize(h):  # BatchNorm1d in train mode: batch mean, biased variance
        return (h - h.mean(0)) / jnp.sqrt(h.var(0) + 1e-5)

    return jnp.mean((bn_forward(jnp, p, x, normalize) - y) ** 2)


def test_param_groups_weight_decay_off_for_batchnorm(torch):
    """Tutorial: Adam([{features, wd 1e-4}, {bn, wd 0}]); the classifier is unlisted."""
    params, (x, y) = bn_problem()
    groups = [
        {"params": "features/*", "weight_decay": 0.1},
        {"params": ["bn/weight", "bn/bias"], "weight_decay": 0},
    ]
    got = _train(optim.param_groups(optim.adam, groups, lr=1e-2), params, x, y)

    def normalize(h):
        return torch.nn.functional.batch_norm(h, None, None, training=True, eps=1e-5)

    def run(start, dtype):
        tp = torch_params(torch, start, dtype)
        opt = torch.optim.Adam(
            [
                {"params": list(tp["features"].values()), "weight_decay": 0.1},
                {"params": list(tp["bn"].values()), "weight_decay": 0},
            ],
            lr=1e-2,
        )
        tx_, ty = torch.tensor(x, dtype=dtype), torch.tensor(y, dtype=dtype)
        for _ in range(50):
            opt.zero_grad()
            torch.mean((bn_forward(torch, tp, tx_, normalize) - ty) ** 2).backward()
            opt.step()
        return numpy_params(tp)

    want, references = torch_references(run, params, torch)
    assert_close_to_truth(got, want, references)
    # unlisted parameters are frozen, bit for bit
    for k in ("weight", "bias"):
        np.testing.assert_array_equal(got["classifier"][k], params["classifier"][k])
    # the trap is real: decaying the BatchNorm parameters too gives other values
    wrong = _train(optim.adam(lr=1e-2, weight_decay=0.1), params, x, y)
    assert max_diff({"bn": want["bn"]}, {"bn": wrong["bn"]}) > 1e-3


def _train(tx, params, x, y, steps=50):
    """50 jitted steps of the BatchNorm model; the step compiles once."""

    @jax.jit
    def step(p, s):
        updates, s = tx.update(jax.grad(bn_loss_jax)(p, x, y), s, p)
        return optax.apply_updates(p, updates), s

    p = jax.device_put(params)
    s = tx.init(p)
    for _ in range(steps):
        p, s = step(p, s)
    assert step._cache_size() == 1
    return p


def test_param_groups_on_nnx_state():
    """nnx.State paths drop the trailing ``value``; first match wins; rest frozen."""
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.fc1 = nnx.Linear(3, 4, rngs=rngs)
            self.bn = nnx.BatchNorm(4, rngs=rngs)
            self.features = nnx.List([nnx.Linear(4, 2, rngs=rngs)])

    _, state, _ = nnx.split(Net(nnx.Rngs(0)), nnx.Param, ...)
    assert sorted(param_paths(state)) == [
        "bn/bias",
        "bn/scale",
        "fc1/bias",
        "fc1/kernel",
        "features/0/bias",
        "features/0/kernel",
    ]
    groups = [
        {"params": "fc1", "lr": 1.0},
        {"params": lambda path, leaf: leaf.ndim == 1, "lr": 0.5},  # bn + features bias
        {"params": "fc1/kernel", "lr": 123.0},  # never reached: fc1 matched first
        {"params": "*", "lr": 0.0},  # the rest: features/0/kernel
    ]
    typo = [{"params": "fc1/kernel/value"}]
    with pytest.raises(ValueError, match=r"param group 0 .*matches no parameter"):
        optim.param_groups(optim.sgd, typo).init(state)
    tx = optim.param_groups(optim.sgd, groups)
    grads = jax.tree.map(jnp.ones_like, state)
    updates, opt_state = jax.jit(tx.update)(grads, tx.init(state), state)
    assert isinstance(updates, nnx.State)
    assert np.all(updates["fc1"]["kernel"][...] == -1.0)
    assert np.all(updates["fc1"]["bias"][...] == -1.0)
    assert np.all(updates["bn"]["scale"][...] == -0.5)
    assert np.all(updates["features"][0]["bias"][...] == -0.5)
    assert np.all(updates["features"][0]["kernel"][...] == 0.0)  # frozen
    assert [float(v) for v in optim.current_lr(opt_state)] == [1.0, 0.5, 123.0, 0.0]


def test_param_groups_bad_groups():
    with pytest.raises(ValueError, match="non-empty list of dicts"):
        optim.param_groups(optim.sgd, {"params": "*"})
    with pytest.raises(ValueError, match="param group 0 must be a dict"):
        optim.param_groups(optim.sgd, [{"lr": 0.1}])
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.param_groups(optim.sgd, [{"params": "*", "lr": -1}])
