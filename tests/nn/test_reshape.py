"""Tests of ``jtoolkit/_src/nn/reshape.py`` (``Flatten``, ``Unflatten``).

Moved from test_layers_more.py, test_layout.py when the tests were laid out to mirror
the code; those files' notes:

test_layers_more.py:
Second-wave layers against torch: values, input and parameter gradients, modes,
summary text, state_dict names, init moments and errors.

test_layout.py:
The layout rule (README "What differs from torch", ``Flatten``'s docstring):
``Flatten`` is row-major on the array it gets, as torch; conv networks put NHWC
features into torch's (C, H, W) order themselves before flattening.
"""

import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import models
from jtoolkit.models import (
    Flatten,
    Unflatten,
)


@pytest.mark.parametrize(
    ("ours", "theirs", "shape"),
    [
        (Flatten(), lambda nn: nn.Flatten(), (2, 3, 4, 5)),
        (Flatten(0, 1), lambda nn: nn.Flatten(0, 1), (2, 3, 4)),
        (Flatten(1, 2), lambda nn: nn.Flatten(1, 2), (2, 3, 4, 5)),
        (Flatten(-3, -2), lambda nn: nn.Flatten(-3, -2), (2, 3, 4, 5)),
        (Unflatten(1, (2, 3)), lambda nn: nn.Unflatten(1, (2, 3)), (4, 6, 5)),
        (Unflatten(-1, [-1, 2]), lambda nn: nn.Unflatten(-1, [-1, 2]), (4, 6)),
    ],
    ids=[
        "flatten",
        "flatten-0-1",
        "flatten-1-2",
        "flatten-neg",
        "unflatten",
        "unflatten-neg",
    ],
)
def test_flatten_unflatten_match_torch(torch, rng, ours, theirs, shape):
    ref = theirs(torch.nn)
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(ours(x), ref(torch.from_numpy(x)).numpy())
    assert models.summary(ours) == str(ref)


def test_flatten_never_reorders_a_4d_input(rng):
    x = jnp.asarray(rng.standard_normal((2, 3, 4, 5)).astype(np.float32))
    np.testing.assert_array_equal(Flatten()(x), x.reshape(2, -1))
