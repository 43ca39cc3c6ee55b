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

from jtoolkit import models
from jtoolkit.models import (
    BatchNorm1d,
    BatchNorm2d,
    GroupNorm,
    LayerNorm,
)
from tests.nn._harness import _close, _load_from, _parity, _randomize, _t


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
    layer, eager = LayerNorm(shape, **kwargs), kwargs == {}  # one eager; see _parity
    _parity(torch, rng, ref, layer, x, channels_last=False, eager=eager)


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
    eager = groups == 3 and not kwargs  # one case eager, all jitted; see _parity
    _parity(torch, rng, ref, GroupNorm(groups, 6, **kwargs), x, eager=eager)


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


# ------------------- every BatchNorm / InstanceNorm argument, against torch

NORMS = [
    ("BatchNorm1d", {}, (5, 3)),
    ("BatchNorm1d", {"affine": False, "momentum": None}, (4, 6, 3)),
    ("BatchNorm2d", {"track_running_stats": False}, (2, 3, 4, 3)),
    ("BatchNorm2d", {"bias": False}, (2, 3, 4, 3)),
    ("BatchNorm3d", {}, (2, 2, 3, 2, 3)),
    ("InstanceNorm1d", {}, (2, 5, 3)),
    ("InstanceNorm1d", {"affine": True, "track_running_stats": True}, (5, 3)),
    ("InstanceNorm2d", {"affine": True, "bias": False}, (2, 3, 4, 3)),
    ("InstanceNorm2d", {"track_running_stats": True}, (3, 4, 3)),
    ("InstanceNorm3d", {"track_running_stats": True, "momentum": None}, (2, 2, 2, 3)),
]


def _first(x, batched):
    """jtoolkit's channels-last array in torch's channels-first layout."""
    return np.moveaxis(np.asarray(x), -1, 1 if batched else 0)


def _grads(module, x, cotangent):
    """Output, dL/dx and dL/dparams (torch names) of one training call."""
    graphdef, params, rest = nnx.split(nnx.clone(module), nnx.Param, ...)

    def loss(params, x, rest):  # fresh Variables: the statistics may change
        rest = jax.tree.map(lambda leaf: leaf, rest)
        return jnp.sum(nnx.merge(graphdef, params, rest)(x) * cotangent)

    # jitted: eager, each primitive of the training call compiles its own program
    # (the eager training call itself is checked by the caller)
    gp, gx = jax.jit(jax.grad(loss, argnums=(0, 1)))(params, jnp.asarray(x), rest)
    return gx, models.torch_state_dict(nnx.merge(graphdef, gp, rest))


@pytest.mark.parametrize(("name", "kwargs", "shape"), NORMS, ids=str)
def test_norm_arguments_match_torch_train_then_eval(torch, rng, name, kwargs, shape):
    ref = getattr(torch.nn, name)(3, **kwargs)
    ours = getattr(models, name)(3, **kwargs)
    _randomize(torch, ref)
    _load_from(ref, ours)
    assert models.summary(ours) == str(ref)
    assert list(models.torch_state_dict(ours)) == list(ref.state_dict())
    batched = len(shape) == int(name[-2]) + 2 or name == "BatchNorm1d"
    for _ in range(2):
        x = (2.0 + rng.standard_normal(shape)).astype(np.float32)
        tx = torch.tensor(_first(x, batched), requires_grad=True)
        ty = ref(tx)
        w = rng.standard_normal(ty.shape).astype(np.float32)
        (ty * torch.from_numpy(w)).sum().backward()
        cot = np.moveaxis(w, 1 if batched else 0, -1)
        gx, gp = _grads(ours, x, cot)
        _close(_first(ours(x), batched), ty.detach().numpy(), atol=2e-5)
        _close(_first(gx, batched), tx.grad.numpy(), atol=2e-5)
        for key, p in ref.named_parameters():
            _close(gp[key], p.grad.numpy(), atol=2e-5)
            p.grad = None
    ours_sd = models.torch_state_dict(ours)
    for key, value in ref.state_dict().items():
        _close(ours_sd[key], value.numpy())
    ref.eval()
    ours.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    expected = ref(torch.tensor(_first(x, batched))).detach().numpy()
    _close(_first(ours(x), batched), expected, atol=2e-5)


def test_norm_edge_shapes_and_errors_as_torch(torch):
    ref, ours = torch.nn.BatchNorm1d(3), models.BatchNorm1d(3)
    ref(torch.zeros(0, 3))
    assert ours(np.zeros((0, 3), np.float32)).shape == (0, 3)  # an empty batch
    assert int(ours.num_batches_tracked[...]) == int(ref.num_batches_tracked) == 1
    _close(ours.running_var[...], ref.running_var.numpy())
    untracked = models.BatchNorm1d(3, track_running_stats=False)
    untracked.eval()  # batch statistics in eval too: one value still raises
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        untracked(np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        models.InstanceNorm1d(3)(np.ones((2, 1, 3), np.float32))
    with pytest.raises(ValueError, match="to match num_features"):
        models.InstanceNorm1d(3, affine=True)(np.ones((2, 5, 4), np.float32))
    with pytest.warns(UserWarning, match="does not match num_features"):
        models.InstanceNorm1d(3)(np.ones((2, 5, 4), np.float32))
    with pytest.raises(ValueError, match=r"expected 5D input \(got 4D input\)"):
        models.BatchNorm3d(3)(np.ones((2, 2, 2, 3), np.float32))


def test_rmsnorm_and_local_response_norm_match_torch(torch, rng):
    cases = [
        ("RMSNorm", ([3, 4],), (2, 3, 4), False),
        ("RMSNorm", (4, 1e-2, False), (3, 4), False),
        ("LocalResponseNorm", (3, 0.1, 0.6, 2.0), (2, 3, 4, 5), True),
        ("LocalResponseNorm", (2,), (2, 4, 5), True),
    ]
    for i, (name, args, shape, last) in enumerate(cases):
        ref, ours = getattr(torch.nn, name)(*args), getattr(models, name)(*args)
        x = rng.standard_normal(shape).astype(np.float32)
        eager = i in (0, 2)  # one eager case per class; see _parity
        _parity(torch, rng, ref, ours, x, channels_last=last, eager=eager)


def test_norm_factory_keywords_place_and_cast():
    cpu = jax.devices("cpu")[0]
    for layer in (
        models.BatchNorm2d(3, device=cpu, dtype=jnp.bfloat16),
        models.InstanceNorm1d(3, affine=True, device=cpu, dtype=jnp.bfloat16),
        models.LayerNorm(3, device=cpu, dtype=jnp.bfloat16),
        models.GroupNorm(1, 3, device=cpu, dtype=jnp.bfloat16),
        models.RMSNorm(3, device=cpu, dtype=jnp.bfloat16),
    ):
        assert layer.weight.dtype == jnp.bfloat16
        assert layer.weight[...].devices() == {cpu}
    tracked = models.BatchNorm1d(3, dtype=jnp.bfloat16).num_batches_tracked
    assert tracked is not None and tracked.dtype == jnp.int32
