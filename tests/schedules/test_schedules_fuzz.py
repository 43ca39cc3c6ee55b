"""Fuzz the schedules against torch 2.13's schedulers: values or exception types.

Random arguments, edge values included (gamma 0 or negative, lr 0, negative
eta_min / swa_lr, factor 0, zero-length periods). torch's value after ``t``
``scheduler.step()`` calls must equal ``schedule(t)``; where torch raises (at
construction or within the steps compared) the factory must raise torch's type at
construction. Deliberate difference (docs/migration.md): a negative ``T_max`` is
refused. Derandomized, fixed example counts.
"""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from fuzzing import FUZZ, report, same
from hypothesis import given
from hypothesis import strategies as st

from jtoolkit import schedules as S

torch = pytest.importorskip("torch")
LR = torch.optim.lr_scheduler
AREA = "schedules"
STEPS = 8
_gamma = st.sampled_from([0.0, -0.5, 0.1, 0.5, 0.9, 1.0, 1.5])
_lr = st.sampled_from([0.0, 0.01, 0.1, 1.0])
_iters = st.integers(-1, 4)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    report(__name__)


def _torch_values(lr, make):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = make(opt)
        out = [opt.param_groups[0]["lr"]]
        for _ in range(STEPS):
            opt.step()
            sched.step()
            out.append(opt.param_groups[0]["lr"])
    return np.asarray(out)


def _ours(build):
    return lambda: np.asarray(build()(jnp.arange(STEPS + 1)), np.float64)


def _case(lr, ours, theirs):
    same(AREA, _ours(ours), lambda: _torch_values(lr, theirs), rtol=1e-5, atol=1e-7)


@FUZZ
@given(_lr, st.integers(-3, 3), _gamma)
def test_step_and_exponential(lr, size, gamma):
    _case(lr, lambda: S.step_lr(lr, size, gamma), lambda o: LR.StepLR(o, size, gamma))
    _case(lr, lambda: S.exponential_lr(lr, gamma), lambda o: LR.ExponentialLR(o, gamma))


@FUZZ
@given(_lr, st.lists(st.integers(-1, 6), max_size=3), _gamma)
def test_multistep(lr, milestones, gamma):
    _case(
        lr,
        lambda: S.multistep_lr(lr, milestones, gamma),
        lambda o: LR.MultiStepLR(o, milestones, gamma),
    )


@FUZZ
@given(_lr, st.integers(0, 4), st.sampled_from([-1.0, 0.0, 0.05, 2.0]))
def test_cosine(lr, t_max, eta_min):
    _case(
        lr,
        lambda: S.cosine_annealing_lr(lr, t_max, eta_min),
        lambda o: LR.CosineAnnealingLR(o, t_max, eta_min),
    )


@FUZZ
@given(_lr, st.sampled_from([0.0, 0.25, 1.0, 1.5]), _iters, st.booleans())
def test_constant_and_linear(lr, factor, iters, linear):
    if linear:
        _case(
            lr,
            lambda: S.linear_lr(lr, factor, 1.0 - factor / 2, iters),
            lambda o: LR.LinearLR(o, factor, 1.0 - factor / 2, iters),
        )
    else:
        _case(
            lr,
            lambda: S.constant_lr(lr, factor, iters),
            lambda o: LR.ConstantLR(o, factor, iters),
        )


@FUZZ
@given(_lr, _iters, st.sampled_from([-1.0, 0.5, 1.0, 2.0]))
def test_polynomial(lr, iters, power):
    _case(
        lr,
        lambda: S.polynomial_lr(lr, iters, power),
        lambda o: LR.PolynomialLR(o, iters, power),
    )


@FUZZ
@given(_lr, st.sampled_from([-0.5, 0.0, 0.05]), st.integers(0, 3), st.booleans())
def test_swa(lr, swa, epochs, cos):
    strategy = "cos" if cos else "linear"
    _case(
        lr,
        lambda: S.swa_lr(lr, swa, epochs, strategy),
        lambda o: torch.optim.swa_utils.SWALR(o, swa, epochs, strategy),
    )


@FUZZ
@given(
    st.sampled_from([-0.1, 0.0, 0.01, 0.2]),
    st.sampled_from([0.0, 0.1, 0.3]),
    st.integers(0, 3),
    st.sampled_from(["triangular", "triangular2", "exp_range"]),
    _gamma,
)
def test_cyclic(base, top, up, mode, gamma):
    _case(
        0.1,  # the optimizer's lr: CyclicLR replaces it
        lambda: S.cyclic_lr(base, top, up, mode=mode, gamma=gamma),
        lambda o: LR.CyclicLR(
            o, base, top, up, mode=mode, gamma=gamma, cycle_momentum=False
        ),
    )


@FUZZ
@given(st.sampled_from([-0.1, 0.0, 0.1]), st.sampled_from([0.0, 1.0, 25.0]))
def test_one_cycle(top, div):
    _case(
        0.1,
        lambda: S.one_cycle_lr(top, total_steps=10, div_factor=div),
        lambda o: LR.OneCycleLR(
            o, top, total_steps=10, div_factor=div, cycle_momentum=False
        ),
    )


@FUZZ
@given(_lr, st.integers(0, 3), st.integers(1, 2), st.sampled_from([-1.0, 0.0]))
def test_warm_restarts(lr, t0, mult, eta_min):
    _case(
        lr,
        lambda: S.cosine_annealing_warm_restarts(lr, t0, mult, eta_min),
        lambda o: LR.CosineAnnealingWarmRestarts(o, t0, mult, eta_min),
    )


@FUZZ
@given(_lr, st.lists(_gamma, min_size=1, max_size=3))
def test_chained_as_torch_users_write_it(lr, gammas):
    _case(
        lr,
        lambda: S.chained_scheduler([S.exponential_lr(lr, g) for g in gammas]),
        lambda o: LR.ChainedScheduler([LR.ExponentialLR(o, g) for g in gammas]),
    )
