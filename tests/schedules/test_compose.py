"""Tests of ``jtoolkit/_src/schedules/compose.py`` (``lambda_lr``, ``per_epoch``,
``sequential_lr``).

Moved from test_schedules.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.schedules against torch.optim.lr_scheduler (the real classes, stepped).

Each schedule is compared with torch's ``param_groups[0]["lr"]`` after ``e`` calls of
``scheduler.step()`` for ``e = 0..n-1`` (``n`` covers at least two periods), eagerly,
under ``jax.jit`` and under ``jax.vmap``, at ``rtol=1e-6``; ``atol`` only absorbs
torch's float64 dust where a value is exactly zero.
"""

import numpy as np
import pytest

from jtoolkit import schedules as S
from tests.schedules._harness import _check, _torch_run


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
