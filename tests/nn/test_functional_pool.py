"""Tests of ``jtoolkit/_src/nn/functional/pooling.py`` (``adaptive_avg_pool2d``,
``avg_pool2d``, ``max_pool2d``).

Moved from test_functional.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.functional against torch.nn.functional: values, gradients (torch
autograd as the oracle on ``sum(f(x) * w)``), under ``jax.jit``, layouts and
torch's exception types.
"""

import numpy as np
import pytest

import jtoolkit.functional as F
from tests.nn._harness import RTOL, _dtype, _x, check

# ------------------------------------------------------------------- pooling

MAX_POOL = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": (2, 3), "stride": (1, 2)},
    {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "dilation": 2, "padding": 1},
    {"kernel_size": 2, "stride": 1, "dilation": (1, 2), "ceil_mode": True},
]


@pytest.mark.parametrize("kwargs", MAX_POOL)
def test_max_pool2d_matches_torch_on_nchw(torch, rng, kwargs):
    x = rng.integers(-3, 4, (2, 3, 7, 8)).astype(np.float32)  # many ties
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda a: F.max_pool2d(a, **kwargs),
        lambda a: tf.max_pool2d(a, **kwargs),
        [x],
    )


AVG_POOL = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {
        "kernel_size": 2,
        "stride": 2,
        "padding": 1,
        "ceil_mode": True,
        "count_include_pad": False,
    },
    {"kernel_size": (2, 3), "stride": (3, 1), "divisor_override": 4},
]


@pytest.mark.parametrize("kwargs", AVG_POOL)
def test_avg_pool2d_matches_torch_on_nchw(torch, rng, kwargs):
    x = _x(rng, 2, 3, 7, 8)
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda a: F.avg_pool2d(a, **kwargs),
        lambda a: tf.avg_pool2d(a, **kwargs),
        [x],
    )


@pytest.mark.parametrize("size", [1, (2, 3), (3, None), 5, (4, 6)])
def test_adaptive_avg_pool2d_matches_torch(torch, rng, size):
    x = _x(rng, 2, 3, 7, 6)
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda a: F.adaptive_avg_pool2d(a, size),
        lambda a: tf.adaptive_avg_pool2d(a, size),
        [x],
    )


def test_pooling_layouts_unbatched_and_nhwc(rng):
    """NCHW is the default (torch's); NHWC only when asked; CHW/HWC unbatched."""
    x = _x(rng, 2, 3, 6, 6)
    nhwc = np.transpose(x, (0, 2, 3, 1))
    for fn, kwargs in [
        (F.max_pool2d, {"kernel_size": 3, "stride": 2, "padding": 1}),
        (F.avg_pool2d, {"kernel_size": 2}),
        (F.adaptive_avg_pool2d, {"output_size": (4, 2)}),
    ]:
        ref = fn(x, **kwargs)
        got = fn(nhwc, **kwargs, data_format="NHWC")
        np.testing.assert_allclose(got, np.transpose(ref, (0, 2, 3, 1)), rtol=RTOL)
        np.testing.assert_allclose(fn(x[0], **kwargs), ref[0], rtol=RTOL)
        with pytest.raises(ValueError, match="data_format"):
            fn(x, **kwargs, data_format="NCWH")


def test_pooling_errors_follow_torch(torch):
    tf = torch.nn.functional
    cases = [
        (
            "max_pool2d",
            (1, 1, 4, 4),
            {"kernel_size": 3, "padding": 2},
            "pad should be at most half",
        ),
        ("max_pool2d", (4, 4), {"kernel_size": 2}, "3D or 4D"),
        (
            "max_pool2d",
            (1, 1, 9, 9),
            {"kernel_size": 3, "padding": 2, "dilation": 2},
            "smaller than or equal to half of kernel size",
        ),
        ("max_pool2d", (1, 1, 1, 1), {"kernel_size": 2}, "Output size is too small"),
        (
            "max_pool2d",
            (1, 1, 4, 4),
            {"kernel_size": 2, "stride": 0},
            "stride should not be zero",
        ),
        ("avg_pool2d", (1, 1, 4, 4), {"kernel_size": 2, "divisor_override": 0}, None),
    ]
    for name, shape, kwargs, text in cases:
        x = np.zeros(shape, np.float32)
        with pytest.raises(RuntimeError, match=text):
            getattr(tf, name)(torch.tensor(x), **kwargs)
        with pytest.raises(RuntimeError, match=text):
            getattr(F, name)(x, **kwargs)


def test_max_pool2d_propagates_nan_as_torch(torch):
    x = np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4)
    x[0, 0, 0, 0] = x[0, 1, 2, 3] = np.nan  # first and last element of a window
    for kwargs in (
        {"kernel_size": 2},
        {"kernel_size": 2, "stride": 3, "ceil_mode": True},
    ):
        ours = F.max_pool2d(x, **kwargs)
        theirs = torch.nn.functional.max_pool2d(torch.tensor(x), **kwargs)
        np.testing.assert_array_equal(ours, theirs.numpy())


def test_pooling_integer_inputs_follow_torch(torch):
    x = np.arange(32).reshape(1, 2, 4, 4) - 15
    tf = torch.nn.functional
    for kwargs in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1}):
        for name in ("max_pool2d", "avg_pool2d"):
            ours = getattr(F, name)(x, **kwargs)
            theirs = getattr(tf, name)(torch.tensor(x), **kwargs)
            assert ours.dtype == _dtype(theirs.dtype)
            np.testing.assert_array_equal(ours, theirs.numpy())
    with pytest.raises(NotImplementedError, match="not implemented for"):
        tf.adaptive_avg_pool2d(torch.tensor(x), 2)
    with pytest.raises(NotImplementedError, match="not implemented for"):
        F.adaptive_avg_pool2d(x, 2)


@pytest.mark.parametrize("kwargs", MAX_POOL)
def test_max_pool2d_return_indices_match_torch(torch, rng, kwargs):
    x = rng.integers(-3, 4, (2, 3, 7, 8)).astype(np.float32)  # many ties
    x[0, 0, 0, 1] = np.nan
    values, indices = F.max_pool2d(x, **kwargs, return_indices=True)
    t_values, t_indices = torch.nn.functional.max_pool2d(
        torch.tensor(x), **kwargs, return_indices=True
    )
    np.testing.assert_array_equal(values, t_values.numpy())
    np.testing.assert_array_equal(indices, t_indices.numpy())
    assert indices.dtype == _dtype(t_indices.dtype)
    nhwc = np.transpose(x, (0, 2, 3, 1))
    _, idx = F.max_pool2d(nhwc, **kwargs, return_indices=True, data_format="NHWC")
    np.testing.assert_array_equal(np.transpose(idx, (0, 3, 1, 2)), indices)
