"""Tests of ``jtoolkit/_src/nn/padding.py`` (the Zero/Constant/Reflection/
Replication/CircularPad1d-3d modules): channels-last input, torch's padding
tuple (last spatial axis first), values, input gradients and repr."""

import numpy as np
import pytest

from jtoolkit import models
from tests.nn._harness import _close, _parity, _t

CASES = [
    ("ZeroPad1d", (2,), (2, 5, 3)),
    ("ZeroPad2d", ((1, 0, 2, 3),), (2, 4, 5, 3)),
    ("ZeroPad3d", ((1, 0, 2, 1, 0, 2),), (1, 3, 4, 5, 2)),
    ("ConstantPad1d", ((2, -1), 1.5), (2, 5, 3)),
    ("ConstantPad2d", (1, -0.5), (2, 4, 5, 3)),
    ("ConstantPad3d", ((0, 1, 2, 0, 1, 1), 2.0), (1, 3, 4, 5, 2)),
    ("ReflectionPad1d", ((3, 1),), (2, 5, 3)),
    ("ReflectionPad2d", ((1, 2, 3, 0),), (2, 4, 5, 3)),
    ("ReflectionPad3d", (1,), (1, 3, 4, 5, 2)),
    ("ReplicationPad1d", ((0, 4),), (2, 5, 3)),
    ("ReplicationPad2d", ((2, 1, 0, 3),), (2, 4, 5, 3)),
    ("ReplicationPad3d", ((1, 2, 0, 1, 2, 0),), (1, 3, 4, 5, 2)),
    ("CircularPad1d", ((2, 3),), (2, 5, 3)),
    ("CircularPad2d", ((1, 2, 3, 1),), (2, 4, 5, 3)),
    ("CircularPad3d", ((1, 0, 2, 1, 0, 3),), (1, 3, 4, 5, 2)),
]


@pytest.mark.parametrize(("name", "args", "shape"), CASES, ids=str)
def test_padding_modules_match_torch(torch, rng, name, args, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    ref = getattr(torch.nn, name)(*args)
    _parity(torch, rng, ref, getattr(models, name)(*args), x)


@pytest.mark.parametrize(
    ("name", "args", "shape"),
    [
        ("ZeroPad2d", ((1, 0, 2, 3),), (4, 5, 3)),
        ("ReflectionPad1d", (2,), (5, 3)),
        ("CircularPad3d", (1,), (3, 4, 5, 2)),
    ],
    ids=str,
)
def test_padding_modules_take_unbatched_input(torch, rng, name, args, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    ours = getattr(models, name)(*args)(x)
    theirs = getattr(torch.nn, name)(*args)(_t(torch, np.moveaxis(x, -1, 0)))
    _close(ours, np.moveaxis(theirs.numpy(), 0, -1), rtol=0, atol=0)


def test_padding_module_errors(torch):
    x = np.zeros((1, 3, 2), np.float32)  # [N, L, C]: L = 3
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        torch.nn.ReflectionPad1d(3)(torch.zeros(1, 2, 3))
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        models.ReflectionPad1d(3)(x)
    with pytest.raises(RuntimeError, match="channels-last input"):
        models.ZeroPad2d(1)(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="tuple of 4 ints"):
        models.ZeroPad2d((1, 2, 3))
