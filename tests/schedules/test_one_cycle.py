"""Tests of ``jtoolkit/_src/schedules/one_cycle.py`` (``one_cycle_lr``,
``one_cycle_momentum``).

Moved from test_schedules_cyclic.py, test_schedules_more.py when the tests were laid out
to mirror the code; those files' notes:

test_schedules_cyclic.py:
Cyclic, one-cycle (with momentum twins) and warmup-cosine schedules vs torch.

Same harness (``_harness.py``): torch's real schedulers stepped on a dummy
SGD/Adam optimizer, compared eagerly, under jit and under vmap at ``rtol=1e-6``;
plus long horizons against float64 closed forms.

test_schedules_more.py:
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
from tests.schedules._harness import (
    RTOL,
    SHORT_COUNTS,
    _check,
    _check_short,
    _torch_lrs,
    _torch_run,
    _values,
)

ONE_CYCLE = [
    dict(max_lr=0.1, total_steps=20),
    dict(max_lr=0.1, epochs=3, steps_per_epoch=7, anneal_strategy="linear"),
    dict(max_lr=0.05, total_steps=25, pct_start=0.4, three_phase=True),
    dict(
        max_lr=1.0,
        total_steps=30,
        pct_start=0.25,
        div_factor=10.0,
        final_div_factor=100.0,
        anneal_strategy="linear",
        three_phase=True,
        base_momentum=0.8,
        max_momentum=0.9,
    ),
    dict(max_lr=0.3, total_steps=7, pct_start=0.35),
    dict(max_lr=0.3, total_steps=10, pct_start=0.0),
]


@pytest.mark.parametrize(
    "kw,optimizer",
    [(kw, "sgd") for kw in ONE_CYCLE]
    + [(ONE_CYCLE[0], "adam"), (ONE_CYCLE[3], "adam")],
)
def test_one_cycle_lr_and_momentum(torch, kw, optimizer):
    build = lambda o: torch.optim.lr_scheduler.OneCycleLR(o, **kw)  # noqa: E731
    kw = dict(kw)
    total = kw.get("total_steps") or kw["epochs"] * kw["steps_per_epoch"]
    want_lr, want_mom = _torch_run(torch, build, total, 0.5, optimizer)
    momenta = {k: kw.pop(k) for k in ("base_momentum", "max_momentum") if k in kw}
    lr = S.one_cycle_lr(**kw)
    _check(lr, want_lr)
    for k in ("max_lr", "div_factor", "final_div_factor"):
        kw.pop(k, None)
    momentum = S.one_cycle_momentum(**kw, **momenta)
    _check(momentum, want_mom)
    # torch extrapolates at count total and raises after; jtoolkit holds the last
    # value torch uses (count total - 1)
    past = jnp.arange(total - 1, total + 5)
    np.testing.assert_allclose(lr(past), want_lr[total - 1], rtol=RTOL)
    np.testing.assert_allclose(momentum(past), want_mom[total - 1], rtol=RTOL)


def test_one_cycle_lr_seed_numbers():
    """torch-semantics §6: peak at step 5 (optax peaks at 6), min_lr at 19."""
    values = _values(S.one_cycle_lr(0.1, total_steps=20), 20)
    assert int(jnp.argmax(values)) == 5
    np.testing.assert_allclose(
        values[[0, 1, 5, 18, 19]], [0.004, 0.0131672, 0.1, 0.001254, 4e-07], rtol=1e-5
    )


@pytest.mark.parametrize("strategy", ["linear", "cos"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_holds_its_final_value(torch, strategy, three_phase):
    """Past total_steps - 1 (the last lr torch uses) the lr neither goes negative
    (linear) nor rises (cos): it holds torch's final value."""
    total = 20
    kw = dict(total_steps=total, anneal_strategy=strategy, three_phase=three_phase)
    build = lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.1, **kw)  # noqa: E731
    want = _torch_lrs(torch, build, total, 0.1)
    schedule = S.one_cycle_lr(0.1, **kw)
    _check_short(schedule, want)
    past = schedule(jnp.arange(total - 1, total + 50))
    np.testing.assert_allclose(past, want[-1], rtol=RTOL)
    assert float(jnp.min(schedule(SHORT_COUNTS))) > 0
    momentum = S.one_cycle_momentum(**kw)
    np.testing.assert_allclose(momentum(jnp.arange(total, total + 5)), 0.95, rtol=1e-6)


@pytest.mark.parametrize("strategy", ["linear", "cos"])
def test_one_cycle_pct_start_one_is_a_pure_warmup(torch, strategy):
    """pct_start=1.0: torch is defined up to total_steps - 1 (then divides by 0)."""
    kw = dict(total_steps=10, pct_start=1.0, anneal_strategy=strategy)
    build = lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.1, **kw)  # noqa: E731
    want = _torch_lrs(torch, build, 10, 0.1)
    schedule = S.one_cycle_lr(0.1, **kw)
    _check_short(schedule, want)
    np.testing.assert_allclose(schedule(jnp.arange(9, 40)), 0.1, rtol=RTOL)
    assert np.all(np.isfinite(np.asarray(schedule(SHORT_COUNTS))))
