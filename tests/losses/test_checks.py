"""Tests of ``jtoolkit/_src/losses/checks.py`` (``LossInputError``,
``TargetOutOfBoundsError``).

Moved from test_losses_api.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.losses: bad input, module-style constructors, the tutorial's losses.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import losses as L
from tests.losses._harness import F32, T3, X

P = np.full((3, 5), 0.5, F32)

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
