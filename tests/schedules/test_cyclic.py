"""Tests of ``jtoolkit/_src/schedules/cyclic.py`` (``cyclic_lr``, ``cyclic_momentum``).

Moved from test_schedules_cyclic.py when the tests were laid out to mirror the code;
that file's notes:

Cyclic, one-cycle (with momentum twins) and warmup-cosine schedules vs torch.

Same harness (``_harness.py``): torch's real schedulers stepped on a dummy
SGD/Adam optimizer, compared eagerly, under jit and under vmap at ``rtol=1e-6``;
plus long horizons against float64 closed forms.
"""

import numpy as np
import pytest

from jtoolkit import schedules as S
from tests.schedules._harness import _check, _torch_run, _values

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
