"""Schedules driving jtoolkit.optim in a real training loop, against torch's loop.

A small MLP is trained for 30 steps on fixed batches by torch (optimizer.step() then
scheduler.step()) and by a jitted jtoolkit step whose lr and momentum/beta1 are
schedules of the update count; the parameters must agree at the end under the
derived tolerance of tests/parity.py (torch float64 as the truth, the spread of
torch float32 runs as the noise).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from parity import assert_close_to_truth, torch_references

from jtoolkit import optim
from jtoolkit import schedules as S

STEPS = 30


def _data(rng):
    xs = rng.normal(size=(STEPS, 8, 4)).astype(np.float32)
    ys = rng.normal(size=(STEPS, 8, 1)).astype(np.float32)
    return xs, ys


def _torch_model(torch):
    return torch.nn.Sequential(
        torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1)
    )


def _params(model):
    return {
        name: jnp.asarray(p.detach().numpy()) for name, p in model.named_parameters()
    }


def _loss(params, x, y):
    hidden = jnp.tanh(x @ params["0.weight"].T + params["0.bias"])
    out = hidden @ params["2.weight"].T + params["2.bias"]
    return jnp.mean((out - y) ** 2)


def _train_jax(params, tx, xs, ys, epoch_hook=None, steps_per_epoch=None):
    @jax.jit
    def step(params, state, x, y):
        grads = jax.grad(_loss)(params, x, y)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    state = tx.init(params)
    for i in range(len(xs)):
        params, state = step(params, state, xs[i], ys[i])
        if epoch_hook is not None and (i + 1) % steps_per_epoch == 0:
            state = epoch_hook(params, state)
    assert step._cache_size() == 1
    return params


def _model_at(torch, start, dtype):
    """A fresh torch model of ``dtype`` holding the parameters ``start``."""
    model = _torch_model(torch).to(dtype)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.tensor(np.asarray(start[name]), dtype=dtype))
    return model


def _torch_truth(torch, start, make_opt, make_sched, xs, ys):
    """torch float64's trained parameters and the float32 references (parity.py)."""

    def run(params, dtype):
        model = _model_at(torch, params, dtype)
        opt = make_opt(model.parameters())
        sched = make_sched(opt)
        for x, y in zip(xs, ys, strict=True):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(
                model(torch.tensor(x, dtype=dtype)), torch.tensor(y, dtype=dtype)
            )
            loss.backward()
            opt.step()
            sched.step()
        return {name: p.detach().numpy() for name, p in model.named_parameters()}

    return torch_references(run, start, torch)


ONE_CYCLE = [
    ("sgd", dict(max_lr=0.1, total_steps=STEPS)),
    ("adam", dict(max_lr=0.05, total_steps=STEPS)),
    (
        "sgd",
        dict(
            max_lr=0.2,
            epochs=3,
            steps_per_epoch=10,
            anneal_strategy="linear",
            three_phase=True,
            base_momentum=0.8,
            max_momentum=0.9,
        ),
    ),
    ("adam", dict(max_lr=0.02, total_steps=STEPS, pct_start=0.2, div_factor=10.0)),
]


@pytest.mark.parametrize("kind,kw", ONE_CYCLE)
def test_one_cycle_training_matches_torch(torch, rng, kind, kw):
    xs, ys = _data(rng)
    start = _params(_torch_model(torch))
    if kind == "sgd":
        make_opt = lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)  # noqa: E731
    else:
        make_opt = lambda ps: torch.optim.Adam(ps, lr=0.1)  # noqa: E731
    make_sched = lambda o: torch.optim.lr_scheduler.OneCycleLR(o, **kw)  # noqa: E731
    want, references = _torch_truth(torch, start, make_opt, make_sched, xs, ys)

    kw = dict(kw)
    momenta = {k: kw.pop(k) for k in ("base_momentum", "max_momentum") if k in kw}
    lr = S.one_cycle_lr(**kw)
    for k in ("max_lr", "div_factor"):
        kw.pop(k, None)
    momentum = S.one_cycle_momentum(**kw, **momenta)
    if kind == "sgd":
        tx = optim.sgd(lr=lr, momentum=momentum)
    else:
        tx = optim.adam(lr=lr, betas=(momentum, 0.999))
    assert_close_to_truth(_train_jax(start, tx, xs, ys), want, references)


def test_one_cycle_without_momentum_twin_differs(torch, rng):
    """The twin matters: a fixed momentum drifts away from torch (test can fail)."""
    xs, ys = _data(rng)
    start = _params(_torch_model(torch))
    want, references = _torch_truth(
        torch,
        start,
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
        lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=STEPS),
        xs,
        ys,
    )
    tx = optim.sgd(lr=S.one_cycle_lr(0.1, total_steps=STEPS), momentum=0.9)
    got = _train_jax(start, tx, xs, ys)
    with pytest.raises(AssertionError, match="exceeds"):
        assert_close_to_truth(got, want, references)


def test_cyclic_training_matches_torch(torch, rng):
    xs, ys = _data(rng)
    start = _params(_torch_model(torch))
    kw = dict(step_size_up=4, step_size_down=6, mode="triangular2")
    want, references = _torch_truth(
        torch,
        start,
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
        lambda o: torch.optim.lr_scheduler.CyclicLR(o, 0.01, 0.1, **kw),
        xs,
        ys,
    )
    tx = optim.sgd(lr=S.cyclic_lr(0.01, 0.1, **kw), momentum=S.cyclic_momentum(**kw))
    assert_close_to_truth(_train_jax(start, tx, xs, ys), want, references)


def test_plateau_drives_adam_through_set_lr_per_epoch(torch, rng):
    """torch's per-epoch ``scheduler.step(val_loss)``; jtoolkit's ``set_lr``."""
    xs, ys = _data(rng)
    val_x, val_y = xs[0] + 0.5, ys[0]
    spe = 3
    kw = dict(patience=0, factor=0.5, threshold=0.05, threshold_mode="abs")
    start = _params(_torch_model(torch))
    runs_lrs = []

    def run(params, dtype):
        model = _model_at(torch, params, dtype)
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
        lrs = []
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            opt.zero_grad()
            torch.nn.functional.mse_loss(
                model(torch.tensor(x, dtype=dtype)), torch.tensor(y, dtype=dtype)
            ).backward()
            opt.step()
            if (i + 1) % spe == 0:
                with torch.no_grad():
                    val = torch.nn.functional.mse_loss(
                        model(torch.tensor(val_x, dtype=dtype)),
                        torch.tensor(val_y, dtype=dtype),
                    )
                sched.step(val.item())
                lrs.append(opt.param_groups[0]["lr"])
        runs_lrs.append(lrs)
        return {name: p.detach().numpy() for name, p in model.named_parameters()}

    want, references = torch_references(run, start, torch)
    torch_lrs = runs_lrs[0]
    # the plateau decisions of every torch run agree, so the runs are comparable
    assert all(lrs == torch_lrs for lrs in runs_lrs)

    plateau = S.ReduceLROnPlateau(**kw)
    box = {"sched": plateau.init(0.05), "lrs": []}
    plateau_step = jax.jit(plateau.step)

    def on_epoch_end(params, opt_state):
        box["sched"] = plateau_step(box["sched"], _loss(params, val_x, val_y))
        box["lrs"].append(float(box["sched"].lr))
        return optim.set_lr(opt_state, box["sched"].lr)

    got = _train_jax(start, optim.adam(lr=0.05), xs, ys, on_epoch_end, spe)
    np.testing.assert_allclose(box["lrs"], torch_lrs, rtol=1e-6)
    assert min(torch_lrs) < 0.05  # the plateau rule did fire
    assert_close_to_truth(got, want, references)
