"""Tests of ``jtoolkit/_src/nn/functional/flatten.py`` (``flatten``).

Moved from test_functional.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.functional against torch.nn.functional: values, gradients (torch
autograd as the oracle on ``sum(f(x) * w)``), under ``jax.jit``, layouts and
torch's exception types.
"""

import jax.numpy as jnp

import jtoolkit.functional as F
from tests.nn._harness import _x, check


def test_flatten_is_torch_flatten_from_dim_1_without_layout_change(torch, rng):
    x = _x(rng, 2, 3, 4, 5)
    check(torch, rng, F.flatten, lambda a: torch.flatten(a, 1), [x])
    check(torch, rng, lambda a: F.flatten(a, 0, 2), lambda a: a.flatten(0, 2), [x])
    # row-major order of the array given, even for an NHWC-looking batch
    nhwc = jnp.arange(8.0).reshape(1, 2, 2, 2)
    assert F.flatten(nhwc).tolist() == [list(range(8))]
