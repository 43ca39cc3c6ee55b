"""Tests of ``jtoolkit/_src/schedules/warm_restarts.py``
(``cosine_annealing_warm_restarts``).

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
from tests.schedules._harness import _check_short, _torch_lrs


@pytest.mark.parametrize(
    "lr,T_0,T_mult,eta_min",
    [(0.1, 10, 1, 0.0), (0.1, 3, 2, 1e-3), (1.0, 2, 3, 0.0), (0.05, 1, 2, 0.01)],
)
def test_cosine_annealing_warm_restarts(torch, lr, T_0, T_mult, eta_min):
    build = lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(  # noqa: E731
        o, T_0, T_mult, eta_min
    )
    want = _torch_lrs(torch, build, 150, lr)
    _check_short(S.cosine_annealing_warm_restarts(lr, T_0, T_mult, eta_min), want)


def test_cosine_annealing_warm_restarts_long_horizon():
    """Cycle boundaries stay exact far out (no float logarithm)."""
    schedule = S.cosine_annealing_warm_restarts(1.0, T_0=3, T_mult=2)
    starts = np.asarray([3 * (2**i - 1) for i in range(20)])
    np.testing.assert_allclose(schedule(jnp.asarray(starts)), 1.0, rtol=1e-7)
    last = 3 * 2.0 ** np.arange(19)  # length of the cycle ending at starts[1:] - 1
    want = (1 + np.cos(np.pi * (last - 1) / last)) / 2
    got = schedule(jnp.asarray(starts[1:] - 1))
    np.testing.assert_allclose(got, want, rtol=1e-5)
