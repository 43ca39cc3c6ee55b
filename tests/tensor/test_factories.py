"""Tests of ``jtoolkit/_src/tensor/factories.py`` (``arange``, ``empty``, ``eye``,
``from_numpy``, ``full``, ``full_like``, ``linspace``, ``ones``, ...).

Moved from test_tensor_ops_more.py when the tests were laid out to mirror the code; that
file's notes:

The second wave of tensor_ops (factories, reductions, matmul family, softmax,
selection, shape and split ops) against torch: values, dtypes, gradients (torch
autograd as the oracle, both sides differentiating ``sum(op(x) * w)``), under
``jax.jit``, and torch's exception types.
"""

import numpy as np
import pytest

import jtoolkit.tensor_ops as T
from tests.tensor._harness import _dtype

# ----------------------------------------------------------------- factories


def test_factory_dtypes_follow_torch(torch):
    cases = [
        (T.zeros(2, 3), torch.zeros(2, 3)),
        (T.ones((2,), dtype="int32"), torch.ones((2,), dtype=torch.int32)),
        (T.empty(0, 2), torch.zeros(0, 2)),
        (T.full((2, 2), 7), torch.full((2, 2), 7)),
        (T.full((2,), 0.5), torch.full((2,), 0.5)),
        (T.full((2,), True), torch.full((2,), True)),
        (T.eye(3), torch.eye(3)),
        (T.eye(2, 4), torch.eye(2, 4)),
        (T.zeros_like(np.ones((2, 3), np.int16)), torch.zeros(2, 3, dtype=torch.int16)),
        (T.ones_like([1.0, 2.0]), torch.ones(2)),
        (T.full_like([1, 2], 2.7), torch.full_like(torch.tensor([1, 2]), 2.7)),
        (T.full_like([1, 2], -2.7), torch.full_like(torch.tensor([1, 2]), -2.7)),
        (
            T.from_numpy(np.arange(3, dtype=np.uint8)),
            torch.arange(3, dtype=torch.uint8),
        ),
    ]
    for ours, theirs in cases:
        assert ours.dtype == _dtype(theirs.dtype)
        np.testing.assert_array_equal(ours, theirs.numpy())


@pytest.mark.parametrize(
    "args",
    [
        (5,),
        (0.0, 1.0, 0.1),
        (1, 10, 3),
        (10, 1, -3),
        (0, 1, 0.3),
        (-1.5, 2.5, 0.5),
        (0.0, 0.9, 0.1),
        (2.0,),
        (0, 0),
        (1, 2.5),
    ],
)
def test_arange_matches_torch(torch, args):
    ours, theirs = T.arange(*args), torch.arange(*args)
    assert ours.dtype == _dtype(theirs.dtype)
    np.testing.assert_array_equal(ours, theirs.numpy())


@pytest.mark.parametrize(
    "args", [(0, 1, 5), (-3.0, 7.5, 11), (2, 2, 1), (0, 1, 0), (1, 0, 4), (0, 1, 1000)]
)
def test_linspace_matches_torch(torch, args):
    ours, theirs = T.linspace(*args), torch.linspace(*args)
    assert ours.dtype == _dtype(theirs.dtype)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-6, atol=1e-7)
    # both ends are exact
    if args[2] > 1:
        assert ours[0] == args[0] and ours[-1] == args[1]


def test_factory_errors_follow_torch(torch):
    for ours, theirs in [
        (lambda: T.arange(0, 1, 0), lambda: torch.arange(0, 1, 0)),
        (lambda: T.arange(0, 5, -1), lambda: torch.arange(0, 5, -1)),
        (lambda: T.linspace(0, 1, -1), lambda: torch.linspace(0, 1, -1)),
        (lambda: T.zeros(2, -1), lambda: torch.zeros(2, -1)),
        (lambda: T.from_numpy([1]), lambda: torch.from_numpy([1])),
        (lambda: T.zeros(2.5), lambda: torch.zeros(2.5)),
    ]:
        with pytest.raises(Exception) as theirs_err:
            theirs()
        with pytest.raises(theirs_err.type):
            ours()
