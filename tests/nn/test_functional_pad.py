"""Tests of ``jtoolkit/_src/nn/functional/padding.py`` (``pad``).

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

# ----------------------------------------------------------------------- pad

PADS = [
    ((3, 4, 5), (1, 2), "constant", None),
    ((3, 4, 5), (2, 1, 0, 3), "constant", 1.5),
    ((3, 4, 5), (1, -2, 0, 1), "constant", None),
    ((3, 4, 5), (1, 1, 1, 1, 1, 1), "constant", None),
    ((3, 4, 5), (2, 3), "reflect", None),
    ((2, 3, 4, 5), (1, 2, 3, 0), "reflect", None),
    ((3, 4, 5), (-1, 3), "reflect", None),
    ((3, 4, 5), (2, 3), "replicate", None),
    ((2, 3, 4, 5), (1, 2, 2, 1), "replicate", None),
    ((1, 2, 3, 4, 5), (1, 0, 0, 1, 2, 1), "replicate", None),
    ((3, 4, 5), (2, 5), "circular", None),
    ((2, 3, 4, 5), (1, -1, 2, 1), "circular", None),
]


@pytest.mark.parametrize("shape, pad, mode, value", PADS)
def test_pad_matches_torch(torch, rng, shape, pad, mode, value):
    x = _x(rng, *shape)
    kwargs = {"mode": mode} if value is None else {"mode": mode, "value": value}
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda a: F.pad(a, pad, **kwargs),
        lambda a: tf.pad(a, pad, **kwargs),
        [x],
    )


def test_pad_integer_value_and_errors_follow_torch(torch):
    xi = np.arange(6).reshape(2, 3)
    ours, theirs = (
        F.pad(xi, (1, 1), value=2.5),
        torch.nn.functional.pad(torch.tensor(xi), (1, 1), value=2.5),
    )
    np.testing.assert_array_equal(ours, theirs.numpy())
    x = np.zeros((2, 3), np.float32)
    cases = [
        ((1, 1, 1), {}, RuntimeError, "divisible by 2"),
        ((1, 1) * 3, {}, RuntimeError, "two times the input dimension"),
        ((3, 3), {"mode": "reflect"}, RuntimeError, "Padding size should be less than"),
        ((4, 1), {"mode": "circular"}, RuntimeError, "wrapping around more than once"),
        (
            (1, 1),
            {"mode": "reflect", "value": 1.0},
            RuntimeError,
            "doesn't take in value",
        ),
        ((1, 1), {"mode": "foo"}, NotImplementedError, "Unrecognised padding mode foo"),
    ]
    for pad, kwargs, exc, text in cases:
        with pytest.raises(exc, match=text):
            torch.nn.functional.pad(torch.tensor(x), pad, **kwargs)
        with pytest.raises(exc, match=text):
            F.pad(x, pad, **kwargs)
    for shape in [(3,), (2, 2, 2, 2)]:
        with pytest.raises(NotImplementedError, match="not supported"):
            torch.nn.functional.pad(torch.zeros(shape), (1, 1), mode="reflect")
        with pytest.raises(NotImplementedError, match="not supported"):
            F.pad(np.zeros(shape, np.float32), (1, 1), mode="reflect")
