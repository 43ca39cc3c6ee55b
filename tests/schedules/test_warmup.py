"""Tests of ``jtoolkit/_src/schedules/warmup.py`` (``linear_warmup_cosine_annealing``).

Moved from test_schedules_cyclic.py when the tests were laid out to mirror the code;
that file's notes:

Cyclic, one-cycle (with momentum twins) and warmup-cosine schedules vs torch.

Same harness (``_harness.py``): torch's real schedulers stepped on a dummy
SGD/Adam optimizer, compared eagerly, under jit and under vmap at ``rtol=1e-6``;
plus long horizons against float64 closed forms.
"""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import schedules as S
from tests.schedules._harness import _check, _torch_run, _values


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
