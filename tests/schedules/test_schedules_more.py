"""constant_lr, polynomial_lr, multiplicative_lr, cosine_annealing_warm_restarts,
chained_scheduler and swa_lr against torch's schedulers (stepped), and every
schedule with an end holding torch's value past it (one_cycle_lr included).

Same harness as test_schedules.py: torch's ``param_groups[0]["lr"]`` after ``e``
calls of ``scheduler.step()``, ``e = 0..n-1`` with ``n`` covering >= 2 periods,
eager, jitted and vmapped, at ``rtol=1e-6`` (torch float64 as truth).
multiplicative_lr multiplies float32 factors, so its tolerance is derived from
the number of factors: ``n * 2**-24`` (each factor rounded once) plus ``1e-6``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import schedules as S

RTOL = 1e-6
ATOL = 1e-12
COUNTS = jnp.arange(200)


def _torch_run(torch, build, n, lr=0.1):
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=lr)
    sched = build(opt)
    lrs = []
    for step in range(n):
        if step:
            opt.step()
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return np.asarray(lrs)


def _check(schedule, expected, rtol=RTOL):
    n = len(expected)
    for name, values in (
        ("eager", schedule(COUNTS)),
        ("jit", jax.jit(schedule)(COUNTS)),
        ("vmap", jax.vmap(schedule)(COUNTS)),
    ):
        assert values.dtype == jnp.float32, name
        assert values.shape == COUNTS.shape, name
        np.testing.assert_allclose(
            values[:n], expected, rtol=rtol, atol=ATOL, err_msg=name
        )
    np.testing.assert_allclose(schedule(n - 1), expected[n - 1], rtol=rtol, atol=ATOL)


@pytest.mark.parametrize(
    "lr,factor,total_iters",
    [(0.1, 1 / 3, 5), (0.5, 0.5, 1), (0.05, 1.0, 3), (0.1, 0.25, 0), (0.1, 0.7, -2)],
)
def test_constant_lr(torch, lr, factor, total_iters):
    build = lambda o: torch.optim.lr_scheduler.ConstantLR(o, factor, total_iters)  # noqa: E731
    want = _torch_run(torch, build, 3 * max(total_iters, 1) + 5, lr)
    _check(S.constant_lr(lr, factor, total_iters), want)


@pytest.mark.parametrize(
    "lr,total_iters,power",
    [(0.1, 5, 1.0), (0.5, 10, 2.0), (0.05, 7, 0.5), (1.0, 1, 3.0), (0.1, 0, 1.0)],
)
def test_polynomial_lr(torch, lr, total_iters, power):
    build = lambda o: torch.optim.lr_scheduler.PolynomialLR(o, total_iters, power)  # noqa: E731
    want = _torch_run(torch, build, 2 * max(total_iters, 1) + 5, lr)
    _check(S.polynomial_lr(lr, total_iters, power), want)


@pytest.mark.parametrize(
    "lr,T_0,T_mult,eta_min",
    [(0.1, 10, 1, 0.0), (0.1, 3, 2, 1e-3), (1.0, 2, 3, 0.0), (0.05, 1, 2, 0.01)],
)
def test_cosine_annealing_warm_restarts(torch, lr, T_0, T_mult, eta_min):
    build = lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(  # noqa: E731
        o, T_0, T_mult, eta_min
    )
    want = _torch_run(torch, build, 150, lr)
    _check(S.cosine_annealing_warm_restarts(lr, T_0, T_mult, eta_min), want)


def test_cosine_annealing_warm_restarts_long_horizon():
    """Cycle boundaries stay exact far out (no float logarithm)."""
    schedule = S.cosine_annealing_warm_restarts(1.0, T_0=3, T_mult=2)
    starts = np.asarray([3 * (2**i - 1) for i in range(20)])
    np.testing.assert_allclose(schedule(jnp.asarray(starts)), 1.0, rtol=1e-7)
    last = 3 * 2.0 ** np.arange(19)  # length of the cycle ending at starts[1:] - 1
    want = (1 + np.cos(np.pi * (last - 1) / last)) / 2
    got = schedule(jnp.asarray(starts[1:] - 1))
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize(
    "lr,anneal_epochs,strategy",
    [(0.1, 10, "cos"), (0.5, 4, "linear"), (0.05, 1, "cos"), (0.3, 0, "linear")],
)
def test_swa_lr(torch, lr, anneal_epochs, strategy):
    from torch.optim.swa_utils import SWALR

    build = lambda o: SWALR(o, 0.02, anneal_epochs, strategy)  # noqa: E731
    want = _torch_run(torch, build, 2 * anneal_epochs + 5, lr)
    _check(S.swa_lr(lr, 0.02, anneal_epochs, strategy), want)


def test_multiplicative_lr(torch):
    n = 60
    build = lambda o: torch.optim.lr_scheduler.MultiplicativeLR(  # noqa: E731
        o, lambda k: 0.95 if k % 3 else 1.1
    )
    want = _torch_run(torch, build, n, 0.1)
    schedule = S.multiplicative_lr(0.1, lambda k: jnp.where(k % 3 == 0, 1.1, 0.95))
    _check(schedule, want, rtol=n * 2.0**-24 + 1e-6)


def test_multiplicative_lr_scalar_and_zero_counts():
    schedule = S.multiplicative_lr(0.5, lambda k: 0.5)
    assert float(schedule(0)) == 0.5
    assert float(jax.jit(schedule)(3)) == 0.0625
    assert schedule(jnp.zeros((2, 3), jnp.int32)).shape == (2, 3)


@pytest.mark.parametrize("base", [False, True])
def test_chained_scheduler(torch, base):
    lr = 0.1

    def build(o):
        return torch.optim.lr_scheduler.ChainedScheduler(
            [
                torch.optim.lr_scheduler.ConstantLR(o, factor=0.1, total_iters=2),
                torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
                torch.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.5),
            ]
        )

    want = _torch_run(torch, build, 30, lr)
    other = lr if base else 1.0
    schedule = S.chained_scheduler(
        [
            S.constant_lr(lr, factor=0.1, total_iters=2),
            S.exponential_lr(other, 0.9),
            S.step_lr(other, 4, 0.5),
        ],
        base_lr=lr if base else None,
    )
    _check(schedule, want)


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


@pytest.mark.parametrize("strategy", ["linear", "cos"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_holds_its_final_value(torch, strategy, three_phase):
    """Past total_steps - 1 (the last lr torch uses) the lr neither goes negative
    (linear) nor rises (cos): it holds torch's final value."""
    total = 20
    kw = dict(total_steps=total, anneal_strategy=strategy, three_phase=three_phase)
    build = lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.1, **kw)  # noqa: E731
    want = _torch_run(torch, build, total, 0.1)
    schedule = S.one_cycle_lr(0.1, **kw)
    _check(schedule, want)
    past = schedule(jnp.arange(total - 1, total + 50))
    np.testing.assert_allclose(past, want[-1], rtol=RTOL)
    assert float(jnp.min(schedule(COUNTS))) > 0
    momentum = S.one_cycle_momentum(**kw)
    np.testing.assert_allclose(momentum(jnp.arange(total, total + 5)), 0.95, rtol=1e-6)


@pytest.mark.parametrize("strategy", ["linear", "cos"])
def test_one_cycle_pct_start_one_is_a_pure_warmup(torch, strategy):
    """pct_start=1.0: torch is defined up to total_steps - 1 (then divides by 0)."""
    kw = dict(total_steps=10, pct_start=1.0, anneal_strategy=strategy)
    build = lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.1, **kw)  # noqa: E731
    want = _torch_run(torch, build, 10, 0.1)
    schedule = S.one_cycle_lr(0.1, **kw)
    _check(schedule, want)
    np.testing.assert_allclose(schedule(jnp.arange(9, 40)), 0.1, rtol=RTOL)
    assert np.all(np.isfinite(np.asarray(schedule(COUNTS))))


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
        want = _torch_run(torch, build, 16, 0.1)
        got = np.asarray(ours(jnp.arange(16)))
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(ours(jnp.arange(12, 100)), want[-1], rtol=RTOL)
