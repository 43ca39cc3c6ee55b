"""Tests of ``jtoolkit/_src/nn/functional/linear.py`` (``linear``).

Moved from test_functional.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.functional against torch.nn.functional: values, gradients (torch
autograd as the oracle on ``sum(f(x) * w)``), under ``jax.jit``, layouts and
torch's exception types.
"""

import numpy as np
import pytest

import jtoolkit.functional as F
from tests.nn._harness import _x, check

# ----------------------------------------------- linear, one_hot, flatten


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(torch, rng, shape, bias):
    x, w, b = _x(rng, *shape), _x(rng, 4, 3), _x(rng, 4)
    if bias:
        check(torch, rng, F.linear, torch.nn.functional.linear, [x, w, b])
    else:
        check(torch, rng, F.linear, torch.nn.functional.linear, [x, w])


def test_linear_errors_follow_torch(torch):
    x, w = np.zeros((2, 5, 3), np.float32), np.zeros((4, 4), np.float32)
    text = r"mat1 and mat2 shapes cannot be multiplied \(10x3 and 4x4\)"
    with pytest.raises(RuntimeError, match=text):
        torch.nn.functional.linear(torch.tensor(x), torch.tensor(w))
    with pytest.raises(RuntimeError, match=text):
        F.linear(x, w)


@pytest.mark.parametrize("shape", [(4,), (2, 3)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_matches_torch(torch, rng, shape, bias):
    inputs = [_x(rng, *shape, 3), _x(rng, *shape, 2), _x(rng, 5, 3, 2)]
    inputs += [_x(rng, 5)] if bias else []
    check(torch, rng, F.bilinear, torch.nn.functional.bilinear, inputs)


def test_bilinear_errors_follow_torch(torch):
    x1, x2 = np.ones((2, 3), np.float32), np.ones((2, 4), np.float32)
    for m, arr in ((torch.nn.functional, torch.tensor), (F, np.asarray)):
        with pytest.raises(RuntimeError):
            m.bilinear(arr(x1), arr(x2), arr(np.ones((5, 3, 2), np.float32)))
        with pytest.raises(RuntimeError):
            m.bilinear(arr(x1), arr(x2[:1]), arr(np.ones((5, 3, 4), np.float32)))
