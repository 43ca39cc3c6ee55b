"""Tests of ``jtoolkit/_src/optim/adafactor.py`` (``adafactor``).

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

from jtoolkit import optim
from tests.optim._harness import (
    max_err,
    run_mlp_jax,
    run_mlp_torch,
)


def test_adafactor_default_eps_float32(torch):
    """eps1=None means finfo(param dtype).eps: compare with torch float32 directly."""
    kwargs = dict(lr=0.05)
    want, _ = run_mlp_torch(torch, "adafactor", kwargs, torch.float32)
    got, _ = run_mlp_jax(optim.adafactor(**kwargs))
    assert max_err(got, want) <= 1e-5
