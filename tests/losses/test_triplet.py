"""Tests of ``jtoolkit/_src/losses/triplet.py`` (``triplet_margin_loss``).

Moved from test_losses_edge.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.losses edge cases: nan/inf, all ignored, kinks, jit, broadcasting.
"""

from __future__ import annotations

import numpy as np
import pytest

from jtoolkit import losses as L
from tests.losses._harness import F32, _assert_same, _grads_both


@pytest.mark.parametrize("p", [1, 2, 3])
def test_triplet_zero_distance_gradient_is_zero_as_torch(torch, p):
    """a - pos + eps == 0 exactly: torch's norm has gradient 0 there, JAX's nan."""
    import torch.nn.functional as F

    a = np.zeros((2, 3), F32)
    pos = np.full((2, 3), 1e-6, F32)
    neg = np.random.default_rng(2).normal(size=(2, 3)).astype(F32)
    expected, eager, jitted = _grads_both(
        torch,
        lambda a, pos, neg: L.triplet_margin_loss(a, pos, neg, p=p, margin=4.0),
        lambda a, pos, neg: F.triplet_margin_loss(a, pos, neg, p=p, margin=4.0),
        [a, pos, neg],
        [0, 1, 2],
    )
    assert np.isfinite(eager[1][0]).all()
    _assert_same(expected, eager, jitted)
