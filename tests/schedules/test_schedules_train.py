"""Schedules driving jtoolkit.optim in a real training loop, against torch's loop.

A small MLP is trained for 30 steps on fixed batches by torch (optimizer.step() then
scheduler.step()) and by a jitted jtoolkit step whose lr and momentum/beta1 are
schedules of the update count; the parameters must agree at the end.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

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


def _train_torch(torch, model, opt, sched, xs, ys):
    for x, y in zip(xs, ys, strict=True):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(
            model(torch.from_numpy(x)), torch.from_numpy(y)
        )
        loss.backward()
        opt.step()
        sched.step()
    return _params(model)


def _assert_params_close(got, want):
    for name in want:
        np.testing.assert_allclose(
            got[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name
        )


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
    model = _torch_model(torch)
    start = _params(model)
    if kind == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, **kw)
    want = _train_torch(torch, model, opt, sched, xs, ys)

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
    _assert_params_close(_train_jax(start, tx, xs, ys), want)


def test_one_cycle_without_momentum_twin_differs(torch, rng):
    """The twin matters: a fixed momentum drifts away from torch (test can fail)."""
    xs, ys = _data(rng)
    model = _torch_model(torch)
    start = _params(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=STEPS)
    want = _train_torch(torch, model, opt, sched, xs, ys)
    tx = optim.sgd(lr=S.one_cycle_lr(0.1, total_steps=STEPS), momentum=0.9)
    got = _train_jax(start, tx, xs, ys)
    gap = max(float(jnp.max(jnp.abs(got[k] - want[k]))) for k in want)
    assert gap > 1e-4


def test_cyclic_training_matches_torch(torch, rng):
    xs, ys = _data(rng)
    model = _torch_model(torch)
    start = _params(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    kw = dict(step_size_up=4, step_size_down=6, mode="triangular2")
    sched = torch.optim.lr_scheduler.CyclicLR(opt, 0.01, 0.1, **kw)
    want = _train_torch(torch, model, opt, sched, xs, ys)
    tx = optim.sgd(lr=S.cyclic_lr(0.01, 0.1, **kw), momentum=S.cyclic_momentum(**kw))
    _assert_params_close(_train_jax(start, tx, xs, ys), want)


def test_plateau_drives_adam_through_set_lr_per_epoch(torch, rng):
    """torch's per-epoch ``scheduler.step(val_loss)``; jtoolkit's ``set_lr``."""
    xs, ys = _data(rng)
    val_x, val_y = xs[0] + 0.5, ys[0]
    spe = 3
    kw = dict(patience=0, factor=0.5, threshold=0.05, threshold_mode="abs")
    model = _torch_model(torch)
    start = _params(model)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    torch_lrs = []
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        opt.zero_grad()
        torch.nn.functional.mse_loss(
            model(torch.from_numpy(x)), torch.from_numpy(y)
        ).backward()
        opt.step()
        if (i + 1) % spe == 0:
            with torch.no_grad():
                val = torch.nn.functional.mse_loss(
                    model(torch.from_numpy(val_x)), torch.from_numpy(val_y)
                )
            sched.step(val.item())
            torch_lrs.append(opt.param_groups[0]["lr"])
    want = _params(model)

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
    _assert_params_close(got, want)
