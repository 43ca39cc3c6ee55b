"""One parity table for ASGD, Rprop, Adafactor (``asgd.py``, ``rprop.py``,
``adafactor.py``) and Adam's newer flags, plus their shared validation and defaults.

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
import pytest

from jtoolkit import optim
from tests.optim._harness import (
    TORCH_OPTIMIZERS,
    assert_derived,
    max_err,
    run_mlp_jax,
)

CASES = [
    ("asgd", dict(lr=0.05)),
    ("asgd", dict(lr=0.05, lambd=1e-2, alpha=0.5, t0=5, weight_decay=0.1)),
    ("asgd", dict(lr=0.05, maximize=True)),
    ("rprop", dict(lr=0.01)),
    ("rprop", dict(lr=0.02, etas=(0.3, 1.5), step_sizes=(1e-4, 0.05))),
    ("rprop", dict(lr=0.01, maximize=True)),
    ("adafactor", dict(lr=0.05, eps=(1e-7, 1e-3))),
    ("adafactor", dict(lr=0.5, beta2_decay=-0.5, eps=(1e-6, 1e-2), d=2.0)),
    ("adafactor", dict(lr=0.05, eps=(1e-7, 1e-3), weight_decay=0.2, maximize=True)),
    ("adam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
    ("adam", dict(lr=1e-2, weight_decay=0.1, amsgrad=True, maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=lambda v: str(v))
def test_parity_with_torch(torch, name, kwargs):
    tx = getattr(optim, name)(**kwargs)
    assert_derived(torch, name, tx, kwargs)


def test_adam_decoupled_is_adamw(torch):
    """torch 2.13: Adam(decoupled_weight_decay=True) is AdamW, and so is ours."""
    kw = dict(lr=1e-2, weight_decay=0.3)
    a, _ = run_mlp_jax(optim.adam(**kw, decoupled_weight_decay=True))
    b, _ = run_mlp_jax(optim.adamw(**kw))
    assert max_err(a, {k: np.asarray(v) for k, v in b.items()}) == 0.0


BAD = [
    ("asgd", dict(lr=-1.0), ValueError, "Invalid learning rate: -1.0"),
    ("asgd", dict(weight_decay=-0.1), ValueError, "Invalid weight_decay value"),
    ("rprop", dict(lr=-1.0), ValueError, "Invalid learning rate: -1.0"),
    ("rprop", dict(etas=(1.5, 1.2)), ValueError, "Invalid eta values: 1.5, 1.2"),
    ("rprop", dict(etas=(0.5, 0.9)), ValueError, "Invalid eta values"),
    ("adafactor", dict(lr=-1.0), ValueError, "Learning rate should be >= 0"),
    ("adafactor", dict(beta2_decay=0.5), ValueError, "beta2_decay should be <= 0"),
    ("adafactor", dict(eps=(-1.0, 1e-3)), ValueError, "epsilon1 should be >= 0"),
    ("adafactor", dict(eps=(None, -1.0)), ValueError, "epsilon2 should be >= 0"),
    ("adafactor", dict(d=0.5), ValueError, "Clipping threshold d should be >= 1"),
    ("adafactor", dict(weight_decay=-1.0), ValueError, "weight_decay should be"),
    ("muon", dict(lr=-1.0), ValueError, "Learning rate should be >= 0"),
    ("muon", dict(momentum=-1.0), ValueError, "momentum should be >= 0"),
    ("muon", dict(weight_decay=-1.0), ValueError, "weight decay should be >= 0"),
    ("muon", dict(adjust_lr_fn="x"), ValueError, "Adjust learning rate function x"),
]


@pytest.mark.parametrize("name,kwargs,exc,match", BAD, ids=lambda v: str(v))
def test_validation_matches_torch(torch, name, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        getattr(torch.optim, TORCH_OPTIMIZERS[name])([torch.zeros(2, 2)], **kwargs)
    with pytest.raises(exc, match=match):
        getattr(optim, name)(**kwargs)


TORCH_CLASSES = {
    "sgd": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "adadelta": "Adadelta",
    "adamax": "Adamax",
    "nadam": "NAdam",
    "radam": "RAdam",
    "asgd": "ASGD",
    "rprop": "Rprop",
    "adafactor": "Adafactor",
    "muon": "Muon",
    "lbfgs": "LBFGS",
}


@pytest.mark.parametrize("name", sorted(TORCH_CLASSES))
def test_flags_and_defaults_follow_torch(torch, name):
    """Every torch flag we mirror exists here, with torch's default value."""
    import inspect

    theirs = inspect.signature(getattr(torch.optim, TORCH_CLASSES[name])).parameters
    ours = inspect.signature(getattr(optim, name)).parameters
    for flag in ("maximize", "decoupled_weight_decay"):
        assert (flag in theirs) == (flag in ours), flag
    for arg, param in ours.items():
        if arg in theirs:
            assert param.default == theirs[arg].default, arg
