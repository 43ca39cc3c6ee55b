"""Optimizer hyper-parameters take the parameters' dtype (torch's Python floats).

torch keeps ``lr``, ``betas`` and ``eps`` as Python floats, so a float64 model
steps with float64 hyper-parameters. With ``jax_enable_x64`` a float64 model here
gets a float64 lr state and float64 step-count arithmetic; a float32 model keeps
float32. Checked against torch float64 to 1e-12 (a float32 lr, 0.800000011920929,
is off by 1.5e-8 relative and fails).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jtoolkit import optim

STEPS = 5
CASES = [
    ("sgd", "SGD", dict(lr=0.8, momentum=0.9)),
    ("adam", "Adam", dict(lr=0.3, betas=(0.8, 0.9))),
    ("adam", "Adam", dict(lr=0.3, amsgrad=True, weight_decay=0.1)),
    ("adamw", "AdamW", dict(lr=0.3)),
    ("nadam", "NAdam", dict(lr=0.3)),
    ("radam", "RAdam", dict(lr=0.3)),
    ("adamax", "Adamax", dict(lr=0.3)),
    ("adagrad", "Adagrad", dict(lr=0.3, lr_decay=0.1)),
    ("rmsprop", "RMSprop", dict(lr=0.3, centered=True)),
    ("asgd", "ASGD", dict(lr=0.3)),
    ("rprop", "Rprop", dict(lr=0.3)),
    ("adafactor", "Adafactor", dict(lr=0.3, eps=(1e-7, 1e-3))),
]


def _problem():
    rng = np.random.default_rng(0)
    return rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 3))


def _torch_run(torch, name, kwargs):
    """torch float64 with float64 default dtype (x64's twin): ASGD's eta/mu and
    NAdam's mu_product are tensors of the default dtype, float32 otherwise."""
    w, x, y = (torch.tensor(a, dtype=torch.float64) for a in _problem())
    w.requires_grad_(True)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        opt = getattr(torch.optim, name)([w], **kwargs)
        for _ in range(STEPS):
            opt.zero_grad()
            torch.tanh(x @ w.T).sub(y).pow(2).mean().backward()
            opt.step()
    finally:
        torch.set_default_dtype(default)
    return w.detach().numpy()


@pytest.mark.parametrize("ours,theirs,kwargs", CASES, ids=str)
def test_float64_model_steps_with_float64_hyperparameters(torch, ours, theirs, kwargs):
    with jax.enable_x64(True):
        w, x, y = (jnp.asarray(a) for a in _problem())
        assert w.dtype == jnp.float64
        tx = getattr(optim, ours)(**kwargs)
        state = tx.init(w)
        assert optim.current_lr(state).dtype == jnp.float64
        assert float(optim.current_lr(state)) == kwargs["lr"]
        loss = lambda w: jnp.mean((jnp.tanh(x @ w.T) - y) ** 2)  # noqa: E731
        for _ in range(STEPS):
            updates, state = tx.update(jax.grad(loss)(w), state, w)
            w = optax.apply_updates(w, updates)
        assert w.dtype == jnp.float64
        np.testing.assert_allclose(
            np.asarray(w), _torch_run(torch, theirs, kwargs), rtol=1e-12, atol=1e-13
        )


def test_float32_and_bfloat16_models_keep_a_float32_lr():
    with jax.enable_x64(True):
        for dtype in (jnp.float32, jnp.bfloat16):
            state = optim.adam(lr=0.8).init({"w": jnp.zeros(2, dtype)})
            assert optim.current_lr(state).dtype == jnp.float32
    state = optim.sgd(lr=lambda c: 0.5).init({"w": jnp.zeros(2)})
    assert optim.current_lr(state).dtype == jnp.float32


def test_next_lr_is_torchs_param_group_lr_after_scheduler_step(torch):
    """torch: after ``opt.step(); sched.step()`` param_groups shows the NEXT lr."""
    from jtoolkit import schedules

    w = torch.zeros(2, requires_grad=True)
    topt = torch.optim.SGD([w], lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(topt, step_size=2, gamma=0.5)
    tx = optim.sgd(lr=schedules.step_lr(1.0, step_size=2, gamma=0.5))
    params = {"w": jnp.zeros(2)}
    state = tx.init(params)
    assert float(optim.next_lr(state)) == topt.param_groups[0]["lr"]
    for _ in range(5):
        used = topt.param_groups[0]["lr"]
        w.grad = torch.ones(2)
        topt.step()
        sched.step()
        _, state = tx.update({"w": jnp.ones(2)}, state)
        assert float(optim.current_lr(state)) == used
        assert float(optim.next_lr(state)) == topt.param_groups[0]["lr"]
        assert float(optim.next_lr(state)) == sched.get_last_lr()[0]
    # a float lr: the two readings agree, and set_lr moves both
    state = optim.set_lr(optim.adam(lr=0.1).init(params), 0.25)
    assert float(optim.next_lr(state)) == float(optim.current_lr(state)) == 0.25
    grouped = optim.param_groups(
        optim.sgd, [{"params": "w", "lr": schedules.exponential_lr(1.0, 0.5)}]
    )
    state = grouped.init(params)
    _, state = grouped.update({"w": jnp.ones(2)}, state, params)
    assert [float(v) for v in optim.next_lr(state)] == [0.5]
