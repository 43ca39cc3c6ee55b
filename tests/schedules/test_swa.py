"""Tests of ``jtoolkit/_src/schedules/swa.py`` (``swa_lr``).

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


@pytest.mark.parametrize(
    "lr,anneal_epochs,strategy",
    [(0.1, 10, "cos"), (0.5, 4, "linear"), (0.05, 1, "cos"), (0.3, 0, "linear")],
)
def test_swa_lr(torch, lr, anneal_epochs, strategy):
    from torch.optim.swa_utils import SWALR

    build = lambda o: SWALR(o, 0.02, anneal_epochs, strategy)  # noqa: E731
    want = _torch_lrs(torch, build, 2 * anneal_epochs + 5, lr)
    _check_short(S.swa_lr(lr, 0.02, anneal_epochs, strategy), want)
