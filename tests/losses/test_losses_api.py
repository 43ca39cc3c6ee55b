"""jtoolkit.losses: bad input, module-style constructors, the tutorial's losses."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import losses as L

F32 = np.float32
RTOL = 1e-5
X = np.zeros((3, 5), F32)
P = np.full((3, 5), 0.5, F32)
T3 = np.array([0, 1, 2])

# ------------------------------------------------------------------ bad input
# (thunk, exception type torch raises, regex that must appear in the message)
ERROR_CASES = {
    "ce target out of bounds": (
        lambda: L.cross_entropy(X, np.array([0, 5, 1])),
        IndexError,
        r"Target 5 is out of bounds.*\[0, 4\]",
    ),
    "ce negative target": (
        lambda: L.cross_entropy(X, np.array([0, -1, 1])),
        IndexError,
        r"Target -1 is out of bounds",
    ),
    "ce ignore_index elsewhere": (
        lambda: L.cross_entropy(X, np.array([0, -100, 1]), ignore_index=-5),
        IndexError,
        r"Target -100 is out of bounds.*ignore_index=-5",
    ),
    "nll target out of bounds": (
        lambda: L.nll_loss(X, jnp.array([0, 1, 9])),
        IndexError,
        r"Target 9 is out of bounds",
    ),
    "ce float class indices": (
        lambda: L.cross_entropy(X, np.array([0.0, 1.0, 1.0])),
        RuntimeError,
        r"integer type.*float32.*\[3\].*\[3, 5\]",
    ),
    "nll float class indices": (
        lambda: L.nll_loss(X, np.array([0.0, 1.0, 1.0])),
        RuntimeError,
        r"integer type.*float32",
    ),
    "ce batch mismatch": (
        lambda: L.cross_entropy(X, np.array([0, 1])),
        ValueError,
        r"Expected input batch_size \(3\) to match target batch_size \(2\)",
    ),
    "ce k-dim mismatch": (
        lambda: L.cross_entropy(np.zeros((2, 5, 4), F32), np.zeros((2, 3), int)),
        RuntimeError,
        r"Expected target size \[2, 4\], got \[2, 3\].*\[2, 5, 4\]",
    ),
    "ce weight size": (
        lambda: L.cross_entropy(X, T3, np.ones(4, F32)),
        RuntimeError,
        r"all 5 classes .* shape: \[4\]",
    ),
    "ce int probability targets": (
        lambda: L.cross_entropy(X, np.zeros((3, 5), int)),
        RuntimeError,
        r"Expected floating point type for target with class probabilities",
    ),
    "ce probabilities with ignore_index": (
        lambda: L.cross_entropy(X, P, ignore_index=1),
        RuntimeError,
        r"ignore_index is not supported for floating point target",
    ),
    "ce label_smoothing > 1": (
        lambda: L.cross_entropy(X, T3, label_smoothing=1.5),
        RuntimeError,
        r"label_smoothing must be between 0.0 and 1.0. Got: 1.5",
    ),
    "ce 0-d input": (
        lambda: L.cross_entropy(np.float32(1.0), np.array(0)),
        RuntimeError,
        r"0-d input",
    ),
    "bce input above 1": (
        lambda: L.binary_cross_entropy(np.array([0.5, 1.5]), np.array([0.0, 1.0])),
        RuntimeError,
        r"all elements of input should be between 0 and 1, but got 1.5",
    ),
    "bce nan input": (
        lambda: L.binary_cross_entropy(np.array([0.5, np.nan]), np.array([0.0, 1.0])),
        RuntimeError,
        r"all elements of input should be between 0 and 1, but got nan",
    ),
    "bce target above 1": (
        lambda: L.binary_cross_entropy(np.array([0.5, 0.5]), np.array([0.0, 2.0])),
        RuntimeError,
        r"all elements of target should be between 0 and 1",
    ),
    "bce shape": (
        lambda: L.binary_cross_entropy(np.full((3, 1), 0.5), np.zeros(3)),
        ValueError,
        r"target size \(\[3\]\) that is different to the input size \(\[3, 1\]\)",
    ),
    "bce weight shape": (
        lambda: L.binary_cross_entropy(P, P, np.ones(3, F32)),
        RuntimeError,
        r"\[3\] and \[3, 5\]",
    ),
    "bce logits shape": (
        lambda: L.binary_cross_entropy_with_logits(np.zeros((3, 1)), np.zeros(3)),
        ValueError,
        r"Target size \(\[3\]\) must be the same as input size \(\[3, 1\]\)",
    ),
    "bce logits pos_weight shape": (
        lambda: L.binary_cross_entropy_with_logits(X, P, pos_weight=np.ones(3)),
        RuntimeError,
        r"pos_weight and input shapes \[3\] and \[3, 5\]",
    ),
    "mse not broadcastable": (
        lambda: L.mse_loss(X, np.zeros(4, F32)),
        RuntimeError,
        r"size of tensor a \(5\) must match the size of tensor b \(4\) at "
        r"non-singleton dimension 1.*\[3, 5\] and \[4\]",
    ),
    "l1 weight shape": (
        lambda: L.l1_loss(X, X, weight=np.ones(5, F32)),
        ValueError,
        r"Weights and input must have the same size: weight \[5\], input \[3, 5\]",
    ),
    "huber delta 0": (
        lambda: L.huber_loss(X, X, delta=0.0),
        RuntimeError,
        r"huber_loss does not support non-positive values for delta",
    ),
    "smooth_l1 beta < 0": (
        lambda: L.smooth_l1_loss(X, X, beta=-1.0),
        RuntimeError,
        r"smooth_l1_loss does not support negative values for beta",
    ),
    "triplet margin 0": (
        lambda: L.triplet_margin_loss(X, X, X, margin=0.0),
        ValueError,
        r"margin must be greater than 0, got 0.0",
    ),
    "triplet p < 0": (
        lambda: L.triplet_margin_loss(X, X, X, p=-1),
        ValueError,
        r"p=-1",
    ),
    "triplet ranks": (
        lambda: L.triplet_margin_loss(X, X, X[0]),
        RuntimeError,
        r"same number of dimensions.*negative 1D \[5\]",
    ),
    "triplet shapes": (
        lambda: L.triplet_margin_loss(X, X, np.zeros((3, 4), F32)),
        RuntimeError,
        r"\(5\) must match the size of tensor b \(4\)",
    ),
    "kl not broadcastable": (
        lambda: L.kl_div(X, np.zeros(4, F32)),
        RuntimeError,
        r"\[3, 5\] and \[4\]",
    ),
    "mse batchmean": (
        lambda: L.mse_loss(X, X, reduction="batchmean"),
        ValueError,
        r"'batchmean' is not a valid value for reduction",
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_bad_input_raises_torch_type_naming_the_problem(case):
    thunk, exc_type, pattern = ERROR_CASES[case]
    with pytest.raises(exc_type, match=pattern) as info:
        thunk()
    # every input error is also the other of torch's two types
    assert isinstance(info.value, ValueError | RuntimeError)


def test_input_errors_are_value_and_runtime_errors():
    assert issubclass(L.LossInputError, ValueError)
    assert issubclass(L.LossInputError, RuntimeError)
    assert issubclass(L.TargetOutOfBoundsError, IndexError)
    assert issubclass(L.TargetOutOfBoundsError, L.LossInputError)


FUNCTIONAL_CALLS = {
    "mse_loss": lambda r: L.mse_loss(X, X, reduction=r),
    "l1_loss": lambda r: L.l1_loss(X, X, reduction=r),
    "huber_loss": lambda r: L.huber_loss(X, X, reduction=r),
    "smooth_l1_loss": lambda r: L.smooth_l1_loss(X, X, reduction=r),
    "cross_entropy": lambda r: L.cross_entropy(X, T3, reduction=r),
    "nll_loss": lambda r: L.nll_loss(X, T3, reduction=r),
    "binary_cross_entropy": lambda r: L.binary_cross_entropy(P, P, reduction=r),
    "bce_with_logits": lambda r: L.binary_cross_entropy_with_logits(X, P, reduction=r),
    "triplet_margin_loss": lambda r: L.triplet_margin_loss(X, X, X, reduction=r),
    "kl_div": lambda r: L.kl_div(X, P, reduction=r),
}


@pytest.mark.parametrize("name", list(FUNCTIONAL_CALLS))
def test_unknown_reduction_is_a_value_error_naming_the_allowed_values(name):
    with pytest.raises(
        ValueError, match=r"'avg' is not a valid.*'mean'.*'sum'.*'none'"
    ):
        FUNCTIONAL_CALLS[name]("avg")


def test_shape_errors_raise_under_jit_too():
    with pytest.raises(ValueError, match=r"batch_size \(3\) to match"):
        jax.jit(L.cross_entropy)(X, jnp.array([0, 1]))
    with pytest.raises(RuntimeError, match=r"\[3, 5\] and \[4\]"):
        jax.jit(L.mse_loss)(X, jnp.zeros(4))


def test_class_indices_accept_any_integer_dtype():
    ref = L.cross_entropy(X, T3)
    for dtype in (np.int64, np.int32, np.int16, np.uint8):
        assert float(L.cross_entropy(X, T3.astype(dtype))) == float(ref)


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
    if functional is None:  # TripletMarginLoss: options are positional in torch too
        want = L.triplet_margin_loss(*args, 2.0, 1, swap=True)
    else:
        want = functional(*args, **opts)
    np.testing.assert_array_equal(criterion(*args), want)
    np.testing.assert_allclose(jax.jit(criterion)(*args), want, rtol=RTOL)
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
