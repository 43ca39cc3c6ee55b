"""Tests of ``jtoolkit/_src/nn/transformer.py`` (``TransformerEncoder``,
``TransformerEncoderLayer``).

Moved from test_attention.py when the tests were laid out to mirror the code; that
file's notes:

MultiheadAttention and the Transformer encoder against torch: loaded weights, masks.

torch's reference runs with autograd on, which keeps it off its inference fast path
(nested tensors zero the padded positions there; documented in TransformerEncoder).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit import models
from jtoolkit.models import (
    TransformerEncoder,
    TransformerEncoderLayer,
)
from tests.nn._harness import HEADS, E, L, N, _close_mha, _load


def _param_grads(loss, model, *args):
    """jit(grad) of ``loss(model, *args)`` w.r.t. the Params and the first arg."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def pure(params, *args):
        return loss(nnx.merge(graphdef, params, rest), *args)

    g_params, g_x = jax.jit(jax.grad(pure, (0, 1)))(params, *args)
    return nnx.merge(graphdef, g_params, rest), g_x


@pytest.mark.parametrize(
    "config",
    [
        {"activation": "relu"},
        {"activation": "gelu", "norm_first": True, "batch_first": True},
    ],
)
def test_encoder_layer_matches_torch_in_eval_with_masks(torch, rng, config):
    ref = torch.nn.TransformerEncoderLayer(E, HEADS, 16, **config).eval()
    layer = _load(
        ref, TransformerEncoderLayer(E, HEADS, 16, **config, rngs=nnx.Rngs(0))
    )
    layer.eval()
    shape = (N, L, E) if config.get("batch_first") else (L, N, E)
    x = rng.standard_normal(shape).astype(np.float32)
    mask = np.triu(np.ones((L, L), bool), k=1)
    pad = np.zeros((N, L), bool)
    pad[1, -1] = True
    tx = torch.from_numpy(x).requires_grad_()
    expected = ref(
        tx, src_mask=torch.from_numpy(mask), src_key_padding_mask=torch.from_numpy(pad)
    )
    (expected**2).sum().backward()

    def loss(m, x):
        return jnp.sum(m(x, src_mask=mask, src_key_padding_mask=pad) ** 2)

    _close_mha(layer(x, src_mask=mask, src_key_padding_mask=pad), expected, atol=1e-5)
    g_m, g_x = _param_grads(loss, layer, x)
    _close_mha(g_x, tx.grad, rtol=1e-4, atol=1e-5)
    _close_mha(g_m.linear1.kernel[...].T, ref.linear1.weight.grad, rtol=1e-4, atol=1e-5)
    _close_mha(g_m.norm1.weight[...], ref.norm1.weight.grad, rtol=1e-4, atol=1e-5)


def test_encoder_clones_like_torch_loads_and_prints(torch, rng):
    t_layer = torch.nn.TransformerEncoderLayer(E, HEADS, 16)
    ref = torch.nn.TransformerEncoder(
        t_layer, 2, norm=torch.nn.LayerNorm(E), enable_nested_tensor=False
    ).eval()
    layer = TransformerEncoderLayer(E, HEADS, 16, rngs=nnx.Rngs(0))
    # the final norm: a LayerNorm taken from a layer (jtoolkit's LayerNorm lives apart)
    norm = TransformerEncoderLayer(E, HEADS, 16, rngs=nnx.Rngs(1)).norm1
    encoder = TransformerEncoder(layer, 2, norm=norm)
    assert models.summary(encoder) == str(ref)
    assert list(models.torch_state_dict(encoder)) == list(ref.state_dict())
    # torch deep-copies the layer: both layers start from identical weights
    sd = models.torch_state_dict(encoder)
    np.testing.assert_array_equal(
        sd["layers.0.linear1.weight"], sd["layers.1.linear1.weight"]
    )
    _load(ref, encoder).eval()
    x = rng.standard_normal((L, N, E)).astype(np.float32)
    pad = np.zeros((N, L), bool)
    pad[0, -1] = True
    expected = ref(torch.from_numpy(x), src_key_padding_mask=torch.from_numpy(pad))
    _close_mha(encoder(x, src_key_padding_mask=pad), expected, atol=1e-5)


def test_encoder_factory_dropout_train_and_eval(rng):
    rngs = nnx.Rngs(0)
    encoder = TransformerEncoder(
        lambda: TransformerEncoderLayer(E, HEADS, 16, dropout=0.5, rngs=rngs), 2
    )
    a = np.asarray(encoder.layers[0].linear1.kernel[...])
    b = np.asarray(encoder.layers[1].linear1.kernel[...])
    assert not np.allclose(a, b)  # a factory initialises every layer afresh
    x = rng.standard_normal((L, N, E)).astype(np.float32)
    assert not np.allclose(encoder(x), encoder(x))  # training mode: fresh masks
    encoder.eval()
    np.testing.assert_array_equal(encoder(x), encoder(x))
    cloned = TransformerEncoder(
        TransformerEncoderLayer(E, HEADS, 16, dropout=0.5, rngs=rngs), 2
    )
    keys = [
        np.asarray(jax.random.key_data(layer.dropout.rngs.key[...]))
        for layer in cloned.layers
    ]
    assert not np.array_equal(keys[0], keys[1])  # clones draw their own masks
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        TransformerEncoderLayer(E, HEADS, activation="tanh", rngs=rngs)
