"""Tests of ``jtoolkit/_src/nn/normalization.py`` (``BatchNorm1d``, ``BatchNorm2d``,
``GroupNorm``, ``LayerNorm``).

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

from jtoolkit.models import (
    BatchNorm1d,
    BatchNorm2d,
    GroupNorm,
    LayerNorm,
)
from tests.nn._harness import _close, _load_from, _parity, _t


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        (8, {}),
        ((3, 8), {"eps": 1e-3}),
        (8, {"bias": False}),
        (8, {"elementwise_affine": False}),
    ],
    ids=str,
)
def test_layernorm_matches_torch(torch, rng, shape, kwargs):
    x = (rng.standard_normal((2, 3, 8)) * 3 + 5).astype(np.float32)
    ref = torch.nn.LayerNorm(shape, **kwargs)
    _parity(torch, rng, ref, LayerNorm(shape, **kwargs), x, channels_last=False)


@pytest.mark.parametrize(
    ("x_shape", "groups", "kwargs"),
    [
        ((2, 3, 4, 6), 3, {}),
        ((3, 6), 2, {}),  # 2 channels per group would have an exactly-zero dL/dx
        ((2, 5, 6), 3, {"affine": False}),
        ((2, 3, 4, 6), 1, {"eps": 0.1, "bias": False}),
    ],
    ids=str,
)
def test_groupnorm_channels_last_matches_torch(torch, rng, x_shape, groups, kwargs):
    x = (rng.standard_normal(x_shape) * 2 + 1).astype(np.float32)
    ref = torch.nn.GroupNorm(groups, 6, **kwargs)
    _parity(torch, rng, ref, GroupNorm(groups, 6, **kwargs), x)


# ---------------------------------------------------------------- BatchNorm


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("kind", ["1d", "1d_seq", "2d"])
def test_batchnorm_matches_torch_over_training_batches(torch, rng, kind, momentum):
    shape = {"1d": (6, 3), "1d_seq": (4, 5, 3), "2d": (3, 4, 5, 3)}[kind]
    if kind == "2d":
        ref, bn = (
            torch.nn.BatchNorm2d(3, momentum=momentum),
            BatchNorm2d(3, momentum=momentum),
        )
    else:
        ref, bn = (
            torch.nn.BatchNorm1d(3, momentum=momentum),
            BatchNorm1d(3, momentum=momentum),
        )
    with torch.no_grad():
        ref.weight.uniform_(0.5, 2.0)
        ref.bias.uniform_(-1.0, 1.0)
    _load_from(ref, bn)
    graphdef, state = nnx.split(nnx.clone(bn))  # its own variables, not bn's

    @jax.jit
    def step(state, x):  # the training engine's functional path
        module = nnx.merge(graphdef, state)
        return module(x), nnx.state(module)

    def to_torch(x):
        return _t(torch, np.moveaxis(x, -1, 1))

    for _ in range(4):
        # a large offset: the exact two-pass variance matters (E[x^2]-E[x]^2 fails)
        x = (100.0 + rng.standard_normal(shape) * 0.5).astype(np.float32)
        y_eager = bn(x)
        y_jit, state = step(state, x)
        expected = np.moveaxis(ref(to_torch(x)).detach().numpy(), 1, -1)
        _close(y_eager, expected, atol=1e-4)
        _close(y_jit, expected, atol=1e-4)
    jitted = nnx.merge(graphdef, state)
    for module in (bn, jitted):
        _close(module.running_mean[...], ref.running_mean.numpy())
        _close(module.running_var[...], ref.running_var.numpy())
        assert int(module.num_batches_tracked[...]) == 4
    ref.eval()
    bn.eval()
    x = (100.0 + rng.standard_normal(shape)).astype(np.float32)
    _close(bn(x), np.moveaxis(ref(to_torch(x)).detach().numpy(), 1, -1), atol=1e-4)


def test_batchnorm_single_value_per_channel_raises_like_torch():
    bn = BatchNorm1d(4, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        bn(jnp.ones((1, 4)))
    bn.eval()
    assert bn(jnp.ones((1, 4))).shape == (1, 4)
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input\)"):
        BatchNorm2d(4)(jnp.ones((3, 4)))
