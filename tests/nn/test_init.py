"""Tests of ``jtoolkit/_src/nn/init.py``.

Moved from test_init.py, test_layers_more.py, test_models.py when the tests were laid
out to mirror the code; those files' notes:

test_init.py:
Default initialisation drawn on the host (jtoolkit/_src/nn/init.py): torch's
distributions, a deterministic function of ``nnx.Rngs(seed)``, no compilation per
parameter shape, and the jax.random fallback when the key is traced.

test_layers_more.py:
Second-wave layers against torch: values, input and parameter gradients, modes,
summary text, state_dict names, init moments and errors.

test_models.py:
Layer and network parity with torch: loaded weights, outputs, gradients, init.
"""

import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit import models
from jtoolkit.models import (
    LSTM,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    Embedding,
    GroupNorm,
    LayerNorm,
    Linear,
)

# (jtoolkit builder, torch builder, {our name: torch name}); big enough that the
# sample moments are within 2% of the distribution's (n >= 65k per tensor).
CASES = {
    "Linear": (
        lambda r: models.Linear(512, 256, rngs=r),
        lambda nn: nn.Linear(512, 256),
        {"kernel": "weight"},
    ),
    "Conv2d": (
        lambda r: models.Conv2d(64, 128, 3, rngs=r),
        lambda nn: nn.Conv2d(64, 128, 3),
        {"kernel": "weight"},
    ),
    "ConvTranspose3d": (  # fan_in from weight.size(1) = out/groups
        lambda r: models.ConvTranspose3d(128, 128, 3, groups=2, rngs=r),
        lambda nn: nn.ConvTranspose3d(128, 128, 3, groups=2),
        {"kernel": "weight"},
    ),
    "Embedding": (
        lambda r: models.Embedding(1024, 64, rngs=r),
        lambda nn: nn.Embedding(1024, 64),
        {"weight": "weight"},
    ),
    "LSTM": (
        lambda r: models.LSTM(128, 128, rngs=r),
        lambda nn: nn.LSTM(128, 128),
        {"weight_hh_l0": "weight_hh_l0", "weight_ih_l0": "weight_ih_l0"},
    ),
    "MultiheadAttention": (
        lambda r: models.MultiheadAttention(128, 4, rngs=r),
        lambda nn: nn.MultiheadAttention(128, 4),
        {"in_proj_weight": "in_proj_weight"},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_default_init_matches_torch_distribution(case, torch):
    ours_fn, torch_fn, names = CASES[case]
    torch.manual_seed(0)
    theirs = torch_fn(torch.nn)
    ours = ours_fn(nnx.Rngs(0))
    for mine, name in names.items():
        a = np.asarray(getattr(ours, mine)[...], np.float64)
        b = getattr(theirs, name).detach().numpy().astype(np.float64)
        assert a.size == b.size and a.dtype == b.dtype
        scale = b.std()
        assert abs(a.mean()) < 0.02 * scale
        assert a.std() == pytest.approx(scale, rel=0.02)
        if case != "Embedding":  # uniform: same support
            assert np.abs(a).max() <= np.abs(b).max() * 1.001
            assert np.abs(a).max() == pytest.approx(np.abs(b).max(), rel=0.01)


def test_norm_and_bias_constants():
    bn = models.BatchNorm2d(5)
    assert bn.running_mean[...].dtype == jnp.float32
    assert bn.num_batches_tracked[...].dtype == jnp.int32
    np.testing.assert_array_equal(bn.weight[...], np.ones(5, np.float32))
    np.testing.assert_array_equal(bn.running_var[...], np.ones(5, np.float32))
    ln = models.LayerNorm((3, 4))
    assert ln.weight[...].shape == (3, 4) and ln.bias[...].dtype == jnp.float32
    np.testing.assert_array_equal(ln.bias[...], np.zeros((3, 4), np.float32))
    mha = models.MultiheadAttention(8, 2, rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(mha.in_proj_bias[...], np.zeros(24, np.float32))
    np.testing.assert_array_equal(mha.out_proj.bias[...], np.zeros(8, np.float32))


def test_same_seed_same_model_other_seed_other_model():
    def kernel(seed):
        return np.asarray(models.SimpleNN(6, 5, 3, rngs=nnx.Rngs(seed)).fc2.kernel[...])

    np.testing.assert_array_equal(kernel(3), kernel(3))
    assert not np.array_equal(kernel(3), kernel(4))
    model = models.SimpleNN(6, 5, 3, rngs=nnx.Rngs(3))  # each layer its own stream
    assert not np.array_equal(model.fc1.bias[...], model.fc2.bias[...][:3])


def test_building_compiles_nothing_per_parameter_shape(caplog):
    def build(width):
        model = models.CNN(3, width, rngs=nnx.Rngs(0))
        model.bn = models.BatchNorm1d(width)
        model.ln = models.LayerNorm(width)
        model.emb = models.Embedding(width, 7, rngs=nnx.Rngs(1))
        model.gru = models.GRU(width, 9, rngs=nnx.Rngs(2))
        return jax.block_until_ready(nnx.state(model))

    build(11)  # the shape-independent programs (key seeding, fold_in) compile here
    with caplog.at_level(logging.WARNING), jax.log_compiles(True):
        build(13)  # new parameter shapes everywhere
    compiled = [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage()]
    assert compiled == []


def test_traced_construction_uses_jax_random():
    shapes = nnx.eval_shape(lambda: models.CNN(1, 10, rngs=nnx.Rngs(0)))
    kernel = shapes.classifier[1].kernel.get_value()
    assert kernel.shape == (1024, 128) and kernel.dtype == jnp.float32

    @jax.jit
    def build(key):
        return nnx.state(models.LSTM(4, 6, rngs=nnx.Rngs(key)))

    state = build(jax.random.key(0))
    weight = np.asarray(state["weight_ih_l0"][...])
    assert weight.shape == (24, 4)
    assert 0 < np.abs(weight).max() <= 1 / np.sqrt(6)


def _moments(weights, bound):
    """U(-bound, bound): support, std and mean, each within ~4 sigma of sampling."""
    w = np.asarray(weights, np.float64).ravel()
    n = w.size
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > (1 - 10 / n) * bound  # P(fail) = e^-10
    # sample std of a uniform: relative sd sqrt((9/5 - 1) / (4 n)) = sqrt(0.2 / n)
    np.testing.assert_allclose(w.std(), bound / np.sqrt(3), rtol=4 * np.sqrt(0.2 / n))
    assert abs(w.mean()) < 4 * bound / np.sqrt(3 * n)


def test_default_inits_are_torchs(torch):
    rngs = nnx.Rngs(0)
    conv = Conv1d(8, 64, 5, groups=2, rngs=rngs)
    ref = torch.nn.Conv1d(8, 64, 5, groups=2)
    for w in (conv.kernel[...], ref.weight.detach(), conv.bias[...]):
        _moments(w, 1 / np.sqrt(4 * 5))
    _moments(ref.bias.detach(), 1 / np.sqrt(4 * 5))
    up = ConvTranspose2d(64, 8, 3, groups=2, rngs=rngs)
    ref = torch.nn.ConvTranspose2d(64, 8, 3, groups=2)
    for w in (up.kernel[...], ref.weight.detach()):
        _moments(w, 1 / np.sqrt(4 * 9))  # fan_in from weight.size(1) = out/groups
    for ours, theirs in (
        (LayerNorm(5), torch.nn.LayerNorm(5)),
        (GroupNorm(1, 5), torch.nn.GroupNorm(1, 5)),
    ):
        for key, value in theirs.state_dict().items():
            np.testing.assert_array_equal(
                models.torch_state_dict(ours)[key], value.numpy()
            )


# ---------------------------------------------------------------- init


def _bound_and_std(values, bound):
    values = np.asarray(values).ravel()
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.98 * bound
    np.testing.assert_allclose(values.std(), bound / np.sqrt(3), rtol=0.05)


def test_init_distributions_match_torch(torch):
    rngs = nnx.Rngs(0)
    cases = [
        (Linear(400, 300, rngs=rngs), torch.nn.Linear(400, 300), 1 / 20),
        (Conv2d(16, 32, 3, rngs=rngs), torch.nn.Conv2d(16, 32, 3), 1 / 12),
    ]
    for layer, ref, bound in cases:
        _bound_and_std(layer.kernel[...], bound)
        _bound_and_std(ref.weight.detach(), bound)
        assert np.abs(np.asarray(layer.bias[...])).max() <= bound
    lstm, ref = LSTM(10, 64, rngs=rngs), torch.nn.LSTM(10, 64)
    for name in ("weight_ih_l0", "weight_hh_l0"):
        _bound_and_std(getattr(lstm, name)[...], 1 / 8)
        _bound_and_std(getattr(ref, name).detach(), 1 / 8)
    weights = np.asarray(Embedding(1000, 50, rngs=rngs).weight[...])
    assert abs(weights.mean()) < 0.01
    np.testing.assert_allclose(weights.std(), 1.0, rtol=0.02)
    np.testing.assert_allclose(
        torch.nn.Embedding(1000, 50).weight.std().item(), 1, 0.02
    )
