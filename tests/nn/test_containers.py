"""Tests of ``jtoolkit/_src/nn/containers.py`` (``Sequential``).

Moved from test_models_state_dict.py when the tests were laid out to mirror the code;
that file's notes:

summary() text, torch state_dict import/export and its errors, safetensors, modes.
"""

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from jtoolkit.models import (
    BatchNorm2d,
    Conv2d,
    Sequential,
)
from tests.nn._harness import ConvNet


def test_train_eval_switch_through_enclosing_module():
    model = ConvNet(nnx.Rngs(0))
    model.eval()
    assert model.bn.use_running_average and model.drop.deterministic
    model.train()
    assert not model.bn.use_running_average and not model.drop.deterministic


@pytest.mark.parametrize("graph_mode", [True, False])
def test_functional_core_returns_batchnorm_stats_in_both_graph_modes(graph_mode):
    with nnx.set_graph_mode(graph_mode):
        model = Sequential(Conv2d(2, 3, 3, rngs=nnx.Rngs(0)), BatchNorm2d(3))
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)

        @jax.jit
        def step(params, rest, x):  # a pure step, as the training engine's
            def loss(params, rest):
                # Fresh Variables at grad's trace level: merging the jit-level ones
                # captured from outside raises flax's TraceContextError on mutation.
                rest = jax.tree.map(lambda leaf: leaf, rest)
                module = nnx.merge(graphdef, params, rest)
                return jnp.mean(module(x) ** 2), nnx.state(module, nnx.BatchStat)

            grads, rest = jax.grad(loss, has_aux=True)(params, rest)
            params = jax.tree.map(lambda p, g: p - 0.1 * g, params, grads)
            return params, rest

        x = jax.random.normal(jax.random.key(0), (4, 6, 6, 2)) + 3.0
        for _ in range(2):
            params, rest = step(params, rest, x)
        new = nnx.merge(graphdef, params, rest)
        assert int(new[1].num_batches_tracked[...]) == 2
        assert float(jnp.abs(new[1].running_mean[...]).min()) > 0.0
