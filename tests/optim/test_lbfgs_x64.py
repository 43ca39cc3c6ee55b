"""L-BFGS under jax_enable_x64: float64 parameters, torch's float64 trajectory.

The lr torch uses is the Python float given (``0.8``), not float32's
``0.800000011920929``: that moves these weights by 4e-7..2e-5 relative,
the tolerances here (1e-10) by far.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import optim


def _problem():
    rng = np.random.default_rng(1)
    return rng.normal(size=(4, 6)), rng.normal(size=(16, 6)), rng.normal(size=(16, 4))


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_float64_lbfgs_follows_torch_float64(torch, line_search_fn):
    kwargs = dict(lr=0.8, max_iter=4, history_size=3, line_search_fn=line_search_fn)
    w0, x, y = _problem()
    tw, tx, ty = (torch.tensor(a, dtype=torch.float64) for a in (w0, x, y))
    tw.requires_grad_(True)
    topt = torch.optim.LBFGS([tw], **kwargs)

    def closure():
        topt.zero_grad()
        loss = torch.tanh(tx @ tw.T).sub(ty).pow(2).mean()
        loss.backward()
        return loss

    t_losses = [float(topt.step(closure).detach()) for _ in range(2)]
    with jax.enable_x64(True):
        opt = optim.lbfgs(**kwargs)
        w = jnp.asarray(w0)
        state = opt.init(w)
        lr = optim.current_lr(state)
        assert lr.dtype == jnp.float64 and float(lr) == 0.8
        jx, jy = jnp.asarray(x), jnp.asarray(y)

        def loss_fn(w):
            return jnp.mean((jnp.tanh(jx @ w.T) - jy) ** 2)

        losses = []
        for _ in range(2):
            w, state = opt.step(loss_fn, w, state)
            losses.append(state.loss)
        assert w.dtype == jnp.float64
    np.testing.assert_allclose(losses, t_losses, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(w), tw.detach().numpy(), rtol=1e-10)
    assert state.func_evals == topt.state[tw]["func_evals"]
