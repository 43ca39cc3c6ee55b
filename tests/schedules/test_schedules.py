"""jtoolkit.schedules against torch.optim.lr_scheduler (the real classes, stepped).

Each schedule is compared with torch's ``param_groups[0]["lr"]`` after ``e`` calls of
``scheduler.step()`` for ``e = 0..n-1`` (``n`` covers at least two periods), eagerly,
under ``jax.jit`` and under ``jax.vmap``, at ``rtol=1e-6``; ``atol`` only absorbs
torch's float64 dust where a value is exactly zero.
"""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import schedules as S

RTOL = 1e-6
ATOL = 1e-12
COUNTS = jnp.arange(640)


def _values(schedule, n):
    """Eager values at counts ``0..n-1`` (evaluated on the shared ``COUNTS``)."""
    return np.asarray(schedule(COUNTS))[:n]


def _torch_run(torch, build, n, lr=0.1, optimizer="sgd", momentum=0.9):
    """Step torch's scheduler ``n - 1`` times; return the lrs and momenta seen."""
    param = torch.nn.Parameter(torch.zeros(1))
    if optimizer == "sgd":
        opt = torch.optim.SGD([param], lr=lr, momentum=momentum)
    else:
        opt = torch.optim.Adam([param], lr=lr)
    sched = build(opt)
    group = opt.param_groups[0]
    lrs, moms = [], []
    for step in range(n):
        if step:
            opt.step()
            sched.step()
        lrs.append(group["lr"])
        moms.append(group["betas"][0] if optimizer == "adam" else group["momentum"])
    return np.asarray(lrs), np.asarray(moms)


def _check(schedule, expected):
    """Eager, jit and vmap values of ``schedule`` on ``0..n-1`` all match torch.

    Counts always have the same length, so eager ops compile once for all tests.
    """
    n = len(expected)
    counts = COUNTS
    for name, values in (
        ("eager", schedule(counts)),
        ("jit", jax.jit(schedule)(counts)),
        ("vmap", jax.vmap(schedule)(counts)),
    ):
        assert values.dtype == jnp.float32, name
        assert values.shape == counts.shape, name
        np.testing.assert_allclose(
            values[:n], expected, rtol=RTOL, atol=ATOL, err_msg=name
        )
    np.testing.assert_allclose(schedule(n - 1), expected[n - 1], rtol=RTOL, atol=ATOL)


STEP = [
    dict(lr=0.1, step_size=3, gamma=0.5),
    dict(lr=1.0, step_size=1, gamma=0.9),
    dict(lr=0.05, step_size=7, gamma=0.1),
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
    "factor",
    [
        lambda e: 1.0 / (1.0 + 0.5 * e),
        lambda e: (e % 4 + 1) / 4,
        lambda e: 0.9 ** (e // 3),
    ],
)
def test_lambda_lr(torch, factor):
    build = lambda o: torch.optim.lr_scheduler.LambdaLR(o, factor)  # noqa: E731
    want, _ = _torch_run(torch, build, 20, 0.1)
    _check(S.lambda_lr(0.1, factor), want)


def _sequential_cases(lr_scheduler):
    """(torch builder, jtoolkit schedule) pairs for SequentialLR, base lr 0.1."""
    L = lr_scheduler
    return [
        (
            lambda o: L.SequentialLR(
                o, [L.LinearLR(o, 1e-3, 1.0, 3), L.CosineAnnealingLR(o, 9)], [3]
            ),
            S.sequential_lr(
                [S.linear_lr(0.1, 1e-3, 1.0, 3), S.cosine_annealing_lr(0.1, 9)], [3]
            ),
        ),
        (
            lambda o: L.SequentialLR(
                o, [L.LinearLR(o, 0.1, 1.0, 4), L.ExponentialLR(o, 0.8)], [4]
            ),
            S.sequential_lr(
                [S.linear_lr(0.1, 0.1, 1.0, 4), S.exponential_lr(0.1, 0.8)], [4]
            ),
        ),
        (
            lambda o: L.SequentialLR(
                o,
                [
                    L.StepLR(o, 2, 0.5),
                    L.MultiStepLR(o, [1, 3]),
                    L.CosineAnnealingLR(o, 4),
                ],
                [5, 12],
            ),
            S.sequential_lr(
                [
                    S.step_lr(0.1, 2, 0.5),
                    S.multistep_lr(0.1, [1, 3]),
                    S.cosine_annealing_lr(0.1, 4),
                ],
                [5, 12],
            ),
        ),
    ]


@pytest.mark.parametrize("case", range(3))
def test_sequential_lr(torch, case):
    build, schedule = _sequential_cases(torch.optim.lr_scheduler)[case]
    want, _ = _torch_run(torch, build, 30, 0.1)
    _check(schedule, want)


@pytest.mark.parametrize("spe", [1, 3, 4])
def test_per_epoch_matches_epoch_stepped_torch(torch, spe):
    """lr seen by each optimizer step when torch steps StepLR once per epoch."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    seen = []
    for _epoch in range(7):
        for _ in range(spe):
            seen.append(opt.param_groups[0]["lr"])
            opt.step()
        sched.step()
    _check(S.per_epoch(S.step_lr(0.1, 2, 0.5), spe), np.asarray(seen))


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
        (lambda: S.step_lr(0.1, 2.5), "step_size must be an integer, got 2.5"),
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


def test_plot_schedule_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = S.plot_schedule(S.one_cycle_lr(0.1, total_steps=50), 60, tmp_path / "a.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_cli_smoke(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "cyc.png"
    cmd = [
        sys.executable,
        "-m",
        "jtoolkit.schedules",
        "--plot",
        "cyclic_lr",
        "--out",
        str(out),
        "--steps",
        "30",
        "base_lr=0.01",
        "max_lr=0.1",
        "step_size_up=5",
        "mode=triangular2",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_plot_cli_bad_arguments_exit_2_without_traceback(capsys):
    from jtoolkit._src.schedules.plot import main

    code = main(
        [
            "--plot",
            "cyclic_lr",
            "--out",
            "x.png",
            "base_lr=0.1",
            "max_lr=1",
            "mode=nope",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "nope" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_info:
        main(["--plot", "lambda_lr", "--out", "x.png"])  # not buildable from text
    assert exit_info.value.code == 2
