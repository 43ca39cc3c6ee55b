"""jtoolkit.optim vs torch.optim: every optimizer x option, 50 steps of a small MLP.

Harness: an 8 -> 16 (tanh) -> 4 MLP trained with MSE on a fixed batch of 32, each
framework computing its own gradients (they differ by ~1e-8), so the gradients change
along the trajectory. Parameters after 50 steps are compared with torch float64 under
the derived tolerance of tests/parity.py (within 4x the spread of torch float32 runs
around float64, plus 8 ulps); on this machine that bound is 2e-6 .. 1.7e-5 relative
and jtoolkit uses at most a third of it, while an lr off by 1e-4 exceeds it >= 4x.
A schedule ``count -> value`` is checked against torch with the group's lr /
momentum / betas[0] written before each ``step()`` (what torch's schedulers do), so
``count`` = number of updates already applied. Each jitted step must compile once.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from parity import assert_close_to_truth, torch_references

from jtoolkit import optim
from tests.optim._harness import (
    STEPS,
    flat,
    make_problem,
    run_jax,
    torch_loss,
    torch_params,
)

TORCH_NAMES = {
    "sgd": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "adadelta": "Adadelta",
    "adamax": "Adamax",
    "nadam": "NAdam",
    "radam": "RAdam",
}


def write_group(group: dict, t: int, lr_s=None, mom_s=None) -> None:
    """What torch's schedulers do before step t: write lr and momentum/betas[0]."""
    if lr_s is not None:
        group["lr"] = float(lr_s(jnp.int32(t)))
    if mom_s is not None:
        m = float(mom_s(jnp.int32(t)))
        if "betas" in group:
            group["betas"] = (m, group["betas"][1])
        else:
            group["momentum"] = m


def run_torch(
    torch, name, kwargs, params, data, steps=STEPS, lr_s=None, mom_s=None, dtype=None
):
    """torch's parameters after ``steps`` steps, in ``dtype`` (default float32)."""
    tp = torch_params(torch, params, dtype)
    opt = getattr(torch.optim, TORCH_NAMES[name])(flat(tp), **kwargs)
    tdata = [
        (torch.tensor(x, dtype=dtype), torch.tensor(y, dtype=dtype)) for x, y in data
    ]
    for t in range(steps):
        for group in opt.param_groups:
            write_group(group, t, lr_s, mom_s)
        opt.zero_grad()
        torch_loss(torch, tp, *tdata[t % len(tdata)]).backward()
        opt.step()
    return {k: {kk: v.detach().numpy() for kk, v in d.items()} for k, d in tp.items()}


def exp_lr(lr0: float, gamma: float):
    """ExponentialLR stepped per batch: ``lr0 * gamma**count``."""
    return lambda t: lr0 * gamma**t


def cos_momentum(lo: float, hi: float, period: int = 40):
    """OneCycleLR-like momentum cycling between hi and lo."""
    return lambda t: lo + (hi - lo) * (1 + jnp.cos(jnp.pi * t / period)) / 2


def case(case_id: str, name: str, lr_s=None, mom_s=None, **kwargs):
    """One parity case: optimizer name, torch kwargs (shared), schedules."""
    return pytest.param(name, kwargs, lr_s, mom_s, id=case_id)


LR_EXP, LR_EXP_SMALL = exp_lr(1e-2, 0.95), exp_lr(1e-3, 0.95)
MOM = cos_momentum(0.85, 0.95)
CASES = [
    case("sgd", "sgd", lr=0.1),
    case("sgd-momentum", "sgd", lr=0.05, momentum=0.9),
    case("sgd-dampening", "sgd", lr=0.05, momentum=0.9, dampening=0.5),
    case("sgd-nesterov", "sgd", lr=0.05, momentum=0.9, nesterov=True),
    case("sgd-wd", "sgd", lr=0.05, momentum=0.9, weight_decay=0.05),
    case("sgd-maximize", "sgd", lr=0.01, momentum=0.5, maximize=True),
    case("sgd-lr-sched", "sgd", lr_s=exp_lr(0.1, 0.95), momentum=0.9),
    case("sgd-mom-sched", "sgd", mom_s=MOM, lr=0.05),
    case("adam", "adam", lr=1e-2),
    case("adam-betas-eps", "adam", lr=1e-2, betas=(0.8, 0.99), eps=1e-3),
    case("adam-wd", "adam", lr=1e-2, weight_decay=0.1),
    case("adam-amsgrad", "adam", lr=1e-2, amsgrad=True),
    case("adam-amsgrad-wd", "adam", lr=1e-2, amsgrad=True, weight_decay=0.1),
    case("adam-maximize", "adam", lr=1e-2, maximize=True),
    case("adam-lr-sched", "adam", lr_s=LR_EXP),
    case("adam-beta1-sched", "adam", mom_s=MOM, lr=1e-2),
    case("adamw", "adamw", lr=1e-2),
    case("adamw-wd-amsgrad", "adamw", lr=1e-2, weight_decay=0.5, amsgrad=True),
    case("adamw-scheds", "adamw", lr_s=LR_EXP, mom_s=MOM, weight_decay=0.1),
    case("rmsprop", "rmsprop"),
    case("rmsprop-centered", "rmsprop", centered=True),
    case("rmsprop-momentum", "rmsprop", lr=1e-3, momentum=0.9),
    case(
        "rmsprop-all",
        "rmsprop",
        lr=1e-3,
        alpha=0.9,
        eps=1e-2,
        weight_decay=0.1,
        momentum=0.9,
        centered=True,
    ),
    case("rmsprop-lr-sched", "rmsprop", lr_s=LR_EXP_SMALL, momentum=0.9),
    case("rmsprop-mom-sched", "rmsprop", mom_s=cos_momentum(0.8, 0.9), lr=1e-3),
    case("adagrad", "adagrad", lr=0.1),
    case(
        "adagrad-all",
        "adagrad",
        lr=0.1,
        lr_decay=0.05,
        weight_decay=0.1,
        initial_accumulator_value=0.2,
    ),
    case("adagrad-eps", "adagrad", lr=0.1, eps=0.1),
    case("adagrad-eps-maximize", "adagrad", lr=0.02, eps=0.1, maximize=True),
    case("adadelta", "adadelta"),
    case("adadelta-all", "adadelta", lr=0.5, rho=0.95, eps=1e-4, weight_decay=0.1),
    case("adamax", "adamax", lr=1e-2, weight_decay=0.1),
    case("adamax-beta1-sched", "adamax", mom_s=MOM, lr=1e-2),
    case("nadam", "nadam", lr=1e-2),
    case(
        "nadam-decoupled",
        "nadam",
        lr=1e-2,
        weight_decay=0.1,
        decoupled_weight_decay=True,
        momentum_decay=0.01,
    ),
    case("radam", "radam", lr=5e-2),
    case("radam-betas", "radam", lr=2e-2, betas=(0.8, 0.99)),
    case("radam-wd-beta1-sched", "radam", mom_s=MOM, lr=1e-2, weight_decay=0.1),
]


def parity_kwargs(name, kwargs, lr_s, mom_s) -> tuple[dict, dict]:
    """jtoolkit's kwargs (schedules as callables) and torch's (their values at 0)."""
    jkw, tkw = dict(kwargs), dict(kwargs)
    if lr_s is not None:
        jkw["lr"], tkw["lr"] = lr_s, float(lr_s(jnp.int32(0)))
    if mom_s is not None:
        m0 = float(mom_s(jnp.int32(0)))
        if name in ("sgd", "rmsprop"):
            jkw["momentum"], tkw["momentum"] = mom_s, m0
        else:
            beta2 = kwargs.get("betas", (0.9, 0.999))[1]
            jkw["betas"], tkw["betas"] = (mom_s, beta2), (m0, beta2)
    return jkw, tkw


def torch_truth(torch, name, tkw, params, data, lr_s=None, mom_s=None):
    """torch float64's result and the float32 references (tests/parity.py)."""

    def run(start, dtype):
        return run_torch(
            torch, name, tkw, start, data, lr_s=lr_s, mom_s=mom_s, dtype=dtype
        )

    return torch_references(run, params, torch)


@pytest.mark.parametrize(("name", "kwargs", "lr_s", "mom_s"), CASES)
def test_parity_with_torch(torch, name, kwargs, lr_s, mom_s):
    params, data = make_problem()
    jkw, tkw = parity_kwargs(name, kwargs, lr_s, mom_s)
    got, _ = run_jax(getattr(optim, name)(**jkw), params, data)
    truth, references = torch_truth(torch, name, tkw, params, data, lr_s, mom_s)
    moved = max(
        np.abs(truth[k][kk] - params[k][kk]).max() for k in truth for kk in truth[k]
    )
    assert moved > 1e-2, "the trajectory barely moved: the test could not fail"
    assert_close_to_truth(got, truth, references)


@pytest.mark.parametrize("case_id", ["adam", "rmsprop-centered", "sgd-momentum"])
def test_derived_tolerance_catches_a_wrong_update(torch, case_id):
    """An lr off by 1e-4 relative fails the parity check (the check can fail)."""
    name, kwargs, lr_s, mom_s = next(c.values for c in CASES if c.id == case_id)
    params, data = make_problem()
    jkw, tkw = parity_kwargs(name, kwargs, lr_s, mom_s)
    jkw["lr"] = tkw.get("lr", 1e-2) * (1 + 1e-4)
    got, _ = run_jax(getattr(optim, name)(**jkw), params, data)
    truth, references = torch_truth(torch, name, tkw, params, data, lr_s, mom_s)
    with pytest.raises(AssertionError, match="exceeds"):
        assert_close_to_truth(got, truth, references)


def test_defaults_match_torch(torch):
    """Each factory's defaults are torch's (AdamW's weight_decay=1e-2 included)."""
    import inspect

    for name, tname in TORCH_NAMES.items():
        torch_sig = inspect.signature(getattr(torch.optim, tname).__init__)
        for pname, p in inspect.signature(getattr(optim, name)).parameters.items():
            assert pname in torch_sig.parameters, (name, pname)
            want = torch_sig.parameters[pname].default
            assert p.default == want, (name, pname, p.default, want)


@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        (optim.sgd, dict(lr=-1.0), "Invalid learning rate: -1.0"),
        (optim.sgd, dict(momentum=-0.5), "Invalid momentum value: -0.5"),
        (optim.sgd, dict(weight_decay=-1), "Invalid weight_decay value: -1"),
        (
            optim.sgd,
            dict(nesterov=True, momentum=0.9, dampening=0.1),
            "Nesterov momentum requires a momentum and zero dampening",
        ),
        (optim.sgd, dict(nesterov=True), "Nesterov momentum requires a momentum"),
        (
            optim.adam,
            dict(betas=(1.0, 0.999)),
            "Invalid beta parameter at index 0: 1.0",
        ),
        (
            optim.adamw,
            dict(betas=(0.9, -0.1)),
            "Invalid beta parameter at index 1: -0.1",
        ),
        (optim.adam, dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
        (optim.adamw, dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
        (optim.rmsprop, dict(alpha=-0.5), "Invalid alpha value: -0.5"),
        (optim.rmsprop, dict(momentum=-1), "Invalid momentum value: -1"),
        (optim.adagrad, dict(lr_decay=-1), "Invalid lr_decay value: -1"),
        (
            optim.adagrad,
            dict(initial_accumulator_value=-1),
            "Invalid initial_accumulator_value value: -1",
        ),
        (optim.adadelta, dict(rho=1.5), "Invalid rho value: 1.5"),
        (optim.nadam, dict(momentum_decay=-1), "Invalid momentum_decay value: -1"),
        (optim.radam, dict(lr=-0.1), "Invalid learning rate: -0.1"),
        (optim.adamax, dict(betas=(0.9, lambda t: 0.9)), "betas[1] must be a float"),
    ],
)
def test_validation_messages(torch, factory, kwargs, message):
    """torch's ValueError and message at construction (checked against torch too)."""
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        factory(**kwargs)
    tname = TORCH_NAMES[factory.__name__]
    if not any(callable(b) for b in kwargs.get("betas", ())):
        with pytest.raises(ValueError, match=message.replace("[", r"\[")):
            getattr(torch.optim, tname)([torch.zeros(1, requires_grad=True)], **kwargs)
