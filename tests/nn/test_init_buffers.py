"""Buffers (torch's ``register_buffer``) and model dtypes (``jax_enable_x64``,
``models.to``) against torch 2.13: ``jtoolkit/_src/nn/init.py``."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit import models


@pytest.fixture
def x64():
    """``jax_enable_x64`` on for one test (JAX's torch.set_default_dtype(float64))."""
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", False)


def _torch_positional_encoding(torch, d_model, max_len, dropout=0.0):
    """The PyTorch tutorial's PositionalEncoding (``register_buffer("pe", ...)``)."""
    nn = torch.nn

    class PositionalEncoding(nn.Module):
        def __init__(self):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            position = torch.arange(max_len).unsqueeze(1)
            div_term = torch.exp(
                torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model)
            )
            pe = torch.zeros(max_len, 1, d_model)
            pe[:, 0, 0::2] = torch.sin(position * div_term)
            pe[:, 0, 1::2] = torch.cos(position * div_term)
            self.register_buffer("pe", pe)
            self.register_buffer("scratch", torch.ones(2), persistent=False)

        def forward(self, x):
            return self.dropout(x + self.pe[: x.size(0)])

    return PositionalEncoding()


class PositionalEncoding(nnx.Module):
    """The port: ``register_buffer`` becomes a ``models.Buffer`` attribute."""

    def __init__(self, d_model, max_len, dropout=0.0, *, rngs):
        self.dropout = models.Dropout(dropout, rngs=rngs)
        position = np.arange(max_len)[:, None]
        div_term = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = np.zeros((max_len, 1, d_model), np.float32)
        pe[:, 0, 0::2] = np.sin(position * div_term)
        pe[:, 0, 1::2] = np.cos(position * div_term)
        self.pe = models.Buffer(jnp.asarray(pe))
        self.scratch = models.Buffer(jnp.ones(2), persistent=False)

    def __call__(self, x):
        return self.dropout(x + self.pe[: x.shape[0]])


def test_positional_encoding_round_trips_torch_state_dict(torch, rng):
    ref = _torch_positional_encoding(torch, 6, 10).eval()
    ours = PositionalEncoding(6, 10, rngs=nnx.Rngs(0))
    assert list(ref.state_dict()) == ["pe"]
    sd = {k: v.numpy() * 2 for k, v in ref.state_dict().items()}  # new values
    models.load_torch_state_dict(ours, sd)
    back = models.torch_state_dict(ours)
    assert list(back) == ["pe"]
    np.testing.assert_array_equal(back["pe"], sd["pe"])
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in back.items()})
    ours.eval()
    x = rng.standard_normal((4, 3, 6)).astype(np.float32)
    np.testing.assert_array_equal(ours(x), ref(torch.from_numpy(x)).numpy())


def test_buffers_are_state_but_not_parameters(tmp_path):
    from jtoolkit import checkpoint

    ours = PositionalEncoding(4, 5, rngs=nnx.Rngs(0))
    state = nnx.state(ours)
    assert "pe" in state and "scratch" in state  # checkpoints and steps carry them
    assert jax.tree.leaves(nnx.state(ours, nnx.Param)) == []
    assert models.count_parameters(ours) == 0
    grads = nnx.grad(lambda m, x: jnp.sum(m(x)))(ours, jnp.ones((2, 1, 4)))
    assert jax.tree.leaves(grads) == []  # no gradient flows into a buffer
    saved = {"model": nnx.to_pure_dict(state)}
    checkpoint.save_checkpoint(tmp_path, saved, 1)
    target = jax.tree.map(jnp.zeros_like, saved)
    restored = checkpoint.restore_checkpoint(tmp_path, target)
    np.testing.assert_array_equal(restored["model"]["pe"], ours.pe[...])


def test_plain_variable_is_not_a_buffer():
    class M(nnx.Module):
        def __init__(self):
            self.table = nnx.Variable(jnp.ones(2))

    assert models.torch_state_dict(M()) == {}  # the documented way is Buffer


def test_models_follow_x64_and_keep_float64_weights(torch, x64, rng):
    ref = torch.nn.Linear(3, 2).double()
    layer = models.Linear(3, 2, rngs=nnx.Rngs(0))
    assert layer.kernel.dtype == jnp.float64  # the default float, as torch's
    sd = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    models.load_torch_state_dict(layer, sd)
    np.testing.assert_array_equal(layer.kernel[...], sd["weight"].T)  # no rounding
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(
        layer(x), ref(torch.from_numpy(x)).detach().numpy(), rtol=1e-14
    )
    lstm = models.LSTM(3, 4, rngs=nnx.Rngs(0))
    assert {v.dtype for v in models.torch_state_dict(lstm).values()} == {
        np.dtype(np.float64)
    }


def test_to_casts_floating_params_and_buffers(x64):
    model = models.Sequential(
        models.Linear(2, 3, rngs=nnx.Rngs(0)), models.LayerNorm(3)
    )
    model.pe = models.Buffer(jnp.ones(3, jnp.float32))
    model.steps = models.Buffer(jnp.zeros((), jnp.int32))
    assert models.to(model, jnp.float32) is model
    dtypes = {k: v.dtype for k, v in models.torch_state_dict(model).items()}
    assert dtypes["pe"] == np.float32 and dtypes["0.weight"] == np.float32
    assert dtypes["steps"] == np.int32  # integers stay
    models.to(model, jnp.float64)
    assert models.torch_state_dict(model)["1.weight"].dtype == np.float64


def test_float32_model_loads_float64_as_torch_copy_does(torch):
    # without x64: torch's load_state_dict copies into the parameter's dtype
    layer = models.Linear(2, 1, rngs=nnx.Rngs(0))
    sd = {"weight": np.array([[0.1, 0.2]]), "bias": np.array([0.3])}
    models.load_torch_state_dict(layer, sd)
    assert layer.kernel.dtype == jnp.float32
    ref = torch.nn.Linear(2, 1)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    assert ref.weight.dtype == torch.float32
    np.testing.assert_array_equal(layer.kernel[...].T, ref.weight.detach().numpy())
    with pytest.raises(ValueError, match="jax_enable_x64"):
        models.to(layer, jnp.float64)
    with pytest.raises(TypeError, match="floating"):
        models.to(layer, jnp.int32)
