"""Tests of ``jtoolkit/_src/optim/lbfgs.py`` (``LBFGS``, ``lbfgs``).

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

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import optim
from tests.optim._harness import (
    FACTOR,
    FLOOR,
    max_err,
    mlp_jax_loss,
    mlp_problem,
    mlp_torch_loss,
)

# --- L-BFGS ----------------------------------------------------------------------


def lbfgs_torch(torch, kwargs, dtype, steps):
    params, (x, y) = mlp_problem(1)
    tp = {
        k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in params.items()
    }
    opt = torch.optim.LBFGS([tp[k] for k in sorted(tp)], **kwargs)
    tx, ty = torch.tensor(x, dtype=dtype), torch.tensor(y, dtype=dtype)

    def closure():
        opt.zero_grad()
        loss = mlp_torch_loss(tp, tx, ty)
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(steps)]
    state = opt.state[tp[sorted(tp)[0]]]
    return {k: v.detach().numpy() for k, v in tp.items()}, losses, state


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lr=0.1, max_iter=5, history_size=4),
        dict(lr=1, max_iter=5, history_size=4, line_search_fn="strong_wolfe"),
        dict(lr=0.5, max_iter=4, max_eval=6, history_size=3),
    ],
    ids=str,
)
def test_lbfgs_parity_with_torch(torch, kwargs):
    steps = 4
    truth, t_losses, t_state = lbfgs_torch(torch, kwargs, torch.float64, steps)
    t32, _, _ = lbfgs_torch(torch, kwargs, torch.float32, steps)
    params, (x, y) = mlp_problem(1)
    opt = optim.lbfgs(**kwargs)
    p = jax.device_put(params)
    state = opt.init(p)
    losses = []

    def loss_fn(q):
        return mlp_jax_loss(q, x, y)

    for _ in range(steps):
        p, state = opt.step(loss_fn, p, state)
        losses.append(state.loss)
    assert len(opt._compiled) == 1
    assert next(iter(opt._compiled.values()))._cache_size() == 1, "recompiled"
    err, ref = max_err(p, truth), max_err(t32, truth)
    assert err <= FACTOR * ref + FLOOR, (err, ref)
    np.testing.assert_allclose(losses, t_losses, rtol=1e-4)
    assert state.func_evals == t_state["func_evals"]
    assert state.n_iter == t_state["n_iter"]
    assert max_err(p, mlp_problem(1)[0]) > 1e-3


def test_lbfgs_set_lr_and_validation(torch):
    opt = optim.lbfgs(lr=0.5)
    state = opt.init({"w": jnp.zeros(2)})
    assert float(optim.current_lr(optim.set_lr(state, 0.25))) == 0.25
    for build, exc, match in [
        (dict(lr=-1.0), ValueError, "Invalid learning rate: -1.0"),
    ]:
        with pytest.raises(exc, match=match):
            torch.optim.LBFGS([torch.zeros(2)], **build)
        with pytest.raises(exc, match=match):
            optim.lbfgs(**build)
    p = torch.full((2,), 2.0, requires_grad=True)
    bad = torch.optim.LBFGS([p], line_search_fn="armijo")

    def closure():
        bad.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        bad.step(closure)
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        optim.lbfgs(line_search_fn="armijo")


def test_lbfgs_set_lr_changes_the_step():
    """A smaller lr after set_lr gives a smaller first step (lr is read per step)."""
    f = lambda q: jnp.sum((q["w"] - 3.0) ** 2)  # noqa: E731
    opt = optim.lbfgs(lr=1.0, max_iter=1)
    p0 = {"w": jnp.zeros(2)}
    p1, _ = opt.step(f, p0, optim.set_lr(opt.init(p0), 0.5))
    p2, _ = opt.step(f, p0, opt.init(p0))
    assert float(p1["w"][0]) == pytest.approx(float(p2["w"][0]) / 2, rel=1e-6)
