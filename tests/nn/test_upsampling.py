"""Tests of ``jtoolkit/_src/nn/functional/upsampling.py`` (``F.interpolate``) and
``jtoolkit/_src/nn/upsampling.py`` (``Upsample``, ``UpsamplingNearest2d``,
``UpsamplingBilinear2d``): torch's sizes, indices and weights, values and input
gradients, every mode, both ``align_corners``, the scale-factor paths."""

import numpy as np
import pytest

import jtoolkit.functional as F
from jtoolkit import models
from tests.nn._harness import _parity, _x, check

CASES = [
    ((2, 3, 5), {"scale_factor": 2}),
    ((2, 3, 5), {"size": 7, "mode": "nearest-exact"}),
    ((1, 2, 5, 4), {"scale_factor": (1.7, 0.6)}),
    ((1, 2, 5, 4), {"size": (3, 9), "mode": "nearest-exact"}),
    ((1, 2, 3, 4, 5), {"scale_factor": 1.5, "mode": "nearest"}),
    ((2, 3, 5), {"size": 8, "mode": "linear"}),
    ((2, 3, 5), {"scale_factor": 2.5, "mode": "linear", "align_corners": True}),
    ((1, 2, 5, 4), {"scale_factor": 1.7, "mode": "bilinear"}),
    ((1, 2, 5, 4), {"size": (3, 9), "mode": "bilinear", "align_corners": True}),
    (
        (1, 2, 5, 4),
        {"scale_factor": 1.7, "mode": "bilinear", "recompute_scale_factor": True},
    ),
    ((1, 2, 5, 4), {"size": (7, 3), "mode": "bicubic"}),
    ((1, 2, 5, 4), {"scale_factor": 2.3, "mode": "bicubic", "align_corners": True}),
    ((1, 2, 3, 4, 5), {"scale_factor": (2, 1.5, 0.7), "mode": "trilinear"}),
    ((1, 2, 3, 4, 5), {"size": (5, 4, 3), "mode": "trilinear", "align_corners": True}),
    ((1, 2, 7, 6), {"size": (3, 4), "mode": "area"}),
    ((0, 2, 5, 4), {"scale_factor": 2, "mode": "bilinear"}),
]


@pytest.mark.parametrize(("shape", "kwargs"), CASES, ids=str)
def test_interpolate_matches_torch(torch, rng, shape, kwargs):
    x = _x(rng, *shape)
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda a: F.interpolate(a, **kwargs),
        lambda a: tf.interpolate(a, **kwargs),
        [x],
        eager=False,
    )


def test_interpolate_channels_last_equals_channels_first(rng):
    x = _x(rng, 2, 3, 5, 4)
    last = np.moveaxis(x, 1, -1)
    for kwargs in ({"scale_factor": 2}, {"size": (4, 7), "mode": "bicubic"}):
        ref = F.interpolate(x, **kwargs)
        got = F.interpolate(last, **kwargs, data_format="NHWC")
        np.testing.assert_allclose(np.moveaxis(np.asarray(got), -1, 1), ref)
    with pytest.raises(ValueError, match="data_format"):
        F.interpolate(x, scale_factor=2, data_format="NLC")


def test_interpolate_errors_follow_torch(torch):
    x = np.zeros((1, 2, 4, 4), np.float32)
    cases = [
        ({"size": 2, "scale_factor": 2}, ValueError, "only one of size"),
        ({}, ValueError, "either size or scale_factor"),
        ({"size": (2, 2, 2)}, ValueError, "same number of spatial dimensions"),
        ({"scale_factor": 2, "align_corners": True}, ValueError, "align_corners"),
        ({"scale_factor": 2, "mode": "linear"}, NotImplementedError, "needs 3D"),
        ({"scale_factor": 2, "mode": "trilinear"}, NotImplementedError, "needs 5D"),
        (
            {"size": 2, "recompute_scale_factor": True},
            ValueError,
            "not meaningful with an explicit size",
        ),
    ]
    for kwargs, exc, text in cases:
        with pytest.raises(exc, match=text):
            torch.nn.functional.interpolate(torch.tensor(x), **kwargs)
        with pytest.raises(exc, match=text):
            F.interpolate(x, **kwargs)
    with pytest.raises(NotImplementedError, match="antialias"):
        F.interpolate(x, scale_factor=2, mode="bilinear", antialias=True)


@pytest.mark.parametrize(
    ("name", "kwargs", "shape"),
    [
        ("Upsample", {"scale_factor": 2}, (2, 5, 3)),
        ("Upsample", {"size": (7, 3), "mode": "bilinear"}, (1, 5, 4, 2)),
        ("Upsample", {"scale_factor": 1.5, "mode": "trilinear"}, (1, 3, 4, 2, 2)),
        ("UpsamplingNearest2d", {"size": (7, 6)}, (1, 5, 4, 2)),
        ("UpsamplingBilinear2d", {"scale_factor": 2}, (1, 5, 4, 2)),
    ],
    ids=str,
)
def test_upsample_modules_match_torch(torch, rng, name, kwargs, shape):
    x = _x(rng, *shape)
    ref = getattr(torch.nn, name)(**kwargs)
    eager = name != "Upsample" or kwargs == {"scale_factor": 2}  # once per class
    _parity(torch, rng, ref, getattr(models, name)(**kwargs), x, eager=eager)
