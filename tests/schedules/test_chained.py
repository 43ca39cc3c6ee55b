"""Tests of ``jtoolkit/_src/schedules/chained.py`` (``chained_scheduler``).

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

import pytest

from jtoolkit import schedules as S
from tests.schedules._harness import _check_short, _torch_lrs


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

    want = _torch_lrs(torch, build, 30, lr)
    other = lr if base else 1.0
    schedule = S.chained_scheduler(
        [
            S.constant_lr(lr, factor=0.1, total_iters=2),
            S.exponential_lr(other, 0.9),
            S.step_lr(other, 4, 0.5),
        ],
        base_lr=lr if base else None,
    )
    _check_short(schedule, want)
