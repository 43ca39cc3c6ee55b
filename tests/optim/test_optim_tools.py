"""jtoolkit.optim's param groups, clipping, accumulation and lr-in-state vs torch.

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
from test_optim import (
    flat,
    jit_step,
    make_problem,
    max_diff,
    run_jax,
    torch_loss,
    torch_params,
)

from jtoolkit import optim
from jtoolkit._src.optim.groups import param_paths


def numpy_params(tp: dict) -> dict:
    return {k: {kk: v.detach().numpy() for kk, v in d.items()} for k, d in tp.items()}


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


# ---------------------------------------------------------------- clipping
def random_grads(norm: float, seed: int = 0) -> dict:
    """MLP-shaped gradients rescaled to the given global 2-norm."""
    params, _ = make_problem(seed)
    scale = norm / float(np.sqrt(sum(np.sum(a**2) for a in jax.tree.leaves(params))))
    return jax.tree.map(lambda a: a * np.float32(scale), params)


@pytest.mark.parametrize(
    ("norm", "max_norm", "norm_type"),
    [
        (3.0, 1.0, 2.0),  # clipped
        (3.0, 100.0, 2.0),  # untouched (coefficient clamped to 1)
        (1e-5, 1e-5, 2.0),  # tiny: torch's +1e-6 scales by 0.91, optax does not
        (3e-4, 1e-5, 2.0),
        (3.0, 0.5, float("inf")),
        (3.0, 0.5, "inf"),
        (3.0, 0.5, 1.0),
        (3.0, 0.5, 3.0),
    ],
)
def test_clip_grad_norm_matches_torch(torch, norm, max_norm, norm_type):
    grads = random_grads(norm)
    arrays = [g for k in grads for g in grads[k].values()]
    tensors = [torch.tensor(g, requires_grad=True) for g in arrays]
    for t in tensors:
        t.grad = t.detach().clone()
    total = torch.nn.utils.clip_grad_norm_(tensors, max_norm, norm_type=norm_type)
    tx = optim.clip_grad_norm(max_norm, norm_type)
    clipped, state = tx.update(grads, tx.init(grads))
    got = [np.asarray(g) for k in clipped for g in clipped[k].values()]
    for g, t in zip(got, tensors, strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-6, atol=0)
    np.testing.assert_allclose(state.total_norm, total.item(), rtol=1e-6)
    norm_got = optim.global_norm(grads, norm_type)
    np.testing.assert_allclose(norm_got, total.item(), rtol=1e-6)
    if norm == max_norm:  # the test can fail: optax's clip_by_global_norm differs
        ref, _ = optax.clip_by_global_norm(max_norm).update(grads, None)
        biggest = max(float(np.abs(a).max()) for a in arrays)
        assert max_diff(ref, clipped) > 0.05 * biggest


def test_clip_grad_norm_zero_gradient_is_safe():
    grads = {"w": jnp.zeros((3, 2)), "b": jnp.zeros(2)}
    for norm_type in (2.0, "inf"):
        tx = optim.clip_grad_norm(1.0, norm_type)
        clipped, state = jax.jit(tx.update)(grads, tx.init(grads))
        assert float(state.total_norm) == 0.0
        assert all(np.all(np.asarray(g) == 0.0) for g in jax.tree.leaves(clipped))
    with pytest.raises(ValueError, match="clip_grad_norm: norm_type must be a number"):
        optim.clip_grad_norm(1.0, "fro")


def test_clip_then_adam_matches_torch(torch):
    """chain(clip_grad_norm, adam) == clip_grad_norm_ between backward() and step()."""
    params, data = make_problem()
    tx = optax.chain(optim.clip_grad_norm(0.05), optim.adam(lr=1e-2))
    got, _ = run_jax(tx, params, data)

    def run(start, dtype):
        tp = torch_params(torch, start, dtype)
        opt = torch.optim.Adam(flat(tp), lr=1e-2)
        x, y = (torch.tensor(a, dtype=dtype) for a in data[0])
        for _ in range(50):
            opt.zero_grad()
            torch_loss(torch, tp, x, y).backward()
            torch.nn.utils.clip_grad_norm_(flat(tp), 0.05)
            opt.step()
        return numpy_params(tp)

    want, references = torch_references(run, params, torch)
    assert_close_to_truth(got, want, references)
    unclipped, _ = run_jax(optim.adam(lr=1e-2), params, data)
    assert max_diff(unclipped, want) > 1e-3  # clipping changed the trajectory


# ---------------------------------------------------------------- accumulation
ACCUM_CASES = [
    # id, jtoolkit optimizer, torch optimizer, torch lr per real step, clip
    pytest.param(
        lambda: optim.sgd(lr=0.1, momentum=0.9),
        lambda torch, ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
        None,
        None,
        id="sgd-momentum",
    ),
    pytest.param(
        lambda: optim.adam(lr=lambda t: 1e-2 * 0.9**t),
        lambda torch, ps: torch.optim.Adam(ps, lr=1e-2),
        lambda s: 1e-2 * 0.9**s,  # the schedule counts real steps, as torch's does
        None,
        id="adam-schedule",
    ),
    pytest.param(
        lambda: optax.chain(optim.clip_grad_norm(0.05), optim.adam(lr=1e-2)),
        lambda torch, ps: torch.optim.Adam(ps, lr=1e-2),
        None,
        0.05,
        id="clip-adam",
    ),
]


@pytest.mark.parametrize(("make_tx", "make_torch", "lr_s", "clip"), ACCUM_CASES)
def test_accumulate_matches_torch_loss_over_k(torch, make_tx, make_torch, lr_s, clip):
    """accumulate(opt, 4) == (loss / 4).backward() per batch, step every 4 batches."""
    k, real_steps = 4, 12
    params, data = make_problem(batches=k)
    tx = optim.accumulate(make_tx(), every_k=k)
    step = jit_step(tx)
    got = jax.device_put(params)
    state = tx.init(got)
    for i in range(k * real_steps):
        before = got
        got, state, _ = step(got, state, *data[i % k])
        if (i + 1) % k:  # intermediate batches leave the parameters alone
            assert max_diff(got, before) == 0.0
    assert step._cache_size() == 1

    def run(start, dtype):
        tp = torch_params(torch, start, dtype)
        opt = make_torch(torch, flat(tp))
        tdata = [tuple(torch.tensor(a, dtype=dtype) for a in pair) for pair in data]
        for s in range(real_steps):
            if lr_s is not None:
                opt.param_groups[0]["lr"] = lr_s(s)
            for x, y in tdata:
                (torch_loss(torch, tp, x, y) / k).backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(flat(tp), clip)
            opt.step()
            opt.zero_grad()
        return numpy_params(tp)

    want, references = torch_references(run, params, torch)
    assert max_diff(want, params) > 1e-2
    assert_close_to_truth(got, want, references)
    if lr_s is not None:
        assert float(optim.current_lr(state)) == pytest.approx(lr_s(real_steps - 1))


def test_accumulate_rejects_bad_every_k():
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="accumulate: every_k must be an integer"):
            optim.accumulate(optim.sgd(), bad)
