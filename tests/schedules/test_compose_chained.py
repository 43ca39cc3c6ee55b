"""chained_scheduler written as torch users write ChainedScheduler gives torch's lr."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import schedules as S


def _torch_chain(torch, lr, makers, steps=8):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    chain = torch.optim.lr_scheduler.ChainedScheduler([m(opt) for m in makers])
    out = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step()
        chain.step()
        out.append(opt.param_groups[0]["lr"])
    return np.asarray(out)


@pytest.mark.parametrize("lr", [0.1, 0.5, 2.0])
def test_same_lr_everywhere_gives_torchs_values_not_lr_squared(torch, lr):
    L = torch.optim.lr_scheduler
    theirs = _torch_chain(
        torch,
        lr,
        [
            lambda o: L.StepLR(o, step_size=3, gamma=0.5),
            lambda o: L.ExponentialLR(o, gamma=0.9),
            lambda o: L.ConstantLR(o, factor=0.5, total_iters=2),
        ],
    )
    ours = S.chained_scheduler(
        [
            S.step_lr(lr, step_size=3, gamma=0.5),
            S.exponential_lr(lr, gamma=0.9),
            S.constant_lr(lr, factor=0.5, total_iters=2),
        ]
    )(jnp.arange(9))
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=1e-6)


def test_factor_style_and_base_lr_still_work():
    lr = 0.1
    factor_style = S.chained_scheduler(
        [S.step_lr(lr, 2, 0.5), S.exponential_lr(1.0, 0.9)]
    )
    torch_style = S.chained_scheduler(
        [S.step_lr(lr, 2, 0.5), S.exponential_lr(lr, 0.9)]
    )
    explicit = S.chained_scheduler(
        [S.step_lr(lr, 2, 0.5), lambda c: S.exponential_lr(lr, 0.9)(c)], base_lr=lr
    )
    t = jnp.arange(6)
    want = lr * 0.5 ** (np.arange(6) // 2) * 0.9 ** np.arange(6)
    for schedule in (factor_style, torch_style, explicit):
        np.testing.assert_allclose(np.asarray(schedule(t)), want, rtol=1e-6)
