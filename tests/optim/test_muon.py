"""Tests of ``jtoolkit/_src/optim/muon.py`` (``muon``, ``newton_schulz``).

Moved from test_optim_more.py when the tests were laid out to mirror the code; that
file's notes:

ASGD, Rprop, Adafactor, Muon, L-BFGS and Adam(decoupled_weight_decay) vs torch.

Harness: an 8 -> 16 (tanh) -> 4 MLP with MSE on a fixed batch of 32; each framework
computes its own gradients, so they change along the trajectory. Truth is torch in
float64 (same float32 start and data); the tolerance is derived, not tuned: after
``STEPS`` steps our float32 error must be within ``FACTOR`` x torch float32's own
error plus ``FLOOR`` (a few float32 ulps of parameters of size ~1), so it does not
depend on this CPU's rounding. Adafactor's default ``eps1`` is the parameter dtype's
machine eps (different in float64), so parity runs pass ``eps1`` explicitly. Muon's
Newton-Schulz runs in bfloat16 in both frameworks and is checked bit for bit.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import optim
from tests.optim._harness import (
    assert_derived,
)

MUON = ["w1", "w2"]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lr=0.02),
        dict(lr=0.02, nesterov=False, weight_decay=0.0, momentum=0.9),
        dict(lr=0.02, adjust_lr_fn="match_rms_adamw", ns_steps=3),
    ],
    ids=str,
)
def test_muon_parity_with_torch(torch, kwargs):
    assert_derived(torch, "muon", optim.muon(**kwargs), kwargs, only=MUON)


def test_newton_schulz_is_bitwise_torch(torch, rng):
    from torch.optim._muon import _zeropower_via_newtonschulz

    from jtoolkit._src.optim.muon import newton_schulz

    coeffs = (3.4445, -4.775, 2.0315)
    for shape in [(6, 4), (4, 6), (5, 5)]:
        g = rng.normal(size=shape).astype(np.float32)
        want = _zeropower_via_newtonschulz(torch.tensor(g), coeffs, 5, 1e-7)
        got = newton_schulz(jnp.asarray(g), coeffs, 5, 1e-7)
        assert got.dtype == jnp.bfloat16
        np.testing.assert_array_equal(
            np.asarray(got.astype(jnp.float32)), want.float().numpy()
        )


def test_muon_rejects_non_matrix_params(torch):
    with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
        torch.optim.Muon([torch.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
        optim.muon().init({"b": jnp.zeros(3)})


def test_muon_step_time_checks_raise_at_construction(torch):
    """torch raises these inside its first step(); the type and message agree."""
    p = torch.zeros(2, 2, requires_grad=True)
    for kwargs, match in [
        (dict(ns_steps=100), "Number of steps must be less than 100"),
        (dict(ns_coefficients=(1.0, 2.0)), "exactly 3 values"),
    ]:
        opt = torch.optim.Muon([p], **kwargs)
        p.grad = torch.ones(2, 2)
        with pytest.raises(ValueError, match=match):
            opt.step()
        with pytest.raises(ValueError, match=match):
            optim.muon(**kwargs)
