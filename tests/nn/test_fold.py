"""Tests of ``jtoolkit/_src/nn/fold.py`` and ``nn/functional/fold.py``: ``Fold``,
``Unfold``, ``PixelShuffle``, ``PixelUnshuffle`` and their ``F`` twins against
torch (values, gradients, channels-last layout, summary text, errors)."""

import functools

import jax
import numpy as np
import pytest

import jtoolkit.functional as F
from jtoolkit import models
from tests.nn._harness import _close, _parity, _x, check

FUNCTIONS = [
    ("unfold", (2, 3, 5, 4), {"kernel_size": (2, 3), "dilation": (2, 1), "padding": 1}),
    ("unfold", (2, 4, 4), {"kernel_size": 2, "stride": 2}),  # unbatched
    ("fold", (2, 12, 8), {"output_size": (4, 5), "kernel_size": 2, "stride": (2, 1)}),
    ("fold", (8, 9), {"output_size": 5, "kernel_size": 2, "padding": 1, "stride": 2}),
    ("pixel_shuffle", (2, 8, 3, 2), {"upscale_factor": 2}),
    ("pixel_shuffle", (2, 1, 9, 1, 2), {"upscale_factor": 3}),  # two batch dims
    ("pixel_unshuffle", (3, 4, 6), {"downscale_factor": 2}),
]


@pytest.mark.parametrize(("name", "shape", "kwargs"), FUNCTIONS, ids=str)
def test_functions_match_torch(torch, rng, name, shape, kwargs):
    ours = functools.partial(getattr(F, name), **kwargs)
    theirs = functools.partial(getattr(torch.nn.functional, name), **kwargs)
    x = _x(rng, *shape)
    eager = next(f for f in FUNCTIONS if f[0] == name)[1:] == (shape, kwargs)
    check(torch, rng, ours, theirs, [x], eager=eager)  # once per function eager
    # channels-last: the same numbers with the channel axis moved to the end
    axis = {"unfold": -3, "pixel_shuffle": -3, "pixel_unshuffle": -3, "fold": -2}
    moved = np.moveaxis(x, axis[name], -1)
    out_axis = -2 if name == "unfold" else -3
    wrap = (lambda f: f) if eager else jax.jit
    _close(
        wrap(functools.partial(ours, data_format="NHWC"))(moved),
        np.moveaxis(np.asarray(wrap(ours)(x)), out_axis, -1),
    )


MODULES = [
    ("Unfold", (3,), {"padding": 1, "stride": 2}, (2, 5, 6, 2)),
    ("Fold", ((4, 3), 2), {"stride": 1}, (2, 6, 8)),
    ("PixelShuffle", (2,), {}, (2, 3, 2, 8)),
    ("PixelUnshuffle", (2,), {}, (1, 4, 6, 3)),
]


@pytest.mark.parametrize(("name", "args", "kwargs", "shape"), MODULES, ids=str)
def test_modules_match_torch(torch, rng, name, args, kwargs, shape):
    ref = getattr(torch.nn, name)(*args, **kwargs)
    layer = getattr(models, name)(*args, **kwargs)
    _parity(torch, rng, ref, layer, _x(rng, *shape))


ERRORS = [
    ("fold", (2, 12, 8), ((4, 4), 2)),
    ("fold", (2, 13, 9), ((4, 4), 2)),
    ("unfold", (2, 3, 4, 4), (5,)),
    ("pixel_shuffle", (1, 5, 2, 2), (2,)),
    ("pixel_shuffle", (2, 2), (2,)),
    ("pixel_shuffle", (8, 2, 2), (0,)),
    ("pixel_unshuffle", (1, 5, 3, 2), (2,)),
    ("pixel_unshuffle", (1, 5, 2, 3), (2,)),
]


@pytest.mark.parametrize(("name", "shape", "args"), ERRORS, ids=str)
def test_errors_match_torch(torch, name, shape, args):
    x = np.ones(shape, np.float32)
    with pytest.raises(RuntimeError) as theirs:
        getattr(torch.nn.functional, name)(torch.from_numpy(x), *args)
    with pytest.raises(RuntimeError) as ours:
        getattr(F, name)(x, *args)
    assert str(ours.value) == str(theirs.value)
