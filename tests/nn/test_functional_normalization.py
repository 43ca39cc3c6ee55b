"""Tests of ``jtoolkit/_src/nn/functional/normalization.py`` (``batch_norm``,
``instance_norm``, ``layer_norm``, ``group_norm``, ``rms_norm``,
``local_response_norm``): values and input/weight gradients against
torch.nn.functional in torch's channels-first layout, ``channels_last=True``
as the same numbers on the moved axis, and torch's errors."""

import numpy as np
import pytest

import jtoolkit.functional as F
from tests.nn._harness import _x, check

MEAN = np.float32([0.5, -1.0, 0.25])
VAR = np.float32([0.5, 2.0, 1.5])


def _stats(f):
    """The running statistics as the side's array type (not differentiated)."""
    if f is F:
        return MEAN, VAR
    import torch  # only the torch side (the test's fixture skips without it)

    return torch.tensor(MEAN), torch.tensor(VAR)


CASES = {
    "batch_norm-train": (
        lambda rng: [_x(rng, 4, 3, 5), _x(rng, 3), _x(rng, 3)],
        lambda f, x, w, b: f.batch_norm(x, None, None, w, b, True, 0.1, 1e-3),
    ),
    "batch_norm-eval": (
        lambda rng: [_x(rng, 4, 3), _x(rng, 3)],
        lambda f, x, w: f.batch_norm(x, *_stats(f), w, None, False),
    ),
    "instance_norm": (
        lambda rng: [_x(rng, 2, 3, 4, 2), _x(rng, 3), _x(rng, 3)],
        lambda f, x, w, b: f.instance_norm(x, weight=w, bias=b, eps=1e-3),
    ),
    "instance_norm-running": (
        lambda rng: [_x(rng, 2, 3, 4)],
        lambda f, x: f.instance_norm(x, *_stats(f), use_input_stats=False),
    ),
    "layer_norm": (
        lambda rng: [_x(rng, 2, 3, 4), _x(rng, 3, 4), _x(rng, 3, 4)],
        lambda f, x, w, b: f.layer_norm(x, [3, 4], w, b, 1e-3),
    ),
    "group_norm": (
        lambda rng: [_x(rng, 2, 6, 3), _x(rng, 6), _x(rng, 6)],
        lambda f, x, w, b: f.group_norm(x, 3, w, b),
    ),
    "rms_norm": (
        lambda rng: [_x(rng, 2, 3, 4), _x(rng, 4)],
        lambda f, x, w: f.rms_norm(x, [4], w),
    ),
    "rms_norm-eps": (
        lambda rng: [_x(rng, 2, 3, 4)],
        lambda f, x: f.rms_norm(x, (3, 4), eps=0.1),
    ),
    "local_response_norm": (
        lambda rng: [_x(rng, 2, 5, 3, 2)],
        lambda f, x: f.local_response_norm(x, 3, 0.5, 0.6, 1.5),
    ),
    "local_response_norm-3d": (
        lambda rng: [_x(rng, 2, 4, 3)],
        lambda f, x: f.local_response_norm(x, 2),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_normalisations_match_torch(torch, rng, name):
    make, call = CASES[name]
    check(
        torch,
        rng,
        lambda *a: call(F, *a),
        lambda *a: call(torch.nn.functional, *a),
        make(rng),
        atol=2e-5,
    )


def test_channels_last_is_the_moved_channel_axis(rng):
    x, w, b = _x(rng, 2, 6, 3), _x(rng, 6), _x(rng, 6)
    last = np.moveaxis(x, 1, -1)
    for first, moved in (
        (
            F.batch_norm(x, None, None, w, b, True),
            lambda v: F.batch_norm(v, None, None, w, b, True, channels_last=True),
        ),
        (
            F.instance_norm(x, None, None, w, b),
            lambda v: F.instance_norm(v, None, None, w, b, channels_last=True),
        ),
        (
            F.group_norm(x, 2, w, b),
            lambda v: F.group_norm(v, 2, w, b, channels_last=True),
        ),
        (
            F.local_response_norm(x, 3),
            lambda v: F.local_response_norm(v, 3, channels_last=True),
        ),
    ):
        np.testing.assert_allclose(np.moveaxis(moved(last), -1, 1), first, 1e-6, 1e-6)


BAD = [
    (lambda f, t: f.batch_norm(t(2, 3), None, None), RuntimeError, "running_mean must"),
    (
        lambda f, t: f.batch_norm(t(1, 3), None, None, training=True),
        ValueError,
        "more than 1 value",
    ),
    (lambda f, t: f.instance_norm(t(2, 3, 1)), ValueError, "more than 1 spatial"),
    (lambda f, t: f.group_norm(t(2, 3), 2), RuntimeError, "divisible by num_groups"),
    (lambda f, t: f.rms_norm(t(2, 3), [4]), RuntimeError, "normalized_shape=\\[4\\]"),
    (lambda f, t: f.layer_norm(t(2, 3), [4]), RuntimeError, "normalized_shape=\\[4\\]"),
    (lambda f, t: f.local_response_norm(t(2, 3), 2), ValueError, "3D or higher"),
]


@pytest.mark.parametrize(("call", "exc", "match"), BAD)
def test_bad_calls_raise_as_torch(torch, call, exc, match):
    with pytest.raises(exc, match=match):
        call(torch.nn.functional, torch.ones)
    with pytest.raises(exc, match=match):
        call(F, lambda *s: np.ones(s, np.float32))
