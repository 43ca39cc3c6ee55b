"""Tests of ``jtoolkit/_src/losses/custom.py`` (``alpha_mse_l1_loss``, ``custom_loss``,
``multi_task_loss``).

Moved from test_losses_api.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.losses: bad input, module-style constructors, the tutorial's losses.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import losses as L
from tests.losses._harness import F32, RTOL


# ------------------------------------------------------------------ the tutorial
def _tutorial_torch(torch):
    """The tutorial's three custom losses, as its torch code writes them."""
    nn, F = torch.nn, torch.nn.functional

    class CustomLoss(nn.Module):
        def __init__(self, alpha=0.5):
            super().__init__()
            self.alpha = alpha

        def forward(self, pred, target):
            mse = torch.mean((pred - target) ** 2)
            l1 = torch.mean(torch.abs(pred - target))
            return self.alpha * mse + (1 - self.alpha) * l1

    def custom_loss(pred, target, beta=0.3):
        base_loss = F.binary_cross_entropy(pred, target)
        penalty = torch.mean(torch.relu(pred - 0.7)) ** 2
        return base_loss + beta * penalty

    class MultiTaskLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.ce = nn.CrossEntropyLoss()
            self.mse = nn.MSELoss()

        def forward(self, pred_class, pred_reg, target_class, target_reg):
            loss1 = self.ce(pred_class, target_class)
            loss2 = self.mse(pred_reg, target_reg)
            return loss1 + 0.5 * loss2

    return CustomLoss, custom_loss, MultiTaskLoss


def _check_against_torch(torch, jfn, tfn, arrays, diff):
    tensors = [torch.tensor(a) for a in arrays]
    for i in diff:
        tensors[i].requires_grad_(True)
    want = tfn(*tensors)
    want_grads = torch.autograd.grad(want, [tensors[i] for i in diff])

    def f(diff_values):
        args = [jnp.asarray(a) for a in arrays]
        for i, v in zip(diff, diff_values, strict=True):
            args[i] = v
        return jfn(*args)

    for vg in (jax.value_and_grad(f), jax.jit(jax.value_and_grad(f))):
        value, grads = vg([jnp.asarray(arrays[i]) for i in diff])
        np.testing.assert_allclose(value, want.detach().numpy(), rtol=RTOL)
        for g, w in zip(grads, want_grads, strict=True):
            np.testing.assert_allclose(g, w.numpy(), rtol=RTOL, atol=1e-8)


@pytest.mark.parametrize("alpha", [0.5, 0.2])
def test_tutorial_alpha_mse_l1_loss(torch, rng, alpha):
    CustomLoss, _, _ = _tutorial_torch(torch)
    pred, target = (rng.normal(size=(8, 3)).astype(F32) for _ in range(2))
    _check_against_torch(
        torch,
        functools.partial(L.alpha_mse_l1_loss, alpha=alpha),
        CustomLoss(alpha=alpha),
        [pred, target],
        [0, 1],
    )


@pytest.mark.parametrize("beta", [0.3, 2.0])
def test_tutorial_custom_loss(torch, rng, beta):
    _, custom_loss, _ = _tutorial_torch(torch)
    pred = rng.uniform(0.05, 0.95, (8, 1)).astype(F32)  # sigmoid outputs
    target = rng.integers(0, 2, (8, 1)).astype(F32)
    _check_against_torch(
        torch,
        functools.partial(L.custom_loss, beta=beta),
        functools.partial(custom_loss, beta=beta),
        [pred, target],
        [0],
    )


def test_tutorial_multi_task_loss(torch, rng):
    _, _, MultiTaskLoss = _tutorial_torch(torch)
    pred_class = rng.normal(size=(8, 4)).astype(F32)
    pred_reg = rng.normal(size=(8, 2)).astype(F32)
    target_class = rng.integers(0, 4, 8)
    target_reg = rng.normal(size=(8, 2)).astype(F32)
    _check_against_torch(
        torch,
        L.multi_task_loss,
        MultiTaskLoss(),
        [pred_class, pred_reg, target_class, target_reg],
        [0, 1],
    )
