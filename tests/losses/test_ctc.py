"""ctc_loss / CTCLoss: hand-computed paths, torch parity, impossible alignments, errors.

Tolerance. The loss sums over all alignments: a T-step log-space recursion in which
each step rounds, so a fixed rtol would encode this CPU's rounding. torch in float64
on the same float32 inputs is the truth; our float32 error must be within 4x torch
float32's own error, plus a floor of 4 float32 ulps of the quantity's scale (the
value's magnitude, or the gradient's largest element) for cases where torch's
float32 error happens to be ~0. Measured on this machine (T up to 100, C up to 20):
value errors equal to torch float32's (~1e-7 relative), gradient errors ~10x
*smaller* than torch float32's (torch: up to 6.7e-5, ours 7.3e-6).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import losses as L

F32 = np.float32
EPS32 = float(np.finfo(np.float32).eps)
REDUCTIONS = ("mean", "sum", "none")


def _within_torch32(ours, t32, t64, what: str) -> None:
    """|ours - t64| <= 4 |t32 - t64| + 4 eps32 scale, elementwise-max norms."""
    ours, t32, t64 = (np.asarray(a, np.float64) for a in (ours, t32, t64))
    assert ours.shape == t64.shape, what
    same_nan = np.isnan(ours) == np.isnan(t64)
    same_inf = np.isinf(ours) == np.isinf(t64)
    assert same_nan.all() and same_inf.all(), f"{what}: nan/inf positions differ"
    finite = np.isfinite(t64)
    if not finite.any():
        return
    ours, t32, t64 = ours[finite], t32[finite], t64[finite]
    scale = max(np.abs(t64).max(), 1e-30)
    err, err32 = np.abs(ours - t64).max(), np.abs(t32 - t64).max()
    bound = 4 * err32 + 4 * EPS32 * scale
    assert err <= bound, f"{what}: error {err:.3g} > {bound:.3g} (torch32 {err32:.3g})"


# ------------------------------------------------------------------ hand-computed
# Value tests run jitted (one program per shape; eagerly, each op would compile its
# own): the eager path is compared with torch in test_parity_eager, and eager == jit
# as tests/losses/_harness.py explains.
_ctc = jax.jit(L.ctc_loss, static_argnames=("blank", "reduction", "zero_infinity"))


def _uniform(num_steps, num_classes=2):
    return jnp.log(jnp.full((num_steps, 1, num_classes), 1.0 / num_classes))


@pytest.mark.parametrize(
    ("num_steps", "target", "expected"),
    [
        (2, [1], -math.log(3 / 4)),  # "1 1", "0 1", "1 0"
        (3, [1, 1], -math.log(1 / 8)),  # only "1 0 1": repeats need a blank
        (2, [1, 1], math.inf),  # impossible: 2 frames for "1 _ 1"
        (3, [], -math.log(1 / 8)),  # empty target: all blanks
    ],
)
def test_hand_computed(num_steps, target, expected):
    lp = _uniform(num_steps)
    targets = jnp.array([[*target, 1]], jnp.int32)  # padded with a junk label
    il, tl = np.array([num_steps]), np.array([len(target)])
    got = _ctc(lp, targets, il, tl, reduction="sum")
    assert float(got) == pytest.approx(expected, rel=1e-6)
    zero = _ctc(lp, targets, il, tl, reduction="sum", zero_infinity=True)
    assert float(zero) == pytest.approx(0.0 if math.isinf(expected) else expected)


def test_mean_divides_by_target_length():
    lp = jnp.concatenate([_uniform(3)] * 2, axis=1)
    targets = jnp.array([[1, 1], [1, 0]])
    il, tl = np.array([3, 3]), np.array([2, 0])
    per_sample = _ctc(lp, targets, il, tl, reduction="none")
    mean = _ctc(lp, targets, il, tl)
    # target length 0 counts as 1
    assert float(mean) == pytest.approx(float(per_sample[0] / 2 + per_sample[1]) / 2)


# ------------------------------------------------------------------ torch parity
@dataclasses.dataclass(frozen=True, eq=False)
class Case:
    logits: np.ndarray  # [T, N, C] float32 (or [T, C] unbatched)
    targets: np.ndarray  # padded [N, S] or concatenated 1-D
    input_lengths: np.ndarray
    target_lengths: np.ndarray
    blank: int = 0
    zero_infinity: bool = False


def _case(
    num_steps,
    batch,
    num_classes,
    width,
    *,
    blank=0,
    concatenated=False,
    impossible=False,
    zero_infinity=False,
    scale=3.0,
) -> Case:
    rng = np.random.default_rng(
        zlib.crc32(repr((num_steps, batch, num_classes, width, blank)).encode())
    )
    logits = rng.normal(0, scale, (num_steps, batch, num_classes)).astype(F32)
    labels = [c for c in range(num_classes) if c != blank]
    targets = rng.choice(labels, (batch, width)).astype(np.int64)
    tl = rng.integers(0, width + 1, batch)
    tl[0] = width
    il = rng.integers(min(2 * width + 1, num_steps), num_steps + 1, batch)
    il[0] = num_steps
    if impossible:  # sample 1: repeated labels need 2 S - 1 frames; give S
        targets[1] = labels[0]
        il[1], tl[1] = width, width
    if concatenated:
        targets = np.concatenate([targets[n, : tl[n]] for n in range(batch)])
    return Case(logits, targets, il, tl, blank, zero_infinity)


CASES = {
    "small": _case(6, 3, 4, 2),
    "blank-last": _case(10, 4, 5, 3, blank=4),
    "blank-middle-concatenated": _case(12, 3, 6, 4, blank=2, concatenated=True),
    "long": _case(60, 2, 12, 15, scale=2.0),
    "impossible": _case(8, 3, 4, 3, impossible=True),
    "impossible-zero-infinity": _case(8, 3, 4, 3, impossible=True, zero_infinity=True),
    "concatenated-zero-infinity": _case(
        9, 4, 5, 3, concatenated=True, impossible=True, zero_infinity=True
    ),
}


def _log_softmax64(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def _cotangent(n: int) -> np.ndarray:
    return np.linspace(0.5, 1.5, n, dtype=F32)


def _loss_sum(out, reduction, xp):
    if reduction == "none":
        return (out * xp.asarray(_cotangent(out.shape[0]))).sum()
    return out


def _jax_side(case: Case, logits, log_probs, reductions=REDUCTIONS) -> dict:
    """{reduction: (out, d/dlogits through log_softmax, d/dlog_probs)}."""
    fn = functools.partial(
        L.ctc_loss,
        targets=case.targets,
        input_lengths=case.input_lengths,
        target_lengths=case.target_lengths,
        blank=case.blank,
        zero_infinity=case.zero_infinity,
    )
    results = {}
    for r in reductions:

        def via_logits(x, r=r):
            out = fn(jax.nn.log_softmax(x, -1), reduction=r)
            return _loss_sum(out, r, jnp), out

        def via_log_probs(lp, r=r):
            return _loss_sum(fn(lp, reduction=r), r, jnp)

        (_, out), g_logits = jax.value_and_grad(via_logits, has_aux=True)(logits)
        results[r] = (out, g_logits, jax.grad(via_log_probs)(log_probs))
    return results


@functools.cache
def _torch_side(case_id: str, dtype_name: str) -> dict:
    import torch
    import torch.nn.functional as F

    case = CASES[case_id]
    dtype = getattr(torch, dtype_name)
    lp_np = _log_softmax64(case.logits).astype(F32)  # the inputs both sides get
    results = {}
    for r in REDUCTIONS:
        x = torch.tensor(case.logits, dtype=dtype, requires_grad=True)
        lp = torch.tensor(lp_np, dtype=dtype, requires_grad=True)
        args = (
            torch.tensor(case.targets),
            torch.tensor(case.input_lengths),
            torch.tensor(case.target_lengths),
            case.blank,
            r,
            case.zero_infinity,
        )
        out = F.ctc_loss(x.log_softmax(-1), *args)
        (g_logits,) = torch.autograd.grad(_loss_sum(out, r, torch), x)
        (g_lp,) = torch.autograd.grad(_loss_sum(F.ctc_loss(lp, *args), r, torch), lp)
        results[r] = tuple(t.detach().numpy() for t in (out, g_logits, g_lp))
    return results


def _compare(case_id, got, where):
    t32, t64 = _torch_side(case_id, "float32"), _torch_side(case_id, "float64")
    for r in got:
        for k, what in enumerate(("value", "grad logits", "grad log_probs")):
            _within_torch32(
                got[r][k], t32[r][k], t64[r][k], f"{case_id} {where} {r} {what}"
            )


def _inputs(case: Case):
    return jnp.asarray(case.logits), jnp.asarray(_log_softmax64(case.logits), F32)


EAGER = {  # eager runs op by op (slow): one case (tests/losses/_harness.py)
    "impossible-zero-infinity": "sum",
}


@pytest.mark.parametrize("case_id", list(EAGER))
def test_parity_eager(torch, case_id):
    case = CASES[case_id]
    _compare(case_id, _jax_side(case, *_inputs(case), (EAGER[case_id],)), "eager")


def test_parity_jit(torch):
    """All cases in one jitted function; lengths and targets traced too."""

    @jax.jit
    def run(arrays):
        got = {}
        for cid, (x, lp, targets, il, tl) in arrays.items():
            case = dataclasses.replace(
                CASES[cid], targets=targets, input_lengths=il, target_lengths=tl
            )
            got[cid] = _jax_side(case, x, lp)
        return got

    arrays = {
        cid: (*_inputs(c), c.targets, c.input_lengths, c.target_lengths)
        for cid, c in CASES.items()
    }
    got = run(arrays)
    for cid in CASES:
        _compare(cid, got[cid], "jit")


def test_impossible_alignment_matches_torch(torch):
    """inf loss and a nan gradient for that sample only; zero_infinity: both 0."""
    got = _jax_side(CASES["impossible"], *_inputs(CASES["impossible"]), ("none",))
    out, _, g_lp = got["none"]
    assert np.isinf(out[1]) and np.isfinite(np.delete(np.asarray(out), 1)).all()
    il = CASES["impossible"].input_lengths[1]
    assert np.isnan(g_lp[:il, 1]).all() and np.isfinite(np.delete(g_lp, 1, 1)).all()
    zeroed = _jax_side(
        CASES["impossible-zero-infinity"],
        *_inputs(CASES["impossible-zero-infinity"]),
        ("sum",),
    )
    out, g_logits, g_lp = zeroed["sum"]
    assert (np.asarray(g_logits)[:, 1] == 0).all() and (
        np.asarray(g_lp)[:, 1] == 0
    ).all()


def test_concatenated_equals_padded():
    case = CASES["small"]
    padded = _ctc(
        _inputs(case)[1],
        case.targets,
        case.input_lengths,
        case.target_lengths,
        reduction="none",
    )
    flat = np.concatenate(
        [case.targets[n, : case.target_lengths[n]] for n in range(len(case.targets))]
    )
    concatenated = _ctc(
        _inputs(case)[1],
        flat,
        case.input_lengths,
        case.target_lengths,
        reduction="none",
    )
    np.testing.assert_array_equal(padded, concatenated)


def test_unbatched_and_module(torch):
    case = CASES["blank-last"]
    lp = _inputs(case)[1][:, 0]  # [T, C]
    il, tl = int(case.input_lengths[0]), int(case.target_lengths[0])
    targets = case.targets[0]
    criterion = L.CTCLoss(blank=4, reduction="none")
    got = criterion(lp, targets, il, tl)
    want = torch.nn.CTCLoss(blank=4, reduction="none")(
        torch.tensor(np.asarray(lp)),
        torch.tensor(targets),
        torch.tensor(il),
        torch.tensor(tl),
    )
    assert got.shape == tuple(want.shape) == ()
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5)


# ------------------------------------------------------------------ bad input
_LP = np.log(np.full((5, 2, 4), 0.25, F32))
_TG = np.array([[1, 2], [3, 1]])
BAD_CALLS = {
    "blank out of range": ((_LP, _TG, [5, 5], [2, 2]), {"blank": 4}),
    "input length above T": ((_LP, _TG, [6, 5], [2, 2]), {}),
    "input lengths size": ((_LP, _TG, [5, 5, 5], [2, 2]), {}),
    "target lengths size": ((_LP, _TG, [5, 5], [2]), {}),
    "target length above S": ((_LP, _TG, [5, 5], [3, 2]), {}),
    "4d log_probs": ((_LP[None], _TG, [5, 5], [2, 2]), {}),
    "reduction": ((_LP, _TG, [5, 5], [2, 2]), {"reduction": "batchmean"}),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_input_raises_torchs_type(torch, case):
    args, opts = BAD_CALLS[case]
    torch_args = [torch.tensor(np.asarray(a)) for a in args]
    with pytest.raises(Exception) as torch_error:
        torch.nn.functional.ctc_loss(*torch_args, **opts)
    with pytest.raises(torch_error.type):
        L.ctc_loss(*args, **opts)
