"""Tests of ``jtoolkit/_src/losses/regression.py`` (``huber_loss``, ``kl_div``,
``l1_loss``, ``mse_loss``, ``smooth_l1_loss``).

Moved from test_losses_edge.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.losses edge cases: nan/inf, all ignored, kinks, jit, broadcasting.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import losses as L
from tests.losses._harness import F32, RTOL, _assert_same, _grads_both


def test_nan_input_propagates():
    x = jnp.array([[1.0, jnp.nan], [0.0, 1.0]])
    assert np.isnan(L.cross_entropy(x, jnp.array([0, 1])))
    assert np.isnan(L.mse_loss(x, jnp.zeros((2, 2))))
    assert np.isnan(L.huber_loss(x, jnp.zeros((2, 2))))


def test_empty_batch_mean_is_nan_as_torch(torch):
    import torch.nn.functional as F

    empty = np.zeros((0, 3), F32)
    no_targets = np.zeros((0,), np.int64)
    assert np.isnan(
        float(F.cross_entropy(torch.tensor(empty), torch.tensor(no_targets)))
    )
    assert np.isnan(L.cross_entropy(empty, no_targets))
    assert np.isnan(L.mse_loss(empty, empty))
    assert float(L.mse_loss(empty, empty, reduction="sum")) == 0.0


@pytest.mark.parametrize(
    ("name", "opts"),
    [
        ("l1_loss", {}),
        ("smooth_l1_loss", {"beta": 0.0}),
        ("smooth_l1_loss", {"beta": 1.0}),
        ("huber_loss", {"delta": 1.0}),
        ("mse_loss", {}),
    ],
)
def test_regression_kinks_match_torch(torch, name, opts):
    """Gradients at d = 0 (|d|' = 0 in torch) and at |d| = delta/beta."""
    import torch.nn.functional as F

    x = np.array([0.0, 1.0, -1.0, 2.5], F32)
    y = np.array([0.0, 0.0, 0.0, 1.5], F32)
    expected, eager, jitted = _grads_both(
        torch,
        lambda x, y: getattr(L, name)(x, y, **opts),
        lambda x, y: getattr(F, name)(x, y, **opts),
        [x, y],
        [0, 1],
        eager=opts.get("beta") != 1.0,  # one eager run per function (_harness.py)
    )
    _assert_same(expected, eager, jitted)


def test_mse_broadcast_warns_and_broadcasts_like_torch(torch):
    import torch.nn.functional as F

    x = np.arange(4, dtype=F32).reshape(4, 1)
    y = np.arange(4, dtype=F32) * 0.5
    message = r"Using a target size \(\[4\]\) that is different to the input size"
    with pytest.warns(UserWarning, match=message):
        got = L.mse_loss(x, y, reduction="none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's own copy of it
        want = F.mse_loss(torch.tensor(x), torch.tensor(y), reduction="none")
    assert got.shape == (4, 4)
    np.testing.assert_allclose(got, want.numpy(), rtol=RTOL)


def test_kl_div_broadcasts_silently(torch):
    import torch.nn.functional as F

    logq = np.log(np.full((3, 4), 0.25, F32))
    p = np.array([0.1, 0.2, 0.3, 0.4], F32)
    got = L.kl_div(logq, p, reduction="sum")
    want = F.kl_div(torch.tensor(logq), torch.tensor(p), reduction="sum")
    np.testing.assert_allclose(got, want.numpy(), rtol=RTOL)


def test_vmap_over_examples_equals_reduction_none():
    """Jitted: one program per side instead of one per eager op (_harness.py)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 4)).astype(F32)
    t = rng.integers(0, 4, 6)
    per_example = jax.jit(jax.vmap(L.cross_entropy))(x, t)
    np.testing.assert_allclose(
        per_example,
        jax.jit(lambda x, t: L.cross_entropy(x, t, reduction="none"))(x, t),
        rtol=RTOL,
    )
    y = rng.normal(size=(6, 4)).astype(F32)
    np.testing.assert_allclose(
        jax.jit(jax.vmap(L.huber_loss))(x, y),
        jax.jit(lambda x, y: L.huber_loss(x, y, reduction="none").mean(axis=1))(x, y),
        rtol=RTOL,
    )
