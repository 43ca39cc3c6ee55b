"""Tests of ``jtoolkit/_src/schedules/decay.py`` (``cosine_annealing_lr``,
``exponential_lr``, ``linear_lr``, ``multistep_lr``, ``step_lr``).

Moved from test_schedules.py, test_schedules_cyclic.py when the tests were laid out to
mirror the code; those files' notes:

test_schedules.py:
jtoolkit.schedules against torch.optim.lr_scheduler (the real classes, stepped).

Each schedule is compared with torch's ``param_groups[0]["lr"]`` after ``e`` calls of
``scheduler.step()`` for ``e = 0..n-1`` (``n`` covers at least two periods), eagerly,
under ``jax.jit`` and under ``jax.vmap``, at ``rtol=1e-6``; ``atol`` only absorbs
torch's float64 dust where a value is exactly zero.

test_schedules_cyclic.py:
Cyclic, one-cycle (with momentum twins) and warmup-cosine schedules vs torch.

Same harness (``_harness.py``): torch's real schedulers stepped on a dummy
SGD/Adam optimizer, compared eagerly, under jit and under vmap at ``rtol=1e-6``;
plus long horizons against float64 closed forms.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import schedules as S
from tests.schedules._harness import COUNTS, RTOL, _check, _torch_run, _values

STEP = [
    dict(lr=0.1, step_size=3, gamma=0.5),
    dict(lr=1.0, step_size=1, gamma=0.9),
    dict(lr=0.05, step_size=7, gamma=0.1),
    dict(lr=0.1, step_size=2.5, gamma=0.5),  # torch decays where t % 2.5 == 0
    dict(lr=0.1, step_size=0.5, gamma=0.9),
    dict(lr=0.1, step_size=-1.5, gamma=0.5),
    dict(lr=0.1, step_size=0.1, gamma=0.5),  # 1 % 0.1 != 0: never decays
]


@pytest.mark.parametrize("kw", STEP)
def test_step_lr(torch, kw):
    kw = dict(kw)
    lr = kw.pop("lr")
    want, _ = _torch_run(
        torch, lambda o: torch.optim.lr_scheduler.StepLR(o, **kw), 60, lr
    )
    _check(S.step_lr(lr, **kw), want)


@pytest.mark.parametrize(
    "lr,milestones,gamma",
    [(0.1, [3, 7], 0.1), (1.0, [10, 2, 2], 0.5), (0.3, [5], 0.9), (0.2, [], 0.5)],
)
def test_multistep_lr(torch, lr, milestones, gamma):
    build = lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones, gamma)  # noqa: E731
    want, _ = _torch_run(torch, build, 25, lr)
    _check(S.multistep_lr(lr, milestones, gamma), want)


@pytest.mark.parametrize(
    "lr,gamma,n", [(0.1, 0.9, 120), (1.0, 0.99, 600), (0.5, 1.05, 80), (0.3, 0.5, 40)]
)
def test_exponential_lr(torch, lr, gamma, n):
    build = lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma)  # noqa: E731
    want, _ = _torch_run(torch, build, n, lr)
    _check(S.exponential_lr(lr, gamma), want)


@pytest.mark.parametrize(
    "lr,T_max,eta_min",
    [(0.1, 10, 0.001), (1.0, 7, 0.0), (0.02, 100, 1e-4), (0.1, 1, 0.0)],
)
def test_cosine_annealing_lr_past_t_max(torch, lr, T_max, eta_min):
    build = lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max, eta_min)  # noqa: E731
    want, _ = _torch_run(torch, build, 5 * T_max + 3, lr)
    _check(S.cosine_annealing_lr(lr, T_max, eta_min), want)


def test_cosine_annealing_lr_seed_numbers():
    """torch-semantics §6: T_max=10, eta_min=1e-3 rises back to 0.1 at t=20."""
    values = _values(S.cosine_annealing_lr(0.1, 10, eta_min=0.001), 25)
    np.testing.assert_allclose(
        values[[1, 5, 10, 11, 20, 21]],
        [0.0975773, 0.0505, 0.001, 0.0034227, 0.1, 0.0975773],
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(start_factor=1.0, end_factor=0.1, total_iters=8),
        dict(start_factor=0.25, end_factor=1.0, total_iters=0),
        dict(start_factor=0.5, end_factor=0.0, total_iters=1),
    ],
)
def test_linear_lr(torch, kw):
    build = lambda o: torch.optim.lr_scheduler.LinearLR(o, **kw)  # noqa: E731
    want, _ = _torch_run(torch, build, 20, 0.3)
    _check(S.linear_lr(0.3, **kw), want)


@pytest.mark.parametrize(
    "schedule",
    [
        S.step_lr(0.1, 3),
        S.cosine_annealing_lr(0.1, 10),
        S.cyclic_lr(0.01, 0.1, 4, mode="exp_range", gamma=0.9),
        S.one_cycle_lr(0.1, total_steps=50),
        S.per_epoch(S.linear_warmup_cosine_annealing(0.1, 3, 10), 5),
        S.sequential_lr([S.linear_lr(0.1), S.exponential_lr(0.1, 0.9)], [5]),
    ],
)
def test_jit_compiles_once_for_all_counts(schedule):
    """A train step sees its count as an int32 array: one compilation for all."""
    jitted = jax.jit(schedule)
    for count in [0, 1, 7, 1000, 123456]:
        jitted(jnp.asarray(count, jnp.int32))
    assert jitted._cache_size() == 1
    jitted(0)  # a Python int is a second (weakly typed) signature, compiled once
    for count in [5, 99, 4000]:
        jitted(count)
    assert jitted._cache_size() == 2


def test_schedules_take_batched_counts():
    schedule = S.multistep_lr(1.0, [2, 5])
    values = jax.jit(schedule)(COUNTS.reshape(10, 64))
    assert values.shape == (10, 64)
    np.testing.assert_allclose(values.ravel(), schedule(COUNTS), rtol=RTOL)


@pytest.mark.parametrize(
    "build,match",
    [
        (
            lambda: S.step_lr(0.1, 0),
            "step_lr: step_size must be nonzero, got 0",
        ),
        (lambda: S.step_lr(0.1, "2"), "step_size must be an integer, got '2'"),
        (lambda: S.step_lr(-0.1, 3), "step_lr: lr must be >= 0, got -0.1"),
        (lambda: S.cosine_annealing_lr(0.1, 0), "T_max must be > 0, got 0"),
        (lambda: S.cosine_annealing_lr(0.1, -5), "T_max must be > 0, got -5"),
        (lambda: S.linear_lr(0.1, start_factor=0), "start_factor=0"),
        (lambda: S.linear_lr(0.1, end_factor=1.5), "end_factor=1.5"),
        (lambda: S.lambda_lr(0.1, 3), "callable"),
        (lambda: S.sequential_lr([S.step_lr(0.1, 1)], [3]), "number of milestones"),
        (lambda: S.sequential_lr([], []), "at least one"),
        (
            lambda: S.sequential_lr([S.step_lr(0.1, 1)] * 3, [5, 2]),
            r"milestones must be non-decreasing, got \[5, 2\]",
        ),
        (
            lambda: S.cyclic_lr(0.1, 1.0, step_size_up=0),
            "cyclic_lr: step_size_up must be > 0, got 0",
        ),
        (lambda: S.cyclic_lr(0.1, 1.0, mode="cosine"), "'cosine'"),
        (lambda: S.cyclic_momentum(mode="nope"), "'nope'"),
        (lambda: S.one_cycle_lr(0.1), "total_steps OR"),
        (
            lambda: S.one_cycle_lr(0.1, total_steps=0),
            "one_cycle_lr: total_steps must be an integer >= 1, got 0",
        ),
        (
            lambda: S.one_cycle_lr(0.1, epochs=0, steps_per_epoch=3),
            "epochs must be an integer >= 1, got 0",
        ),
        (
            lambda: S.one_cycle_lr(0.1, epochs=2, steps_per_epoch=-1),
            "steps_per_epoch must be an integer >= 1, got -1",
        ),
        (lambda: S.one_cycle_lr(0.1, total_steps=10, pct_start=1.5), "1.5"),
        (lambda: S.one_cycle_lr(0.1, 10, anneal_strategy="exp"), "'exp'"),
        (
            lambda: S.one_cycle_lr(0.1, 10, div_factor=0),
            "one_cycle_lr: div_factor must be > 0, got 0",
        ),
        (lambda: S.one_cycle_momentum(total_steps=10, pct_start=0.1), "pct_start=0.1"),
        (
            lambda: S.linear_warmup_cosine_annealing(0.1, 5, 5),
            "max_epochs must be an integer >= 6, got 5",
        ),
        (
            lambda: S.linear_warmup_cosine_annealing(0.1, -1, 5),
            "warmup_epochs must be an integer >= 0, got -1",
        ),
        (
            lambda: S.per_epoch(S.step_lr(0.1, 1), 0),
            "per_epoch: steps_per_epoch must be an integer >= 1, got 0",
        ),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_value(build, match):
    with pytest.raises(ValueError, match=match):
        build()


LONG = jnp.arange(20000)


def _long_cases(rng):
    """(schedule, float64 closed form of torch's values) with random long horizons."""
    t = np.arange(20000, dtype=np.float64)
    lr, slow, period = rng.uniform(0.01, 1.0), 1 - 10 ** rng.uniform(-5, -3), 1777
    up, down, total = 3001, 1999, 5000
    x = t / total - np.floor(t / total)
    height = np.where(x <= up / total, x * total / up, (1 - x) * total / down)
    e1, e2, ts = 0.3 * 15000 - 1, 15000 - 1.0, np.minimum(t, 15000 - 1)
    ramp = (1 + np.cos(np.pi * ts / e1)) / 2
    fall = (1 + np.cos(np.pi * (ts - e1) / (e2 - e1))) / 2
    return [
        (S.exponential_lr(lr, slow), lr * slow**t),
        (S.step_lr(lr, 37, 0.7), lr * 0.7 ** np.floor(t / 37)),
        (
            S.cosine_annealing_lr(lr, period, 1e-4),
            1e-4 + (lr - 1e-4) * (1 + np.cos(np.pi * t / period)) / 2,
        ),
        (
            S.cyclic_lr(1e-3, lr, up, down, "exp_range", slow),
            1e-3 + (lr - 1e-3) * height * slow**t,
        ),
        (
            S.one_cycle_lr(0.1, 15000),
            np.where(ts <= e1, 0.1 - (0.1 - 0.004) * ramp, 4e-7 + (0.1 - 4e-7) * fall),
        ),
    ]


@pytest.mark.parametrize("seed", [0, 1])
def test_long_horizons_against_float64_closed_forms(seed):
    """float32 closed forms stay within rtol 1e-6 of torch's float64 for 20000 steps."""
    for index, (schedule, want) in enumerate(_long_cases(np.random.default_rng(seed))):
        keep = want > 1e-30  # float32 underflow is not a precision question
        got = np.asarray(schedule(LONG))[keep]
        np.testing.assert_allclose(got, want[keep], rtol=RTOL, err_msg=str(index))
