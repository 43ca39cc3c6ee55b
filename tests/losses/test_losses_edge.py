"""jtoolkit.losses edge cases: nan/inf, all ignored, kinks, jit, broadcasting."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import losses as L

F32 = np.float32
RTOL = 1e-5


def _grads_both(torch, jfn, tfn, arrays, diff):
    """Value and gradients of a scalar loss from jtoolkit (eager and jit) and torch."""
    tensors = [torch.tensor(a) for a in arrays]
    for i in diff:
        tensors[i].requires_grad_(True)
    t_out = tfn(*tensors)
    t_grads = torch.autograd.grad(t_out, [tensors[i] for i in diff])
    expected = (t_out.detach().numpy(), [g.numpy() for g in t_grads])

    def value_and_grads(*args):
        def f(diff_values):
            full = list(args)
            for i, v in zip(diff, diff_values, strict=True):
                full[i] = v
            return jfn(*full)

        return jax.value_and_grad(f)([args[i] for i in diff])

    jax_arrays = [jnp.asarray(a) for a in arrays]
    eager = value_and_grads(*jax_arrays)
    jitted = jax.jit(value_and_grads)(*jax_arrays)
    return expected, eager, jitted


def _assert_same(expected, *got, atol=0.0):
    want_value, want_grads = expected
    for value, grads in got:
        np.testing.assert_allclose(value, want_value, rtol=RTOL, atol=atol)
        for g, w in zip(grads, want_grads, strict=True):
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=atol)


# ------------------------------------------------------------ nan / inf / kinks
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_all_ignored_is_nan_with_zero_gradient(torch, label_smoothing):
    import torch.nn.functional as F

    x = np.random.default_rng(0).normal(size=(3, 4)).astype(F32)
    t = np.full(3, -100, np.int64)
    opts = {"label_smoothing": label_smoothing}
    expected, eager, jitted = _grads_both(
        torch,
        lambda x, t: L.cross_entropy(x, t, **opts),
        lambda x, t: F.cross_entropy(x, t, **opts),
        [x, t],
        [0],
    )
    assert np.isnan(expected[0]) and np.isnan(eager[0]) and np.isnan(jitted[0])
    assert not np.asarray(eager[1][0]).any()  # torch: exactly zero gradient
    _assert_same(expected, eager, jitted)


def test_cross_entropy_zero_weight_sum_matches_torch(torch):
    """Weights summing to 0: nan loss, nan gradient rows, 0 for ignored rows."""
    import torch.nn.functional as F

    x = np.random.default_rng(1).normal(size=(3, 4)).astype(F32)
    t = np.array([0, 1, -100])
    w = np.array([0.0, 0.0, 1.0, 1.0], F32)
    expected, eager, jitted = _grads_both(
        torch,
        lambda x, t: L.cross_entropy(x, t, w),
        lambda x, t: F.cross_entropy(x, t, torch.tensor(w)),
        [x, t],
        [0],
    )
    assert np.isnan(expected[1][0][0]).all() and not expected[1][0][2].any()
    _assert_same(expected, eager, jitted)


def test_cross_entropy_neg_inf_logit_is_finite(torch):
    import torch.nn.functional as F

    x = np.array([[0.5, -np.inf, 1.0], [2.0, 0.0, -np.inf]], F32)
    t = np.array([0, 1])
    expected, eager, jitted = _grads_both(
        torch, L.cross_entropy, F.cross_entropy, [x, t], [0]
    )
    assert np.isfinite(expected[0])
    _assert_same(expected, eager, jitted)


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


def test_binary_cross_entropy_at_zero_and_one_matches_torch(torch):
    """log clamped at -100; gradient (p - y) / max(p (1 - p), 1e-12), finite."""
    import torch.nn.functional as F

    p = np.array([0.0, 1.0, 0.0, 1.0, 0.3], F32)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0], F32)
    for reduction in ("sum", "mean"):
        expected, eager, jitted = _grads_both(
            torch,
            lambda p, y, r=reduction: L.binary_cross_entropy(p, y, reduction=r),
            lambda p, y, r=reduction: F.binary_cross_entropy(p, y, reduction=r),
            [p, y],
            [0, 1],  # d/dy is ±inf at p in {0, 1}, in both
        )
        _assert_same(expected, eager, jitted)
    grad_p = jax.grad(lambda p: L.binary_cross_entropy(p, y, reduction="sum"))(p)
    assert np.asarray(grad_p).tolist()[:4] == pytest.approx([-1e12, 1e12, 0.0, 0.0])
    assert float(L.binary_cross_entropy(p[:1], y[:1])) == 100.0


def test_binary_cross_entropy_with_logits_extreme_logits(torch):
    import torch.nn.functional as F

    z = np.array([-1e4, -100.0, -30.0, 30.0, 100.0, 1e4], F32)
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0], F32)
    pw = np.array(3.0, F32)
    expected, eager, jitted = _grads_both(
        torch,
        lambda z, y: L.binary_cross_entropy_with_logits(z, y, pos_weight=pw),
        lambda z, y: F.binary_cross_entropy_with_logits(
            z, y, pos_weight=torch.tensor(pw)
        ),
        [z, y],
        [0, 1],
    )
    assert np.isfinite(eager[0]) and np.isfinite(eager[1][0]).all()
    _assert_same(expected, eager, jitted)


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
    )
    _assert_same(expected, eager, jitted)


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


def test_jit_cannot_raise_on_values_so_bad_values_give_nan():
    x = jnp.zeros((2, 3))
    ce = jax.jit(L.cross_entropy)
    assert np.isnan(ce(x, jnp.array([0, 7])))  # eagerly: TargetOutOfBoundsError
    assert np.isnan(ce(x, jnp.array([-1, 0])))
    assert float(ce(x, jnp.array([-100, 1]))) == pytest.approx(np.log(3))
    bce = jax.jit(L.binary_cross_entropy)
    assert np.isnan(bce(jnp.array([1.5, 0.5]), jnp.array([1.0, 0.0])))


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
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 4)).astype(F32)
    t = rng.integers(0, 4, 6)
    per_example = jax.vmap(L.cross_entropy)(x, t)
    np.testing.assert_allclose(
        per_example, L.cross_entropy(x, t, reduction="none"), rtol=RTOL
    )
    y = rng.normal(size=(6, 4)).astype(F32)
    np.testing.assert_allclose(
        jax.vmap(L.huber_loss)(x, y),
        L.huber_loss(x, y, reduction="none").mean(axis=1),
        rtol=RTOL,
    )


def test_traced_weight_and_label_smoothing_equal_static_ones():
    """Options may also be traced arrays inside a jitted step (e.g. a schedule)."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(6, 4)).astype(F32)
    t = rng.integers(0, 4, 6)
    w = rng.uniform(0.5, 2.0, 4).astype(F32)

    @jax.jit
    def traced(x, t, w, eps):
        return L.cross_entropy(x, t, w, label_smoothing=eps)

    want = L.cross_entropy(x, t, w, label_smoothing=0.2)
    np.testing.assert_allclose(traced(x, t, w, 0.2), want, rtol=RTOL)
    np.testing.assert_allclose(
        traced(x, t, w, 0.0), L.cross_entropy(x, t, w), rtol=RTOL
    )
