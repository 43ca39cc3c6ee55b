"""Tests of ``jtoolkit/_src/nn/conv.py`` (``ConvTranspose2d``).

Moved from test_layers_more.py when the tests were laid out to mirror the code; that
file's notes:

Second-wave layers against torch: values, input and parameter gradients, modes,
summary text, state_dict names, init moments and errors.
"""

import numpy as np
import pytest
from flax import nnx

from jtoolkit.models import (
    ConvTranspose2d,
)
from tests.nn._harness import _parity

CONV_T = [
    ((3, 4, 3), {}),
    ((4, 6, 3), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}),
    ((2, 3, (2, 3)), {"stride": (2, 1), "padding": (0, 1), "dilation": (1, 2)}),
    ((2, 3, 3), {"dilation": 2, "output_padding": 1, "bias": False}),
    ((2, 2, 3), {"stride": 3, "padding": 2}),
]


@pytest.mark.parametrize(("args", "kwargs"), CONV_T, ids=str)
def test_conv_transpose2d_matches_torch(torch, rng, args, kwargs):
    x = rng.standard_normal((2, 5, 4, args[0])).astype(np.float32)
    layer = ConvTranspose2d(*args, **kwargs, rngs=nnx.Rngs(0))
    _parity(torch, rng, torch.nn.ConvTranspose2d(*args, **kwargs), layer, x)
