"""Tests of ``jtoolkit/_src/losses/modules.py`` (``BCELoss``, ``BCEWithLogitsLoss``,
``CrossEntropyLoss``, ``NLLLoss``).

Moved from test_losses_api.py, test_losses_more.py when the tests were laid out to
mirror the code; those files' notes:

test_losses_api.py:
jtoolkit.losses: bad input, module-style constructors, the tutorial's losses.

test_losses_more.py:
Parity of the second-wave losses with torch: values, gradients, modules, errors.

Covers poisson/gaussian NLL, the margin/hinge family, cosine embedding and triplet
with a distance function (CTC is in test_ctc.py). Each case is one loss with one
set of options on fixed random float32 inputs, run for every reduction (for
"none", the gradient of ``sum(out * c)`` with a fixed cotangent ``c``) and compared
with torch 2.13, eagerly per case and under ``jax.jit`` once per family (here: the
module classes under ``jax.jit``, one of them also eagerly). Every
element is a short closed formula here, so float32 rtol 1e-5 (gradients also atol
1e-7, as they cross 0).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import losses as L
from tests.losses._harness import F32, RTOL, T3, X, _normal, _rng, _signs

# ------------------------------------------------------------------ constructors
W5 = np.linspace(0.5, 1.5, 5).astype(F32)
# (constructor, its options, the functional, the inputs)
CONSTRUCTORS = [
    (L.MSELoss, {"reduction": "sum"}, L.mse_loss, "xy"),
    (L.L1Loss, {"reduction": "none"}, L.l1_loss, "xy"),
    (
        L.CrossEntropyLoss,
        {"weight": W5, "ignore_index": 1, "label_smoothing": 0.1},
        L.cross_entropy,
        "logits",
    ),
    (L.NLLLoss, {"weight": W5, "reduction": "sum"}, L.nll_loss, "logits"),
    (L.BCELoss, {"weight": W5, "reduction": "none"}, L.binary_cross_entropy, "probs"),
    (
        L.BCEWithLogitsLoss,
        {"weight": W5, "pos_weight": W5[::-1]},
        L.binary_cross_entropy_with_logits,
        "xp",
    ),
    (L.HuberLoss, {"delta": 0.5}, L.huber_loss, "xy"),
    (L.SmoothL1Loss, {"beta": 0.0, "reduction": "sum"}, L.smooth_l1_loss, "xy"),
    (L.TripletMarginLoss, {"margin": 2.0, "p": 1, "swap": True}, None, "triplet"),
    (L.KLDivLoss, {"reduction": "batchmean", "log_target": True}, L.kl_div, "xy"),
]


def _inputs(kind, rng):
    x = rng.normal(size=(4, 5)).astype(F32)
    y = rng.normal(size=(4, 5)).astype(F32)
    return {
        "xy": (x, y),
        "logits": (x, np.array([0, 1, 4, 2])),
        "probs": (rng.uniform(0.1, 0.9, (4, 5)).astype(F32), (y > 0).astype(F32)),
        "xp": (x, (y > 0).astype(F32)),
        "triplet": (x, y, rng.normal(size=(4, 5)).astype(F32)),
    }[kind]


@pytest.mark.parametrize(
    ("cls", "opts", "functional", "kind"),
    CONSTRUCTORS,
    ids=[c[0].__name__ for c in CONSTRUCTORS],
)
def test_constructor_calls_the_functional_with_its_options(
    rng, cls, opts, functional, kind
):
    criterion = cls(**opts)
    args = _inputs(kind, rng)

    def call(*args):
        if functional is None:  # TripletMarginLoss: options are positional in torch
            return L.triplet_margin_loss(*args, 2.0, 1, swap=True)
        return functional(*args, **opts)

    # jitted on both sides; eagerly for the first constructor only: eager == jit,
    # tests/losses/_harness.py (the functionals run eagerly in their own tests)
    want = jax.jit(call)(*args)
    np.testing.assert_array_equal(jax.jit(criterion)(*args), want)
    if cls is CONSTRUCTORS[0][0]:
        np.testing.assert_array_equal(criterion(*args), call(*args))
        np.testing.assert_allclose(criterion(*args), want, rtol=RTOL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        criterion.reduction = "sum"


def test_constructor_repr_is_torch_like():
    assert repr(L.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(L.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
    assert (
        repr(L.TripletMarginLoss(margin=2.0, swap=True))
        == "TripletMarginLoss(margin=2.0, swap=True)"
    )
    assert repr(L.NLLLoss(W5)) == "NLLLoss(weight=array(shape=[5], dtype=float32))"


@pytest.mark.parametrize(
    ("build", "exc_type", "pattern"),
    [
        (lambda: L.MSELoss(reduction="avg"), ValueError, "not a valid value"),
        (lambda: L.KLDivLoss(reduction="avg"), ValueError, "'batchmean'"),
        (lambda: L.CrossEntropyLoss(label_smoothing=2.0), RuntimeError, "Got: 2.0"),
        (lambda: L.CrossEntropyLoss(np.ones((2, 5))), ValueError, r"1-d .*\[2, 5\]"),
        (lambda: L.HuberLoss(delta=-1.0), RuntimeError, "delta=-1.0"),
        (lambda: L.SmoothL1Loss(beta=-0.5), RuntimeError, "beta=-0.5"),
        (lambda: L.TripletMarginLoss(margin=-1.0), ValueError, "greater than 0"),
    ],
)
def test_constructor_validates_options_when_built(build, exc_type, pattern):
    with pytest.raises(exc_type, match=pattern):
        build()


def test_constructor_options_after_weight_are_keyword_only():
    with pytest.raises(TypeError):
        L.CrossEntropyLoss(None, -100)
    with pytest.raises(TypeError):
        L.cross_entropy(X, T3, None, -100)


def test_tutorial_criteria_read_like_torch():
    """``criterion = nn.CrossEntropyLoss(); loss = criterion(output, target)``."""
    criterion = L.CrossEntropyLoss()
    output = jnp.array([[2.0, 1.0, 0.1]])
    expected = -jax.nn.log_softmax(output)[0, 0]
    assert float(criterion(output, jnp.array([0]))) == pytest.approx(float(expected))
    bce_loss = L.BCELoss()
    probs = jax.nn.sigmoid(jnp.array([0.0, 2.0]))
    assert float(bce_loss(probs, jnp.array([1, 1]))) == pytest.approx(
        float(-jnp.log(probs).mean()), rel=RTOL
    )


# ------------------------------------------------------------------ module classes
# (class name, constructor kwargs, call inputs) -> same as torch.nn's module
def _module_cases():
    rng = _rng("modules")
    x, y = _normal(rng, (5, 4)), _normal(rng, (5, 4))
    s = _signs(rng, (5,))
    w = rng.uniform(0.2, 2.0, (4,)).astype(F32)
    labels = rng.integers(0, 4, (5,)).astype(np.int64)
    multi = np.array([[3, 0, -1, 1]] * 5, np.int64)
    return {
        "PoissonNLLLoss": ({"log_input": False, "full": True}, (np.abs(x), 3 * x * x)),
        "GaussianNLLLoss": ({"full": True, "reduction": "sum"}, (x, y, np.abs(y))),
        "CosineEmbeddingLoss": ({"margin": 0.2}, (x, y, s)),
        "MarginRankingLoss": (
            {"margin": 0.5, "reduction": "none"},
            (x[0], y[0], s[:4]),
        ),
        "HingeEmbeddingLoss": ({"margin": 2.0}, (np.abs(x), _signs(rng, (5, 4)))),
        "SoftMarginLoss": ({"reduction": "sum"}, (x, _signs(rng, (5, 4)))),
        "MultiLabelSoftMarginLoss": ({"weight": w}, (x, (y > 0).astype(F32))),
        "MultiMarginLoss": ({"p": 2, "margin": 0.7, "weight": w}, (x, labels)),
        "MultiLabelMarginLoss": ({"reduction": "none"}, (x, multi)),
        "TripletMarginWithDistanceLoss": (
            {"margin": 2.0, "swap": True},
            (x, y, x[::-1].copy()),
        ),
    }


MODULE_CASES = _module_cases()


@pytest.mark.parametrize("name", list(MODULE_CASES))
def test_module_matches_torch(torch, name):
    kwargs, inputs = MODULE_CASES[name]
    torch_kwargs = {
        k: torch.tensor(v) if isinstance(v, np.ndarray) else v
        for k, v in kwargs.items()
    }
    want = getattr(torch.nn, name)(**torch_kwargs)(*map(torch.tensor, inputs))
    criterion = getattr(L, name)(**kwargs)
    if name == next(iter(MODULE_CASES)):  # eagerly once: tests/losses/_harness.py
        np.testing.assert_allclose(criterion(*inputs), want.numpy(), rtol=RTOL)
    np.testing.assert_allclose(jax.jit(criterion)(*inputs), want.numpy(), rtol=RTOL)


def test_module_repr_lists_changed_options():
    assert (
        repr(L.MultiMarginLoss(p=2, margin=0.5)) == "MultiMarginLoss(p=2, margin=0.5)"
    )
    assert repr(L.PoissonNLLLoss()) == "PoissonNLLLoss()"
    assert repr(L.GaussianNLLLoss(eps=1e-3)) == "GaussianNLLLoss(eps=0.001)"
    assert repr(L.CTCLoss(blank=3)) == "CTCLoss(blank=3)"


@pytest.mark.parametrize(
    ("name", "kwargs", "error"),
    [
        ("MultiMarginLoss", {"p": 3}, ValueError),
        ("MultiMarginLoss", {"weight": np.ones((2, 2), F32)}, ValueError),
        ("TripletMarginWithDistanceLoss", {"margin": 0.0}, ValueError),
        ("SoftMarginLoss", {"reduction": "avg"}, ValueError),
        ("CTCLoss", {"reduction": "batchmean"}, ValueError),
    ],
)
def test_module_rejects_bad_options_at_construction(torch, name, kwargs, error):
    """Raised when built (torch raises these at the call, with the same type)."""
    with pytest.raises(error):
        getattr(L, name)(**kwargs)
