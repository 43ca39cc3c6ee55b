"""Tests of ``jtoolkit/_src/losses/margin.py`` (``hinge_embedding_loss``,
``margin_ranking_loss``, ``multi_margin_loss``, ``multilabel_margin_loss``,
``multilabel_soft_margin_loss``, ``soft_margin_loss``).

Moved from test_losses_more.py when the tests were laid out to mirror the code; that
file's notes:

Parity of the second-wave losses with torch: values, gradients, modules, errors.

Covers poisson/gaussian NLL, the margin/hinge family, cosine embedding and triplet
with a distance function (CTC is in test_ctc.py). Each case is one loss with one
set of options on fixed random float32 inputs, run for every reduction (for
"none", the gradient of ``sum(out * c)`` with a fixed cotangent ``c``) and compared
with torch 2.13 under ``jax.jit`` once per family, and eagerly for one case per
function (tests/losses/_harness.py says why that suffices). Every
element is a short closed formula here, so float32 rtol 1e-5 (gradients also atol
1e-7, as they cross 0).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import losses as L
from tests.losses._harness import F32, RTOL, _normal, _rng, _signs, eager_cases

REDUCTIONS = ("mean", "sum", "none")
GRAD_ATOL = 1e-7


@dataclasses.dataclass(frozen=True, eq=False)
class Case:
    name: str  # the same name in jtoolkit.losses and torch.nn.functional
    arrays: tuple  # numpy inputs, positional
    diff: tuple  # positions to differentiate
    opts: dict  # keyword options; numpy arrays become tensors on the torch side
    # torch's gradient is nan at some elements where ours is finite (documented)
    finite_where_torch_nan: bool = False


# Distances for triplet_margin_with_distance_loss: (jax, torch) by name.
def _distances():
    import torch
    import torch.nn.functional as F

    return {
        "l1": (
            lambda u, v: jnp.sum(jnp.abs(u - v), -1),
            lambda u, v: (u - v).abs().sum(-1),
        ),
        "cosine": (
            lambda u, v: (
                1
                - jnp.sum(u * v, -1) / jnp.sqrt(jnp.sum(u * u, -1) * jnp.sum(v * v, -1))
            ),
            lambda u, v: 1 - F.cosine_similarity(u, v, eps=0.0),
        ),
        "squared": (
            lambda u, v: jnp.sum((u - v) ** 2, -1),
            lambda u, v: torch.sum((u - v) ** 2, -1),
        ),
    }


# ------------------------------------------------------------------ the cases
def _poisson(shape, log_input, full, target_shape=None):
    rng = _rng("poisson", shape, log_input, full, target_shape)
    x = _normal(rng, shape) if log_input else rng.uniform(0.1, 3.0, shape).astype(F32)
    y = rng.poisson(2.0, target_shape or shape).astype(F32)  # 0s, 1s and above
    opts = {"log_input": log_input, "full": full}
    # full=True: torch's d/dtarget at target 0 is 0 * log(0) = nan; ours is finite
    return Case("poisson_nll_loss", (x, y), (0, 1), opts, finite_where_torch_nan=full)


def _gaussian(shape, var, full):
    """var: "same", "short" (one dim short), "one" (a size-1 dim) or a float."""
    rng = _rng("gaussian", shape, var, full)
    x, y = _normal(rng, shape), _normal(rng, shape)
    opts = {"full": full, "eps": 1e-2}
    if isinstance(var, float):
        return Case("gaussian_nll_loss", (x, y), (0, 1), {**opts, "var": var})
    v_shape = {"same": shape, "short": shape[:-1], "one": (shape[0], 1, *shape[2:])}
    v = rng.uniform(0.0, 2.0, v_shape[var]).astype(F32)
    v.flat[0] = 1e-3  # below eps: clamped in value, gradient passes through
    return Case("gaussian_nll_loss", (x, y, v), (0, 1, 2), opts)


def _cosine(batched, margin):
    rng = _rng("cosine", batched, margin)
    shape = (6, 4) if batched else (4,)
    y = _signs(rng, shape[:-1]) if batched else np.array(-1.0 if margin else 1.0, F32)
    x1, x2 = _normal(rng, shape), _normal(rng, shape)
    if batched:
        x2[1] = 2 * x1[1]  # cos = 1
    return Case("cosine_embedding_loss", (x1, x2, y), (0, 1), {"margin": margin})


def _ranking(shapes, margin):
    rng = _rng("ranking", shapes, margin)
    x1, x2 = _normal(rng, shapes[0]), _normal(rng, shapes[1])
    y = _signs(rng, shapes[2])
    return Case("margin_ranking_loss", (x1, x2, y), (0, 1), {"margin": margin})


def _hinge(shape, margin, target_shape=None):
    rng = _rng("hinge", shape, margin, target_shape)
    x = rng.uniform(0.0, 3.0, shape).astype(F32)
    return Case(
        "hinge_embedding_loss",
        (x, _signs(rng, target_shape or shape)),
        (0,),
        {"margin": margin},
    )


def _soft_margin(shape):
    rng = _rng("soft_margin", shape)
    return Case(
        "soft_margin_loss", (_normal(rng, shape, 3.0), _signs(rng, shape)), (0,), {}
    )


def _multilabel_soft(shape, weighted):
    rng = _rng("mlsm", shape, weighted)
    y = rng.integers(0, 2, shape).astype(F32)
    opts = {"weight": rng.uniform(0.2, 2.0, shape[-1:]).astype(F32)} if weighted else {}
    return Case(
        "multilabel_soft_margin_loss", (_normal(rng, shape, 2.0), y), (0, 1), opts
    )


def _multi_margin(shape, p, margin, weighted):
    rng = _rng("multi_margin", shape, p, margin, weighted)
    c = shape[-1]
    y = rng.integers(0, c, shape[:-1]).astype(np.int64)
    opts = {"p": p, "margin": margin}
    if weighted:
        opts["weight"] = rng.uniform(0.2, 2.0, (c,)).astype(F32)
    return Case("multi_margin_loss", (_normal(rng, shape), y), (0,), opts)


def _multilabel_margin(shape):
    rng = _rng("multilabel_margin", shape)
    c = shape[-1]
    rows = []
    for k in range(int(np.prod(shape[:-1]))):
        n_targets = k % (c + 1)  # 0 .. C targets, then -1 padding and junk after
        row = np.full(c, -1, np.int64)
        row[:n_targets] = rng.permutation(c)[:n_targets]
        if n_targets + 1 < c:
            row[n_targets + 1] = rng.integers(0, c)  # after the -1: ignored
        rows.append(row)
    y = np.stack(rows).reshape(shape)
    if y.size > c:
        y[0, :2] = [1, 1]  # a repeated target counts twice, as torch
        y[0, 2] = -1
    return Case("multilabel_margin_loss", (_normal(rng, shape), y), (0,), {})


def _triplet_distance(shape, distance, margin, swap):
    rng = _rng("triplet_distance", shape, distance, margin, swap)
    a, pos, neg = (_normal(rng, shape) for _ in range(3))
    opts = {"margin": margin, "swap": swap}
    if distance is not None:
        opts["distance_function"] = distance
    return Case("triplet_margin_with_distance_loss", (a, pos, neg), (0, 1, 2), opts)


FAMILIES: dict[str, dict[str, Case]] = {
    "poisson_nll_loss": {
        **{
            f"log{li}-full{full}": _poisson((6, 4), li, full)
            for li in (True, False)
            for full in (False, True)
        },
        "1d": _poisson((5,), True, True),
        "broadcast": _poisson((6, 4), False, True, target_shape=(4,)),
    },
    "gaussian_nll_loss": {
        f"{shape}-var{var}-full{full}": _gaussian(shape, var, full)
        for shape, var, full in [
            ((6, 4), "same", False),
            ((6, 4), "same", True),
            ((6, 4), "short", False),
            ((6, 3, 2), "one", True),
            ((6, 4), 0.5, False),
            ((5,), "same", False),
        ]
    },
    "cosine_embedding_loss": {
        f"batched{b}-margin{m}": _cosine(b, m)
        for b, m in [(True, 0.0), (True, 0.3), (False, 0.0), (False, 0.2)]
    },
    "margin_ranking_loss": {
        "1d": _ranking(((6,), (6,), (6,)), 0.0),
        "1d-margin": _ranking(((6,), (6,), (6,)), 0.5),
        "broadcast": _ranking(((3, 4), (1, 4), (3, 1)), 0.2),
    },
    "hinge_embedding_loss": {
        "margin1": _hinge((6, 4), 1.0),
        "margin2": _hinge((6, 4), 2.0),
        "broadcast": _hinge((6, 4), 1.5, target_shape=(4,)),
    },
    "soft_margin_loss": {"2d": _soft_margin((6, 4)), "1d": _soft_margin((5,))},
    "multilabel_soft_margin_loss": {
        "plain": _multilabel_soft((6, 4), False),
        "weight": _multilabel_soft((6, 4), True),
        "1d": _multilabel_soft((4,), True),
    },
    "multi_margin_loss": {
        f"{shape}-p{p}-m{m}-w{w}": _multi_margin(shape, p, m, w)
        for shape, p, m, w in [
            ((6, 4), 1, 1.0, False),
            ((6, 4), 2, 1.0, False),
            ((6, 4), 1, 0.5, True),
            ((6, 4), 2, 1.5, True),
            ((4,), 1, 1.0, True),
        ]
    },
    "multilabel_margin_loss": {
        "2d": _multilabel_margin((6, 4)),
        "1d": _multilabel_margin((5,)),
    },
    "triplet_margin_with_distance_loss": {
        f"{d}-m{m}-swap{s}": _triplet_distance((6, 4), d, m, s)
        for d, m, s in [
            (None, 1.0, False),
            (None, 0.5, True),
            ("l1", 2.0, False),
            ("cosine", 0.5, True),
            ("squared", 1.0, False),
        ]
    },
}


# ------------------------------------------------------------------ the harness
def _cotangent(shape) -> np.ndarray:
    return np.linspace(0.5, 1.5, int(np.prod(shape)), dtype=F32).reshape(shape)


def _jax_opts(opts: dict) -> dict:
    if "distance_function" in opts:
        jax_fn = _distances()[opts["distance_function"]][0]
        return {**opts, "distance_function": jax_fn}
    return opts


def _jax_side(case: Case, arrays) -> dict:
    """{reduction: (output, [gradients of the diff positions])} from jtoolkit."""
    fn = functools.partial(getattr(L, case.name), **_jax_opts(case.opts))

    def scalar(diff_values, reduction):
        args = list(arrays)
        for i, v in zip(case.diff, diff_values, strict=True):
            args[i] = v
        out = fn(*args, reduction=reduction)
        s = jnp.sum(out * _cotangent(out.shape)) if reduction == "none" else out
        return s, out

    grad = jax.grad(scalar, has_aux=True)
    diff_values = [arrays[i] for i in case.diff]
    return {r: grad(diff_values, r)[::-1] for r in REDUCTIONS}


@functools.cache
def _torch_side(family: str, case_id: str) -> dict:
    import torch
    import torch.nn.functional as F

    case = FAMILIES[family][case_id]
    opts = {
        k: torch.tensor(v) if isinstance(v, np.ndarray) else v
        for k, v in case.opts.items()
    }
    if "distance_function" in opts:
        opts["distance_function"] = _distances()[opts["distance_function"]][1]
    results = {}
    for r in REDUCTIONS:
        tensors = [torch.tensor(a) for a in case.arrays]
        for i in case.diff:
            tensors[i].requires_grad_(True)
        out = getattr(F, case.name)(*tensors, reduction=r, **opts)
        s = (out * torch.tensor(_cotangent(tuple(out.shape)))).sum()
        s = s if r == "none" else out
        grads = torch.autograd.grad(s, [tensors[i] for i in case.diff])
        results[r] = (out.detach().numpy(), [g.numpy() for g in grads])
    return results


def _compare(case: Case, got: dict, expected: dict, where: str) -> None:
    for r in REDUCTIONS:
        out, grads = got[r]
        want_out, want_grads = expected[r]
        msg = f"{where} reduction={r}"
        assert out.shape == want_out.shape, msg
        np.testing.assert_allclose(out, want_out, rtol=RTOL, err_msg=msg)
        for g, wg in zip(grads, want_grads, strict=True):
            if case.finite_where_torch_nan:
                assert np.isfinite(g).all(), msg
                g, wg = np.where(np.isnan(wg), 0, g), np.where(np.isnan(wg), 0, wg)
            np.testing.assert_allclose(g, wg, rtol=RTOL, atol=GRAD_ATOL, err_msg=msg)


# every case runs under jit, one per function eagerly: tests/losses/_harness.py
EAGER_CASES = eager_cases(FAMILIES)


@pytest.mark.parametrize(
    ("family", "case_id"), EAGER_CASES, ids=[f"{f}[{c}]" for f, c in EAGER_CASES]
)
def test_parity_eager(torch, family, case_id):
    case = FAMILIES[family][case_id]
    got = _jax_side(case, tuple(jnp.asarray(a) for a in case.arrays))
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
    for cid in cases:
        _compare(cases[cid], got[cid], _torch_side(family, cid), f"{family}[{cid}] jit")


# ------------------------------------------------------------------ bad input
_X = np.zeros((3, 4), F32)
_Y = np.ones((3, 4), F32)
# (function, positional inputs, keyword options): torch and jtoolkit both raise,
# ours an instance of torch's exception type.
BAD_CALLS = {
    "poisson no broadcast": ("poisson_nll_loss", (_X, np.ones(3, F32)), {}),
    "poisson reduction": ("poisson_nll_loss", (_X, _Y), {"reduction": "avg"}),
    "gaussian var size": ("gaussian_nll_loss", (_X, _Y, np.ones((3, 2), F32)), {}),
    "gaussian var two dims": ("gaussian_nll_loss", (_X, _Y, np.ones((1, 1), F32)), {}),
    "gaussian negative var": ("gaussian_nll_loss", (_X, _Y, -np.ones(3, F32)), {}),
    "gaussian negative float var": ("gaussian_nll_loss", (_X, _Y, -1.0), {}),
    "gaussian reduction": ("gaussian_nll_loss", (_X, _Y, 1.0), {"reduction": "x"}),
    "cosine 2d target": ("cosine_embedding_loss", (_X, _Y, np.ones((3, 1), F32)), {}),
    "cosine 3d inputs": (
        "cosine_embedding_loss",
        (_X[None], _Y[None], np.ones(3, F32)),
        {},
    ),
    "cosine 1d target 1d inputs": (
        "cosine_embedding_loss",
        (_X[0], _Y[0], np.ones(3, F32)),
        {},
    ),
    "cosine batch mismatch": ("cosine_embedding_loss", (_X, _Y, np.ones(2, F32)), {}),
    "cosine reduction": (
        "cosine_embedding_loss",
        (_X, _Y, np.ones(3, F32)),
        {"reduction": "avg"},
    ),
    "ranking dims": ("margin_ranking_loss", (_X[0], _Y[0], _Y), {}),
    "ranking no broadcast": ("margin_ranking_loss", (_X, _Y[:2], _Y), {}),
    "hinge no broadcast": ("hinge_embedding_loss", (_X, np.ones(3, F32)), {}),
    "soft margin no broadcast": ("soft_margin_loss", (_X, np.ones(3, F32)), {}),
    "soft margin reduction": ("soft_margin_loss", (_X, _Y), {"reduction": "avg"}),
    "mlsm no broadcast": ("multilabel_soft_margin_loss", (_X, np.ones((3, 5))), {}),
    "mlsm reduction": (
        "multilabel_soft_margin_loss",
        (_X, _Y),
        {"reduction": "avg"},
    ),
    "multi margin p": ("multi_margin_loss", (_X, np.array([0, 1, 2])), {"p": 3}),
    "multi margin weight 2d": (
        "multi_margin_loss",
        (_X, np.array([0, 1, 2])),
        {"weight": np.ones((1, 4), F32)},
    ),
    "multi margin target high": ("multi_margin_loss", (_X, np.array([0, 4, 2])), {}),
    "multi margin target negative": (
        "multi_margin_loss",
        (_X, np.array([0, -1, 2])),
        {},
    ),
    "multi margin target size": ("multi_margin_loss", (_X, np.array([0, 1])), {}),
    "multi margin 3d": ("multi_margin_loss", (_X[None], np.array([[0, 1, 2]])), {}),
    "multilabel margin size": (
        "multilabel_margin_loss",
        (_X, np.zeros((3, 3), np.int64)),
        {},
    ),
    "multilabel margin out of range": (
        "multilabel_margin_loss",
        (_X, np.array([[0, 4, -1, 0]] * 3)),
        {},
    ),
    "multilabel margin below -1": (
        "multilabel_margin_loss",
        (_X, np.array([[0, -2, -1, 0]] * 3)),
        {},
    ),
    "triplet distance dims": (
        "triplet_margin_with_distance_loss",
        (_X, _Y, _Y[0]),
        {},
    ),
    "triplet distance margin": (
        "triplet_margin_with_distance_loss",
        (_X, _Y, _Y),
        {"margin": -1.0},
    ),
    "triplet distance reduction": (
        "triplet_margin_with_distance_loss",
        (_X, _Y, _Y),
        {"reduction": "avg"},
    ),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_input_raises_torchs_type(torch, case):
    import torch.nn.functional as F

    name, arrays, opts = BAD_CALLS[case]
    torch_opts = {
        k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in opts.items()
    }
    torch_args = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays]
    with pytest.raises(Exception) as torch_error:
        getattr(F, name)(*torch_args, **torch_opts)
    with pytest.raises(torch_error.type):
        getattr(L, name)(*arrays, **opts)


def test_values_only_checks_skip_under_jit():
    """Out-of-range class indices cannot raise under jit: the loss is nan there."""
    x = np.zeros((2, 4), F32)
    out = jax.jit(lambda t: L.multi_margin_loss(x, t, reduction="none"))(
        jnp.array([0, 7])
    )
    assert np.isfinite(out[0]) and np.isnan(out[1])
    out = jax.jit(lambda t: L.multilabel_margin_loss(x, t, reduction="none"))(
        jnp.array([[0, -1, 0, 0], [9, -1, 0, 0]])
    )
    assert np.isfinite(out[0]) and np.isnan(out[1])
