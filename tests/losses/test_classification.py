"""Tests of ``jtoolkit/_src/losses/classification.py`` (``binary_cross_entropy``,
``binary_cross_entropy_with_logits``, ``cross_entropy``, ``nll_loss``).

Moved from test_losses.py, test_losses_api.py, test_losses_edge.py when the tests were
laid out to mirror the code; those files' notes:

test_losses.py:
Parity of jtoolkit.losses with torch.nn.functional: values and gradients.

Each case is one loss with one set of options and fixed random float32 inputs. It
runs all of the loss's reductions (for "none", the gradient of ``sum(out * c)`` with a
fixed cotangent ``c``) and is compared with torch 2.13; one kwargs dict drives both
sides. Under ``jax.jit``, each family of cases is compiled as one function (one compile
per family keeps the suite fast) whose inputs are traced, as in a user's jitted train
step; eagerly, one case per loss function is its own test (tests/losses/_harness.py
says why that suffices).

test_losses_api.py:
jtoolkit.losses: bad input, module-style constructors, the tutorial's losses.

test_losses_edge.py:
jtoolkit.losses edge cases: nan/inf, all ignored, kinks, jit, broadcasting.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import losses as L
from tests.losses._harness import (
    F32,
    RTOL,
    T3,
    X,
    _assert_same,
    _grads_both,
    eager_cases,
)

REDUCTIONS = ("mean", "sum", "none")
GRAD_ATOL = 1e-7


@dataclasses.dataclass(frozen=True, eq=False)
class Case:
    name: str  # the same name in jtoolkit.losses and torch.nn.functional
    arrays: tuple  # numpy inputs, positional
    diff: tuple  # positions to differentiate
    opts: dict  # keyword options; numpy arrays become torch tensors on that side
    reductions: tuple = REDUCTIONS
    value_atol: float = 0.0


def _rng(*key) -> np.random.Generator:
    """A generator seeded by the case's key (crc32: stable across processes)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(F32)


def _normal(rng, shape, scale=1.0) -> np.ndarray:
    return rng.normal(0, scale, shape).astype(F32)


def _classes(shape) -> tuple[int, int, tuple]:
    """(class axis, number of classes, class-index target shape) of an input shape."""
    if len(shape) == 1:  # unbatched [C] input, scalar target
        return 0, shape[0], ()
    return 1, shape[1], shape[:1] + shape[2:]


def _targets(rng, shape, num_classes, ignore_index) -> np.ndarray:
    t = rng.integers(0, num_classes, shape).astype(np.int64)
    if ignore_index is not None and t.size > 1:
        t.flat[:: max(1, t.size // 3)] = ignore_index
        t.flat[1] = 0 if ignore_index != 0 else 1  # keep one valid target
    return t


def _class_weight(rng, c) -> np.ndarray:
    return rng.uniform(0.2, 2.0, c).astype(F32)


# ------------------------------------------------------------------ the cases
def _ce_index(shape, weighted, label_smoothing, ignore):
    """ignore: None (no ignored target, default ignore_index) or the ignore_index."""
    rng = _rng("ce", shape, weighted, label_smoothing, ignore)
    _, c, target_shape = _classes(shape)
    opts = {
        "ignore_index": -100 if ignore is None else ignore,
        "label_smoothing": label_smoothing,
    }
    if weighted:
        opts["weight"] = _class_weight(rng, c)
    t = _targets(rng, target_shape, c, ignore)
    return Case("cross_entropy", (_normal(rng, shape, 2.0), t), (0,), opts)


def _ce_prob(shape, weighted, label_smoothing):
    rng = _rng("ce-prob", shape, weighted, label_smoothing)
    axis, c, _ = _classes(shape)
    p = _softmax(_normal(rng, shape, 2.0), axis)
    opts = {"label_smoothing": label_smoothing}
    if weighted:
        opts["weight"] = _class_weight(rng, c)
    return Case("cross_entropy", (_normal(rng, shape, 2.0), p), (0, 1), opts)


def _nll(shape, weighted, ignored):
    rng = _rng("nll", shape, weighted, ignored)
    axis, c, target_shape = _classes(shape)
    x = _normal(rng, shape, 2.0)
    logp = (x - np.log(np.exp(x).sum(axis=axis, keepdims=True))).astype(F32)
    t = _targets(rng, target_shape, c, -100 if ignored else None)
    opts = {"weight": _class_weight(rng, c)} if weighted else {}
    return Case("nll_loss", (logp, t), (0,), opts)


def _bce(shape, weight):
    rng = _rng("bce", shape, weight)
    p = rng.uniform(0.05, 0.95, shape).astype(F32)
    y = rng.uniform(0, 1, shape).astype(F32)
    opts = {}
    if weight is not None:
        w_shape = shape[-1:] if weight == "last" else shape
        opts["weight"] = rng.uniform(0.2, 2.0, w_shape).astype(F32)
    return Case("binary_cross_entropy", (p, y), (0, 1), opts)


def _bce_logits(scale, weighted, pos_weighted):
    rng = _rng("bcel", scale, weighted, pos_weighted)
    z = _normal(rng, (6, 4), scale)
    y = rng.integers(0, 2, (6, 4)).astype(F32)
    opts = {}
    if weighted:
        opts["weight"] = rng.uniform(0.2, 2.0, (6, 1)).astype(F32)
    if pos_weighted:
        opts["pos_weight"] = rng.uniform(0.5, 3.0, (4,)).astype(F32)
    # |z| ~ 100: torch keeps float32 denormals (e.g. 3.6e-41) that XLA flushes to 0.
    atol = 1e-30 if scale > 50 else 0.0
    return Case(
        "binary_cross_entropy_with_logits", (z, y), (0, 1), opts, value_atol=atol
    )


def _regression(name, shape=(6, 4), weighted=False, **opts):
    rng = _rng(name, shape, weighted, tuple(opts.items()))
    x, y = _normal(rng, shape, 2.0), _normal(rng, shape, 2.0)
    if weighted:
        opts["weight"] = rng.uniform(0.2, 2.0, shape).astype(F32)
    return Case(name, (x, y), (0, 1), opts)


def _kl(shape, log_target, zeros):
    rng = _rng("kl", shape, log_target, zeros)
    logq = np.log(_softmax(_normal(rng, shape, 2.0), -1))
    p = _softmax(_normal(rng, shape, 2.0), -1)
    if zeros:  # zero targets contribute 0 (xlogy); d/dtarget is nan there in both
        p.flat[::3] = 0.0
    target = np.log(p) if log_target else p
    diff = (0,) if zeros else (0, 1)
    reductions = (*REDUCTIONS, "batchmean")
    return Case("kl_div", (logq, target), diff, {"log_target": log_target}, reductions)


def _triplet(shape=(6, 4), identical=True, **opts):
    rng = _rng("triplet", shape, tuple(opts.items()))
    a, pos, neg = (_normal(rng, shape) for _ in range(3))
    if identical:  # torch's d = ‖eps‖_p here, optax's sqrt(eps)
        pos[0] = a[0]
    return Case("triplet_margin_loss", (a, pos, neg), (0, 1, 2), opts)


FAMILIES: dict[str, dict[str, Case]] = {
    "cross_entropy_index": {
        # every option value with every rank; the [N, C] case fully crossed
        **{
            f"{shape}-w{w}-ls{ls}-ignore{ig}": _ce_index(shape, w, ls, ig)
            for shape in [(6, 4)]
            for w in (False, True)
            for ls in (0.0, 0.25)
            for ig in (None, -100, 1)
        },
        **{
            f"{shape}-w{w}-ls{ls}-ignore{ig}": _ce_index(shape, w, ls, ig)
            for shape, w, ls, ig in [
                ((3, 4, 2), False, 0.0, None),
                ((3, 4, 2), True, 0.25, -100),
                ((3, 4, 2), True, 0.0, 1),
                ((3, 4, 2), False, 0.25, 2),
                ((4,), False, 0.0, None),
                ((4,), True, 0.25, None),
            ]
        },
    },
    "cross_entropy_probabilities": {
        f"{shape}-w{w}-ls{ls}": _ce_prob(shape, w, ls)
        for shape, w, ls in [
            *[((6, 4), w, ls) for w in (False, True) for ls in (0.0, 0.3)],
            ((3, 4, 2), True, 0.3),
            ((4,), True, 0.3),
        ]
    },
    "nll_loss": {
        f"{shape}-w{w}-ignored{ig}": _nll(shape, w, ig)
        for shape, w, ig in [
            *[((6, 4), w, ig) for w in (False, True) for ig in (False, True)],
            ((3, 4, 2), True, True),
            ((4,), True, False),
        ]
    },
    "binary_cross_entropy": {
        f"{shape}-weight{w}": _bce(shape, w)
        for shape, w in [
            ((6, 4), None),
            ((6, 4), "last"),
            ((6, 4), "full"),
            ((4,), "full"),
        ]
    },
    "binary_cross_entropy_with_logits": {
        f"scale{s}-w{w}-pw{pw}": _bce_logits(s, w, pw)
        for s, w, pw in [
            (2.0, False, False),
            (2.0, True, False),
            (2.0, False, True),
            (100.0, True, True),
        ]
    },
    "regression": {
        "mse": _regression("mse_loss"),
        "mse-weight": _regression("mse_loss", weighted=True),
        "mse-1d": _regression("mse_loss", shape=(4,)),
        "l1": _regression("l1_loss"),
        "l1-weight": _regression("l1_loss", weighted=True),
        "l1-1d-weight": _regression("l1_loss", shape=(4,), weighted=True),
        "huber-0.5": _regression("huber_loss", delta=0.5),
        "huber-1-weight": _regression("huber_loss", weighted=True, delta=1.0),
        "huber-2": _regression("huber_loss", delta=2.0),
        "smooth_l1-0": _regression("smooth_l1_loss", beta=0.0),
        "smooth_l1-0.5": _regression("smooth_l1_loss", beta=0.5),
        "smooth_l1-2": _regression("smooth_l1_loss", beta=2.0),
    },
    "kl_div": {
        f"{shape}-log{lt}-zeros{z}": _kl(shape, lt, z)
        for shape, lt, z in [
            ((6, 4), False, True),
            ((4,), False, True),
            ((6, 4), False, False),
            ((6, 4), True, False),
        ]
    },
    "triplet_margin_loss": {
        **{
            f"p{p}-swap{swap}": _triplet(margin=1.5, p=p, swap=swap)
            for p, swap in [
                (1, False),
                (2, False),
                (3, False),
                (1.5, True),
                (float("inf"), False),
                (2, True),
            ]
        },
        "1d": _triplet((4,), identical=False, margin=2.0, eps=1e-3),
        "3d": _triplet((2, 3, 4), margin=2.0, eps=1e-3),
    },
}


# ------------------------------------------------------------------ the harness
def _cotangent(shape) -> np.ndarray:
    return np.linspace(0.5, 1.5, int(np.prod(shape)), dtype=F32).reshape(shape)


def _jax_side(case: Case, arrays) -> dict:
    """{reduction: (output, [gradients of the diff positions])} from jtoolkit."""
    fn = functools.partial(getattr(L, case.name), **case.opts)

    def scalar(diff_values, reduction):
        args = list(arrays)
        for i, v in zip(case.diff, diff_values, strict=True):
            args[i] = v
        out = fn(*args, reduction=reduction)
        s = jnp.sum(out * _cotangent(out.shape)) if reduction == "none" else out
        return s, out

    grad = jax.grad(scalar, has_aux=True)
    diff_values = [arrays[i] for i in case.diff]
    return {r: grad(diff_values, r)[::-1] for r in case.reductions}


@functools.cache
def _torch_side(family: str, case_id: str) -> dict:
    import torch
    import torch.nn.functional as F

    case = FAMILIES[family][case_id]
    opts = {
        k: torch.tensor(v) if isinstance(v, np.ndarray) else v
        for k, v in case.opts.items()
    }
    results = {}
    for r in case.reductions:
        tensors = [torch.tensor(a) for a in case.arrays]
        for i in case.diff:
            tensors[i].requires_grad_(True)
        with warnings.catch_warnings():
            # torch's own notice that its kl_div "mean" divides by all elements
            warnings.filterwarnings("ignore", "reduction: 'mean' divides", UserWarning)
            out = getattr(F, case.name)(*tensors, reduction=r, **opts)
        s = (out * torch.tensor(_cotangent(tuple(out.shape)))).sum()
        s = s if r == "none" else out
        grads = torch.autograd.grad(s, [tensors[i] for i in case.diff])
        results[r] = (out.detach().numpy(), [g.numpy() for g in grads])
    return results


def _compare(case: Case, got: dict, expected: dict, where: str) -> None:
    for r in case.reductions:
        out, grads = got[r]
        want_out, want_grads = expected[r]
        msg = f"{where} reduction={r}"
        assert out.shape == want_out.shape, msg
        np.testing.assert_allclose(
            out, want_out, rtol=RTOL, atol=case.value_atol, err_msg=msg
        )
        for g, wg in zip(grads, want_grads, strict=True):
            np.testing.assert_allclose(g, wg, rtol=RTOL, atol=GRAD_ATOL, err_msg=msg)


# every case runs under jit, one per function eagerly: tests/losses/_harness.py
EAGER_CASES = eager_cases(FAMILIES)


@pytest.mark.parametrize(
    ("family", "case_id"), EAGER_CASES, ids=[f"{f}[{c}]" for f, c in EAGER_CASES]
)
def test_parity_eager(torch, family, case_id):
    case = FAMILIES[family][case_id]
    arrays = tuple(jnp.asarray(a) for a in case.arrays)
    got = _jax_side(case, arrays)
    _compare(case, got, _torch_side(family, case_id), f"{family}[{case_id}] eager")


@pytest.mark.parametrize("family", list(FAMILIES))
def test_parity_jit(torch, family):
    cases = FAMILIES[family]

    @jax.jit
    def run(arrays_by_id):
        return {cid: _jax_side(cases[cid], a) for cid, a in arrays_by_id.items()}

    inputs = {
        cid: tuple(jnp.asarray(a) for a in case.arrays) for cid, case in cases.items()
    }
    got = run(inputs)
    for cid, case in cases.items():
        _compare(case, got[cid], _torch_side(family, cid), f"{family}[{cid}] jit")


def test_class_indices_accept_any_integer_dtype():
    ref = L.cross_entropy(X, T3)
    assert float(L.cross_entropy(X, T3.astype(np.uint8))) == float(ref)  # eagerly
    ce = jax.jit(L.cross_entropy)  # one trace per dtype, not one program per op
    for dtype in (np.int64, np.int32, np.int16, np.uint8):
        assert float(ce(X, T3.astype(dtype))) == float(ref)


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
        eager=not label_smoothing,  # eager == jit: tests/losses/_harness.py
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
        eager=False,  # ran eagerly above; eager == jit: tests/losses/_harness.py
    )
    assert np.isnan(expected[1][0][0]).all() and not expected[1][0][2].any()
    _assert_same(expected, eager, jitted)


def test_cross_entropy_neg_inf_logit_is_finite(torch):
    import torch.nn.functional as F

    x = np.array([[0.5, -np.inf, 1.0], [2.0, 0.0, -np.inf]], F32)
    t = np.array([0, 1])
    expected, eager, jitted = _grads_both(
        torch, L.cross_entropy, F.cross_entropy, [x, t], [0], eager=False
    )
    assert np.isfinite(expected[0])
    _assert_same(expected, eager, jitted)


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
            eager=reduction == "sum",  # eager == jit: tests/losses/_harness.py
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


def test_jit_cannot_raise_on_values_so_bad_values_give_nan():
    x = jnp.zeros((2, 3))
    ce = jax.jit(L.cross_entropy)
    assert np.isnan(ce(x, jnp.array([0, 7])))  # eagerly: TargetOutOfBoundsError
    assert np.isnan(ce(x, jnp.array([-1, 0])))
    assert float(ce(x, jnp.array([-100, 1]))) == pytest.approx(np.log(3))
    bce = jax.jit(L.binary_cross_entropy)
    assert np.isnan(bce(jnp.array([1.5, 0.5]), jnp.array([1.0, 0.0])))


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
