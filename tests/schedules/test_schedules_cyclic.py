"""Cyclic, one-cycle (with momentum twins) and warmup-cosine schedules vs torch.

Same harness as ``test_schedules.py``: torch's real schedulers stepped on a dummy
SGD/Adam optimizer, compared eagerly, under jit and under vmap at ``rtol=1e-6``;
plus long horizons against float64 closed forms.
"""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from test_schedules import RTOL, _check, _torch_run, _values

from jtoolkit import schedules as S

CYCLIC = [
    dict(base_lr=0.01, max_lr=0.1, step_size_up=2.5, step_size_down=0.5),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=3),
    dict(
        base_lr=0.01, max_lr=0.1, step_size_up=2, step_size_down=4, mode="triangular2"
    ),
    dict(base_lr=0.001, max_lr=0.1, step_size_up=5, mode="exp_range", gamma=0.9),
    dict(
        base_lr=0.0,
        max_lr=1.0,
        step_size_up=4,
        step_size_down=1,
        mode="exp_range",
        gamma=0.99,
        base_momentum=0.7,
        max_momentum=0.99,
    ),
    dict(base_lr=0.02, max_lr=0.2, step_size_up=3, scale_fn=lambda x: 1.0 / x),
    dict(
        base_lr=0.02,
        max_lr=0.2,
        step_size_up=3,
        scale_fn=lambda x: 1.0 / (1.0 + x),
        scale_mode="iterations",
    ),
]


@pytest.mark.parametrize(
    "kw,optimizer",
    [(kw, "sgd") for kw in CYCLIC] + [(CYCLIC[1], "adam"), (CYCLIC[4], "adam")],
)
def test_cyclic_lr_and_momentum(torch, kw, optimizer):
    build = lambda o: torch.optim.lr_scheduler.CyclicLR(o, **kw)  # noqa: E731
    want_lr, want_mom = _torch_run(torch, build, 45, 0.5, optimizer)
    kw = dict(kw)
    momenta = {k: kw.pop(k) for k in ("base_momentum", "max_momentum") if k in kw}
    _check(S.cyclic_lr(**kw), want_lr)
    kw.pop("base_lr"), kw.pop("max_lr")
    _check(S.cyclic_momentum(**kw, **momenta), want_mom)


def test_cyclic_lr_seed_numbers():
    """torch-semantics §6: triangular2 and exp_range sequences."""
    tri2 = _values(S.cyclic_lr(0.01, 0.1, 3, mode="triangular2"), 14)
    np.testing.assert_allclose(
        tri2[6:], [0.01, 0.025, 0.04, 0.055, 0.04, 0.025, 0.01, 0.0175], rtol=1e-6
    )
    exp = _values(S.cyclic_lr(0.01, 0.1, 3, mode="exp_range", gamma=0.9), 4)
    np.testing.assert_allclose(exp, [0.01, 0.037, 0.0586, 0.07561], rtol=1e-6)


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


def _bolts_reference(torch):
    """Lightning-Bolts' LinearWarmupCosineAnnealingLR stepping rule, restated in torch.

    Warmup adds ``(base - start) / (warmup - 1)`` per step from ``start`` (the base
    is reached one step before ``warmup`` and held), then the chainable cosine
    ratio, with the same restart branch as torch's CosineAnnealingLR.
    """

    class Reference(torch.optim.lr_scheduler.LRScheduler):
        def __init__(self, optimizer, warmup, last, start=0.0, eta_min=0.0):
            self.warmup, self.last, self.start, self.eta_min = (
                warmup,
                last,
                start,
                eta_min,
            )
            super().__init__(optimizer)

        def get_lr(self):
            e, span, out = self.last_epoch, self.last - self.warmup, []
            for base, group in zip(
                self.base_lrs, self.optimizer.param_groups, strict=True
            ):
                now = group["lr"]
                if e == 0:
                    out.append(self.start)
                elif e < self.warmup:
                    out.append(now + (base - self.start) / (self.warmup - 1))
                elif e == self.warmup:
                    out.append(base)
                elif (e - 1 - self.last) % (2 * span) == 0:
                    bump = (base - self.eta_min) * (1 - math.cos(math.pi / span)) / 2
                    out.append(now + bump)
                else:
                    ratio = (1 + math.cos(math.pi * (e - self.warmup) / span)) / (
                        1 + math.cos(math.pi * (e - self.warmup - 1) / span)
                    )
                    out.append(ratio * (now - self.eta_min) + self.eta_min)
            return out

    return Reference


@pytest.mark.parametrize(
    "lr,warmup,last,start,eta_min",
    [
        (0.1, 5, 20, 1e-4, 1e-5),
        (1.0, 1, 6, 0.0, 0.0),
        (0.02, 0, 8, 0.01, 0.001),
        (0.5, 3, 10, 0.0, 0.0),
        (0.01, 2, 3, 0.001, 0.0),
    ],
)
def test_linear_warmup_cosine_annealing(torch, lr, warmup, last, start, eta_min):
    ref = _bolts_reference(torch)
    build = lambda o: ref(o, warmup, last, start, eta_min)  # noqa: E731
    want, _ = _torch_run(torch, build, 3 * last + 2, lr)
    _check(S.linear_warmup_cosine_annealing(lr, warmup, last, start, eta_min), want)


def test_linear_warmup_cosine_annealing_tutorial():
    """The tutorial's last snippet: 5 warmup epochs of 100, start 1e-4, eta_min 1e-5."""
    schedule = S.linear_warmup_cosine_annealing(0.1, 5, 100, 0.0001, 0.00001)
    values = _values(schedule, 101)
    np.testing.assert_allclose(
        values[[0, 4, 5, 100]], [1e-4, 0.1, 0.1, 1e-5], rtol=1e-6
    )
    assert bool(jnp.all(jnp.diff(values[5:]) <= 0))


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
