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
from flax import nnx

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
    ref, eager = torch.nn.MaxPool1d(*args, **kwargs), args == (2,)  # see _parity
    _parity(torch, rng, ref, MaxPool1d(*args), x, eager=eager)


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
    eager = (args, kwargs) == AVG[0]  # jitted for every case; see _parity
    _parity(torch, rng, ref, AvgPool2d(*args, **kwargs), x, eager=eager)


@pytest.mark.parametrize("args", [(2,), (3, 2, 1), ((2, 3), (1, 2))], ids=str)
def test_maxpool_values_and_tie_gradients_match_torch(torch, rng, args):
    # integer-valued input: many ties, where torch sends the gradient to the first max
    x = rng.integers(0, 3, (2, 7, 6, 3)).astype(np.float32)
    tx = _nchw(torch, x).requires_grad_()
    ty = torch.nn.MaxPool2d(*args)(tx)
    weights = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    (ty * _t(torch, weights)).sum().backward()
    pool = models.MaxPool2d(*args)

    def run(x, w):
        y, pullback = jax.vjp(pool, x)
        return y, pullback(w)[0]

    run = run if args == (2,) else jax.jit(run)  # eager once: one program per op
    y, grad = run(jnp.asarray(x), jnp.asarray(weights.transpose(0, 2, 3, 1)))
    _close(y, _nhwc(ty), rtol=0, atol=0)
    _close(grad, _nhwc(tx.grad), rtol=0, atol=1e-6)
    assert models.summary(pool) == str(torch.nn.MaxPool2d(*args))


# ------------------------------------------- every pooling module, 1-D to 3-D

MODULES = [
    ("MaxPool3d", (2,), {}, (2, 4, 5, 4, 3)),
    (
        "MaxPool3d",
        (3, 2, 1),
        {"ceil_mode": True, "dilation": (1, 1, 2)},
        (1, 5, 6, 7, 2),
    ),
    ("AvgPool1d", (3, 2, 1), {}, (2, 9, 3)),
    ("AvgPool1d", (2,), {"ceil_mode": True}, (2, 7, 3)),
    ("AvgPool3d", (2,), {"padding": 1, "count_include_pad": False}, (1, 4, 5, 3, 2)),
    ("AvgPool3d", (3, 2), {"divisor_override": 5}, (1, 5, 6, 5, 2)),
    ("LPPool1d", (2, 3), {"stride": 2}, (2, 9, 3)),
    ("LPPool2d", (2, (2, 3)), {"ceil_mode": True}, (2, 7, 8, 3)),
    ("LPPool3d", (1, 2), {}, (1, 4, 5, 4, 2)),
    ("AdaptiveAvgPool1d", (3,), {}, (2, 7, 3)),
    ("AdaptiveAvgPool3d", ((2, None, 3),), {}, (1, 5, 4, 7, 2)),
    ("AdaptiveMaxPool1d", (3,), {}, (2, 7, 3)),
    ("AdaptiveMaxPool2d", ((4, 5),), {}, (2, 7, 6, 3)),
    ("AdaptiveMaxPool3d", (2,), {}, (1, 5, 4, 7, 2)),
]


@pytest.mark.parametrize(("name", "args", "kwargs", "shape"), MODULES, ids=str)
def test_pooling_modules_match_torch(torch, rng, name, args, kwargs, shape):
    """Channels-last module vs torch's channels-first one: values, input
    gradients (ties on integer-valued input for the max pools) and repr."""
    if "Max" in name:
        x = rng.integers(-3, 4, shape).astype(np.float32)
    else:
        x = np.abs(rng.standard_normal(shape)).astype(np.float32) + 0.1
    ref = getattr(torch.nn, name)(*args, **kwargs)
    eager = next(m for m in MODULES if m[0] == name)[1:] == (args, kwargs, shape)
    _parity(torch, rng, ref, getattr(models, name)(*args, **kwargs), x, eager=eager)


@pytest.mark.parametrize(
    ("name", "args", "shape"),
    [
        ("MaxPool3d", (2,), (4, 5, 4, 3)),
        ("AvgPool1d", (3, 2, 1), (9, 3)),
        ("AdaptiveMaxPool2d", (3,), (7, 6, 3)),
        ("LPPool2d", (2, 2), (5, 4, 3)),
    ],
    ids=str,
)
def test_pooling_modules_take_unbatched_input(torch, rng, name, args, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    ours = getattr(models, name)(*args)(x)
    theirs = getattr(torch.nn, name)(*args)(_t(torch, np.moveaxis(x, -1, 0)))
    _close(ours, np.moveaxis(theirs.numpy(), 0, -1))


def test_max_pool3d_indices_round_trip_through_max_unpool3d(torch, rng):
    x = rng.integers(-3, 4, (2, 4, 5, 4, 3)).astype(np.float32)
    ours, idx = models.MaxPool3d(2, return_indices=True)(x)
    t_pool = torch.nn.MaxPool3d(2, return_indices=True)
    theirs, t_idx = t_pool(_t(torch, x.transpose(0, 4, 1, 2, 3)))
    _close(ours, theirs.numpy().transpose(0, 2, 3, 4, 1), rtol=0, atol=0)
    np.testing.assert_array_equal(idx, t_idx.numpy().transpose(0, 2, 3, 4, 1))
    unpool, t_unpool = models.MaxUnpool3d(2), torch.nn.MaxUnpool3d(2)
    size = (4, 5, 4)
    back = unpool(ours, idx, output_size=size)
    t_back = t_unpool(theirs, t_idx, output_size=size)
    _close(back, t_back.numpy().transpose(0, 2, 3, 4, 1), rtol=0, atol=0)
    assert models.summary(unpool) == str(t_unpool)


def test_fractional_max_pool2d_module_matches_torch_given_samples(torch, rng):
    x = rng.standard_normal((2, 9, 8, 3)).astype(np.float32)
    samples = rng.uniform(size=(2, 3, 2)).astype(np.float32)
    ref = torch.nn.FractionalMaxPool2d(
        2, output_ratio=(0.5, 0.6), _random_samples=torch.tensor(samples)
    )
    ours = models.FractionalMaxPool2d(
        2, output_ratio=(0.5, 0.6), _random_samples=samples
    )
    _parity(torch, rng, ref, ours, x)
    drawn = models.FractionalMaxPool2d(3, output_size=4, rngs=nnx.Rngs(0))
    first, second = drawn(x), drawn(x)
    assert first.shape == (2, 4, 4, 3) and not np.array_equal(first, second)
    with pytest.raises(ValueError, match="either an output size"):
        models.FractionalMaxPool2d(2)
