"""Tests of ``jtoolkit/_src/optim/rprop.py`` (``rprop``).

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

import numpy as np

from jtoolkit import optim
from tests.optim._harness import (
    max_err,
    run_mlp_jax,
    run_mlp_torch,
)


def test_rprop_lr_only_fills_the_first_step_sizes(torch):
    """torch reads Rprop's lr once: a later group['lr'] write changes nothing."""
    kwargs = dict(lr=0.01)
    a, _ = run_mlp_torch(torch, "rprop", kwargs, torch.float32, lr_at={5: 1.0})
    b, _ = run_mlp_torch(torch, "rprop", kwargs, torch.float32)
    assert max_err(a, b) == 0.0
    c, _ = run_mlp_jax(optim.rprop(**kwargs), lr_at={5: 1.0})
    d, _ = run_mlp_jax(optim.rprop(**kwargs))
    assert max_err(c, {k: np.asarray(v) for k, v in d.items()}) == 0.0
