"""Tests of ``jtoolkit/_src/schedules/multiplicative.py`` (``multiplicative_lr``).

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

import jax
import jax.numpy as jnp

from jtoolkit import schedules as S
from tests.schedules._harness import _check_short, _torch_lrs


def test_multiplicative_lr(torch):
    n = 60
    build = lambda o: torch.optim.lr_scheduler.MultiplicativeLR(  # noqa: E731
        o, lambda k: 0.95 if k % 3 else 1.1
    )
    want = _torch_lrs(torch, build, n, 0.1)
    schedule = S.multiplicative_lr(0.1, lambda k: jnp.where(k % 3 == 0, 1.1, 0.95))
    _check_short(schedule, want, rtol=n * 2.0**-24 + 1e-6)


def test_multiplicative_lr_scalar_and_zero_counts():
    schedule = S.multiplicative_lr(0.5, lambda k: 0.5)
    assert float(schedule(0)) == 0.5
    assert float(jax.jit(schedule)(3)) == 0.0625
    assert schedule(jnp.zeros((2, 3), jnp.int32)).shape == (2, 3)
