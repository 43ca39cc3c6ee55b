"""Tests of ``jtoolkit/_src/nn/dropout.py`` (``Dropout``, ``Dropout2d``).

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
    MLP,
    Dropout,
    Dropout2d,
    Sequential,
)


def test_dropout2d_drops_whole_channels_and_scales(torch):
    p, x = 0.3, jnp.ones((64, 3, 2, 16))
    layer = Dropout2d(p, rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(layer)
    # merged inside the traced function: its Variables belong to vjp's trace

    def call(x):  # Variables copied inside the trace may be mutated (RNG count)
        return nnx.merge(graphdef, jax.tree.map(lambda leaf: leaf, state))(x)

    y, pullback = jax.vjp(call, x)
    per_channel = np.asarray(y).reshape(64, 6, 16)
    assert (per_channel.min(axis=1) == per_channel.max(axis=1)).all()  # whole maps
    np.testing.assert_array_equal(np.unique(per_channel), [0, np.float32(1 / (1 - p))])
    dropped = float((per_channel[:, 0] == 0).mean())
    assert abs(dropped - p) < 4 * np.sqrt(p * (1 - p) / per_channel[:, 0].size)
    (grad,) = pullback(jnp.ones_like(x))
    np.testing.assert_allclose(grad, y)  # d(mask * x / (1 - p))/dx
    unbatched = np.asarray(layer(jnp.ones((2, 2, 5))))
    assert (unbatched.min(axis=(0, 1)) == unbatched.max(axis=(0, 1))).all()
    layer.eval()
    np.testing.assert_array_equal(layer(x), x)
    assert models.summary(Dropout2d(inplace=True)) == str(
        torch.nn.Dropout2d(inplace=True)
    )
    assert models.summary(Dropout(0.1, True)) == str(torch.nn.Dropout(0.1, True))
    with pytest.raises(RuntimeError, match="NHWC"):
        layer.train()
        layer(jnp.ones((2, 3)))


def test_dropout2d_fresh_masks_through_the_functional_core():
    model = Sequential(Dropout2d(0.5, rngs=nnx.Rngs(1)))
    graphdef, state = nnx.split(model)

    @jax.jit
    def step(state, x):
        module = nnx.merge(graphdef, state)
        return module(x), nnx.state(module)

    x = jnp.ones((4, 2, 2, 8))
    first, state = step(state, x)
    second, _ = step(state, x)
    assert not np.array_equal(first, second)


# ---------------------------------------------------------------- Dropout


def test_dropout_scaling_modes_and_validation():
    drop = Dropout(0.25, rngs=nnx.Rngs(0))
    y = np.asarray(drop(jnp.ones(4000)))
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.03
    assert not np.array_equal(y, np.asarray(drop(jnp.ones(4000))))  # fresh masks
    drop.eval()
    np.testing.assert_array_equal(drop(jnp.arange(3.0)), [0.0, 1.0, 2.0])
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            Dropout(bad, rngs=nnx.Rngs(0))


def test_dropout_draws_fresh_masks_through_the_functional_core():
    model = MLP([8, 16, 2], dropout=0.5, rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(model)

    @jax.jit(static_argnums=0)  # the mode lives in the graphdef: static
    def step(graphdef, state, x):
        module = nnx.merge(graphdef, state)
        return module.layers[2](x), nnx.state(module)  # Linear, ReLU, Dropout, ...

    x = jnp.ones((4, 16))
    first, state = step(graphdef, state, x)
    second, state = step(graphdef, state, x)
    assert not np.array_equal(np.asarray(first) == 0, np.asarray(second) == 0)
    model.eval()
    graphdef, state = nnx.split(model)
    third, _ = step(graphdef, state, x)
    np.testing.assert_array_equal(third, x)
