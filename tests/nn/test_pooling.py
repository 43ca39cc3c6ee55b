"""Tests of ``jtoolkit/_src/nn/pooling.py`` (``AvgPool2d``, ``MaxPool1d``,
``MaxPool2d``).

Moved from test_layers_more.py, test_models.py when the tests were laid out to mirror
the code; those files' notes:

test_layers_more.py:
Second-wave layers against torch: values, input and parameter gradients, modes,
summary text, state_dict names, init moments and errors.

test_models.py:
Layer and network parity with torch: loaded weights, outputs, gradients, init.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import models
from jtoolkit.models import (
    AvgPool2d,
    MaxPool1d,
)
from tests.nn._harness import _close, _nchw, _nhwc, _parity, _t


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((2,), {}), ((3, 2, 1), {}), ((3, 1), {})],
    ids=str,
)
def test_maxpool1d_matches_torch_with_ties(torch, rng, args, kwargs):
    x = rng.integers(0, 3, (2, 9, 3)).astype(np.float32)  # ties: first max wins
    _parity(torch, rng, torch.nn.MaxPool1d(*args, **kwargs), MaxPool1d(*args), x)


AVG = [
    ((2,), {}),
    ((3, 2, 1), {}),
    ((3, 2, 1), {"count_include_pad": False}),
    (((2, 3), (1, 2), (1, 1)), {"count_include_pad": False}),
    ((3, 1, 1), {"divisor_override": 4}),
]


@pytest.mark.parametrize(("args", "kwargs"), AVG, ids=str)
def test_avgpool2d_matches_torch(torch, rng, args, kwargs):
    x = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    ref = torch.nn.AvgPool2d(*args, **kwargs)
    _parity(torch, rng, ref, AvgPool2d(*args, **kwargs), x)


@pytest.mark.parametrize("args", [(2,), (3, 2, 1), ((2, 3), (1, 2))], ids=str)
def test_maxpool_values_and_tie_gradients_match_torch(torch, rng, args):
    # integer-valued input: many ties, where torch sends the gradient to the first max
    x = rng.integers(0, 3, (2, 7, 6, 3)).astype(np.float32)
    tx = _nchw(torch, x).requires_grad_()
    ty = torch.nn.MaxPool2d(*args)(tx)
    weights = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    (ty * _t(torch, weights)).sum().backward()
    pool = models.MaxPool2d(*args)
    y, pullback = jax.vjp(pool, jnp.asarray(x))
    _close(y, _nhwc(ty), rtol=0, atol=0)
    (grad,) = pullback(jnp.asarray(weights.transpose(0, 2, 3, 1)))
    _close(grad, _nhwc(tx.grad), rtol=0, atol=1e-6)
    assert models.summary(pool) == str(torch.nn.MaxPool2d(*args))
