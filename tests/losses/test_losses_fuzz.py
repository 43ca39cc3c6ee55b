"""Fuzz the losses against torch 2.13: values, shapes and exception types.

Small random shapes and options, with NaN/inf entries, empty batches, 1-d inputs,
zero lengths (CTC). Derandomized, fixed example counts.

Sizes come from small fixed sets that keep the edge sizes (0 and 1) and one larger
size: the losses run eagerly here (their value checks raise), and every eager op
compiles one program per new shape, so fewer distinct shapes mean far fewer
compilations for the same number of examples.
"""

from __future__ import annotations

import numpy as np
import pytest
from fuzzing import FUZZ, report, same
from hypothesis import given
from hypothesis import strategies as st

from jtoolkit import losses as L

torch = pytest.importorskip("torch")
F = torch.nn.functional
AREA = "losses"
_reduction = st.sampled_from(["mean", "sum", "none"])
_rows = st.sampled_from([0, 1, 3])  # empty, one, several
_size = st.sampled_from([1, 3])  # one, several (a size that cannot be 0)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    report(__name__)


def _array(draw, shape, special=True):
    seed = draw(st.integers(0, 2**16))
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    if special and x.size and draw(st.booleans()):
        x.flat[draw(st.integers(0, x.size - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf, 0.0])
        )
    return x


@FUZZ
@given(st.data(), _rows, _size, _reduction)
def test_classification(d, n, c, reduction):
    one_d = d.draw(st.booleans())
    x = _array(d.draw, (c,) if one_d else (n, c))
    tshape = d.draw(st.sampled_from([(), (1,)])) if one_d else (n,)
    target = np.random.default_rng(n).integers(0, c, tshape)
    if target.size and d.draw(st.booleans()):
        target.flat[0] = -100
    smoothing = d.draw(st.sampled_from([0.0, 0.1]))
    tx, tt = torch.from_numpy(x), torch.from_numpy(target)
    if one_d and smoothing and c > 1:  # torch 2.13 raises for a [1] target
        tt = tt.reshape(())  # (docs/migration.md); with c == 1, [1] is the input's
        # shape: both read it as probabilities (and raise for an integer target)
    same(
        AREA,
        lambda: L.cross_entropy(
            x, target, reduction=reduction, label_smoothing=smoothing
        ),
        lambda: F.cross_entropy(tx, tt, reduction=reduction, label_smoothing=smoothing),
    )
    logp = np.asarray(torch.log_softmax(tx, -1))
    same(
        AREA,
        lambda: L.nll_loss(logp, target, reduction=reduction),
        lambda: F.nll_loss(torch.from_numpy(logp), tt, reduction=reduction),
    )


@FUZZ
@given(st.data(), st.lists(_rows, max_size=2).map(tuple), _reduction)
def test_regression_and_binary(d, shape, reduction):
    x, y = _array(d.draw, shape), _array(d.draw, shape, special=False)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for ours, theirs in [
        (L.mse_loss, F.mse_loss),
        (L.l1_loss, F.l1_loss),
        (L.huber_loss, F.huber_loss),
        (L.smooth_l1_loss, F.smooth_l1_loss),
        (L.soft_margin_loss, F.soft_margin_loss),
        (L.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits),
    ]:
        same(
            AREA,
            lambda o=ours: o(x, y, reduction=reduction),
            lambda t=theirs: t(tx, ty, reduction=reduction),
        )
    p = np.asarray(1 / (1 + np.exp(-y)), np.float32)
    q = np.asarray(np.clip(np.abs(np.nan_to_num(x)) / 4, 0, 1), np.float32)
    same(
        AREA,
        lambda: L.binary_cross_entropy(p, q, reduction=reduction),
        lambda: F.binary_cross_entropy(
            torch.from_numpy(p), torch.from_numpy(q), reduction=reduction
        ),
    )
    log_target = d.draw(st.booleans())
    same(
        AREA,
        lambda: L.kl_div(x, y, reduction=reduction, log_target=log_target),
        lambda: F.kl_div(tx, ty, reduction=reduction, log_target=log_target),
    )


@FUZZ
@given(st.data(), _rows, _size, _reduction)
def test_triplet_and_embedding(d, n, dim, reduction):
    a, p, q = (_array(d.draw, (n, dim)) for _ in range(3))
    ta, tp, tq = (torch.from_numpy(v) for v in (a, p, q))
    margin, swap = d.draw(st.sampled_from([0.5, 1.0])), d.draw(st.booleans())
    same(
        AREA,
        lambda: L.triplet_margin_loss(a, p, q, margin, swap=swap, reduction=reduction),
        lambda: F.triplet_margin_loss(
            ta, tp, tq, margin, swap=swap, reduction=reduction
        ),
    )
    y = np.where(np.arange(n) % 2, 1.0, -1.0).astype(np.float32)
    same(
        AREA,
        lambda: L.cosine_embedding_loss(a, p, y, margin, reduction=reduction),
        lambda: F.cosine_embedding_loss(
            ta, tp, torch.from_numpy(y), margin, reduction=reduction
        ),
    )
    same(
        AREA,
        lambda: L.margin_ranking_loss(a[:, 0], p[:, 0], y, margin, reduction=reduction),
        lambda: F.margin_ranking_loss(
            ta[:, 0], tp[:, 0], torch.from_numpy(y), margin, reduction=reduction
        ),
    )


@FUZZ
@given(st.data(), st.sampled_from([1, 2, 4]), _size, _reduction, st.booleans())
def test_ctc(d, steps, batch, reduction, zero_infinity):
    unbatched = d.draw(st.booleans())
    classes = 3
    lp = torch.randn(
        steps, batch, classes, generator=torch.Generator().manual_seed(steps)
    )
    lp = lp.log_softmax(-1)
    il = np.asarray([d.draw(st.integers(0, steps)) for _ in range(batch)])
    tl = np.asarray([d.draw(st.integers(0, 2)) for _ in range(batch)])
    targets = np.random.default_rng(batch).integers(1, classes, (batch, 2))
    if unbatched:
        lp, il, tl, targets = lp[:, 0], il[0], tl[0], targets[0, : tl[0]]
    lp_np = lp.numpy()
    same(
        AREA,
        lambda: L.ctc_loss(
            lp_np, targets, il, tl, reduction=reduction, zero_infinity=zero_infinity
        ),
        lambda: F.ctc_loss(
            lp,
            torch.from_numpy(targets),
            torch.as_tensor(il),
            torch.as_tensor(tl),
            reduction=reduction,
            zero_infinity=zero_infinity,
        ),
        rtol=1e-4,
    )
