"""Tests of ``jtoolkit/_src/schedules/constant.py`` (``constant_lr``,
``polynomial_lr``).

Moved from test_schedules_more.py when the tests were laid out to mirror the code; that
file's notes:

constant_lr, polynomial_lr, multiplicative_lr, cosine_annealing_warm_restarts,
chained_scheduler and swa_lr against torch's schedulers (stepped), and every
schedule with an end holding torch's value past it (one_cycle_lr included).

Same harness (_harness.py): torch's ``param_groups[0]["lr"]`` after ``e``
calls of ``scheduler.step()``, ``e = 0..n-1`` with ``n`` covering >= 2 periods,
eager, jitted and vmapped, at ``rtol=1e-6`` (torch float64 as truth).
multiplicative_lr multiplies float32 factors, so its tolerance is derived from
the number of factors: ``n * 2**-24`` (each factor rounded once) plus ``1e-6``.
"""

import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import schedules as S
from tests.schedules._harness import ATOL, RTOL, _check_short, _torch_lrs


@pytest.mark.parametrize(
    "lr,factor,total_iters",
    [(0.1, 1 / 3, 5), (0.5, 0.5, 1), (0.05, 1.0, 3), (0.1, 0.25, 0), (0.1, 0.7, -2)],
)
def test_constant_lr(torch, lr, factor, total_iters):
    build = lambda o: torch.optim.lr_scheduler.ConstantLR(o, factor, total_iters)  # noqa: E731
    want = _torch_lrs(torch, build, 3 * max(total_iters, 1) + 5, lr)
    _check_short(S.constant_lr(lr, factor, total_iters), want)


@pytest.mark.parametrize(
    "lr,total_iters,power",
    [(0.1, 5, 1.0), (0.5, 10, 2.0), (0.05, 7, 0.5), (1.0, 1, 3.0), (0.1, 0, 1.0)],
)
def test_polynomial_lr(torch, lr, total_iters, power):
    build = lambda o: torch.optim.lr_scheduler.PolynomialLR(o, total_iters, power)  # noqa: E731
    want = _torch_lrs(torch, build, 2 * max(total_iters, 1) + 5, lr)
    _check_short(S.polynomial_lr(lr, total_iters, power), want)


@pytest.mark.parametrize(
    "build,exc,match",
    [
        (lambda: S.constant_lr(0.1, factor=1.5), ValueError, "between 0 and 1"),
        (lambda: S.constant_lr(0.1, factor=-0.1), ValueError, "between 0 and 1"),
        (lambda: S.constant_lr(0.1, factor=0.0), ZeroDivisionError, "factor=0"),
        (lambda: S.polynomial_lr(0.1, 5, power=-1.0), ZeroDivisionError, "power"),
        (lambda: S.cosine_annealing_warm_restarts(0.1, 0), ValueError, "T_0, but"),
        (lambda: S.cosine_annealing_warm_restarts(0.1, 2.0), ValueError, "T_0"),
        (lambda: S.cosine_annealing_warm_restarts(0.1, 2, 0), ValueError, "T_mult"),
        (lambda: S.cosine_annealing_warm_restarts(0.1, 2, 1.5), ValueError, "T_mult"),
        (
            lambda: S.cosine_annealing_warm_restarts(0.1, 2, eta_min="0"),
            ValueError,
            "eta_min",
        ),
        (lambda: S.swa_lr(0.1, 0.01, anneal_strategy="exp"), ValueError, "'cos'"),
        (lambda: S.swa_lr(0.1, 0.01, anneal_epochs=-1), ValueError, "anneal_epochs"),
        (lambda: S.swa_lr(0.1, 0.01, anneal_epochs=2.0), ValueError, "anneal_epochs"),
        (lambda: S.multiplicative_lr(0.1, 3), TypeError, "should be a function"),
        (lambda: S.chained_scheduler([]), ValueError, "at least one scheduler"),
        (lambda: S.one_cycle_lr(0.1, 10, pct_start=1), ValueError, "pct_start"),
        (lambda: S.one_cycle_lr(0.1, 10, pct_start=-0.1), ValueError, "pct_start"),
        (lambda: S.one_cycle_lr(0.1, 10, pct_start=0.1), ZeroDivisionError, "1"),
        (lambda: S.one_cycle_lr(0.1, 10, div_factor=0), ZeroDivisionError, "div_"),
        (
            lambda: S.one_cycle_lr(0.1, 10, final_div_factor=0),
            ZeroDivisionError,
            "final_div_factor",
        ),
    ],
)
def test_bad_arguments_raise_torchs_type(build, exc, match):
    with pytest.raises(exc, match=match):
        build()


def _torch_raises(torch, build, exc, steps):
    """torch raises ``exc`` building the scheduler or within ``steps`` steps."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    with pytest.raises(exc):
        sched = build(opt)
        for _ in range(steps):
            opt.step()
            sched.step()


def test_torch_raises_the_same_types(torch):
    """The exception types above are torch's (at construction or at a step)."""
    lr_s = torch.optim.lr_scheduler
    from torch.optim.swa_utils import SWALR

    for build, exc in [
        (lambda o: lr_s.ConstantLR(o, factor=1.5), ValueError),
        (lambda o: lr_s.ConstantLR(o, factor=0.0, total_iters=2), ZeroDivisionError),
        (lambda o: lr_s.PolynomialLR(o, 5, power=-1.0), ZeroDivisionError),
        (lambda o: lr_s.CosineAnnealingWarmRestarts(o, 0), ValueError),
        (lambda o: lr_s.CosineAnnealingWarmRestarts(o, 2, 0), ValueError),
        (lambda o: lr_s.CosineAnnealingWarmRestarts(o, 2, eta_min="0"), ValueError),
        (lambda o: SWALR(o, 0.01, anneal_strategy="exp"), ValueError),
        (lambda o: SWALR(o, 0.01, anneal_epochs=-1), ValueError),
        (lambda o: lr_s.MultiplicativeLR(o, 3), TypeError),
        (lambda o: lr_s.ChainedScheduler([]), ValueError),
        (lambda o: lr_s.OneCycleLR(o, 0.1, 10, pct_start=1), ValueError),
        (lambda o: lr_s.OneCycleLR(o, 0.1, 10, pct_start=0.1), ZeroDivisionError),
        (lambda o: lr_s.OneCycleLR(o, 0.1, 10, div_factor=0), ZeroDivisionError),
        (lambda o: lr_s.OneCycleLR(o, 0.1, 10, final_div_factor=0), ZeroDivisionError),
    ]:
        _torch_raises(torch, build, exc, 6)


def test_schedules_with_an_end_hold_torchs_value_past_it(torch):
    """linear_lr, constant_lr, polynomial_lr, swa_lr, sequential_lr (of those):
    torch's values, then its final value held far past the end."""
    lr_s = torch.optim.lr_scheduler
    from torch.optim.swa_utils import SWALR

    for build, ours in [
        (lambda o: lr_s.LinearLR(o, 0.2, 0.7, 4), S.linear_lr(0.1, 0.2, 0.7, 4)),
        (lambda o: lr_s.ConstantLR(o, 0.5, 4), S.constant_lr(0.1, 0.5, 4)),
        (lambda o: lr_s.PolynomialLR(o, 4, 2.0), S.polynomial_lr(0.1, 4, 2.0)),
        (lambda o: SWALR(o, 0.01, 4), S.swa_lr(0.1, 0.01, 4)),
        (
            lambda o: lr_s.SequentialLR(
                o, [lr_s.LinearLR(o, 0.5, 1.0, 3), lr_s.ConstantLR(o, 0.5, 3)], [4]
            ),
            S.sequential_lr(
                [S.linear_lr(0.1, 0.5, 1.0, 3), S.constant_lr(0.1, 0.5, 3)], [4]
            ),
        ),
    ]:
        want = _torch_lrs(torch, build, 16, 0.1)
        got = np.asarray(ours(jnp.arange(16)))
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(ours(jnp.arange(12, 100)), want[-1], rtol=RTOL)
