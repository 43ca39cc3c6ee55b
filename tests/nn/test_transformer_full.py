"""``Transformer``, ``TransformerDecoder(Layer)`` and the causal mask vs torch 2.13."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit import models

E, HEADS, FF, S, T, N = 8, 2, 16, 5, 4, 3


def _load(ref, model):
    sd = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    return models.load_torch_state_dict(model, sd)


@pytest.mark.parametrize("sz", [0, 1, 4])
def test_square_subsequent_mask_matches_torch(torch, sz):
    ours = models.Transformer.generate_square_subsequent_mask(sz)
    theirs = torch.nn.Transformer.generate_square_subsequent_mask(sz)
    assert ours.dtype == jnp.float32 and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours, theirs.numpy())
    f64 = models.Transformer.generate_square_subsequent_mask(2, dtype=jnp.bfloat16)
    assert f64.dtype == jnp.bfloat16


@pytest.mark.parametrize(
    "config",
    [{}, {"norm_first": True, "batch_first": True, "activation": "gelu"}],
)
def test_transformer_values_and_grads_match_torch(torch, rng, config):
    ref = torch.nn.Transformer(E, HEADS, 2, 2, FF, dropout=0.0, **config).double()
    model = models.Transformer(
        E, HEADS, 2, 2, FF, dropout=0.0, **config, rngs=nnx.Rngs(0)
    )
    assert list(models.torch_state_dict(model)) == list(ref.state_dict())
    model = _load(ref.float(), model)
    ref = ref.double()
    bf = config.get("batch_first", False)
    src = rng.standard_normal((N, S, E) if bf else (S, N, E)).astype(np.float32)
    tgt = rng.standard_normal((N, T, E) if bf else (T, N, E)).astype(np.float32)
    mask = models.Transformer.generate_square_subsequent_mask(T)
    t_src = torch.tensor(src, dtype=torch.float64, requires_grad=True)
    t_tgt = torch.tensor(tgt, dtype=torch.float64)
    t_mask = torch.from_numpy(np.asarray(mask, np.float64))
    t_out = ref(t_src, t_tgt, tgt_mask=t_mask, tgt_is_causal=True)
    (t_out**2).sum().backward()
    out = model(src, tgt, tgt_mask=mask, tgt_is_causal=True)
    np.testing.assert_allclose(out, t_out.detach().numpy(), 2e-5, 2e-5)

    def loss(m, src):
        return jnp.sum(m(src, tgt, tgt_mask=mask, tgt_is_causal=True) ** 2)

    g_model, g_src = nnx.grad(loss, argnums=(0, 1))(model, src)
    np.testing.assert_allclose(g_src, t_src.grad.numpy(), 1e-4, 1e-4)
    w = ref.decoder.layers[1].multihead_attn.in_proj_weight.grad.numpy()
    ours = g_model.decoder.layers[1].multihead_attn.in_proj_weight[...]
    np.testing.assert_allclose(ours, w, 1e-4, 1e-4)


def test_transformer_init_is_xavier_and_checks_shapes(torch):
    model = models.Transformer(E, HEADS, 1, 1, FF, rngs=nnx.Rngs(0))
    weight = np.asarray(model.encoder.layers[0].linear1.kernel[...])
    bound = np.sqrt(6 / (E + FF))
    assert bound * 0.8 < np.abs(weight).max() <= bound
    model.eval()
    ref = torch.nn.Transformer(E, HEADS, 1, 1, FF)
    for src, tgt in [((S, N, E), (T, N + 1, E)), ((S, N, E), (T, N, E + 1))]:
        with pytest.raises(RuntimeError):
            ref(torch.zeros(src), torch.zeros(tgt))
        with pytest.raises(RuntimeError):
            model(np.zeros(src, np.float32), np.zeros(tgt, np.float32))


def test_decoder_layer_matches_torch_with_padding_masks(torch, rng):
    ref = torch.nn.TransformerDecoderLayer(E, HEADS, FF, dropout=0.0).eval()
    layer = _load(
        ref, models.TransformerDecoderLayer(E, HEADS, FF, dropout=0.0, rngs=nnx.Rngs(0))
    )
    assert models.summary(layer) == str(ref)
    tgt = rng.standard_normal((T, N, E)).astype(np.float32)
    mem = rng.standard_normal((S, N, E)).astype(np.float32)
    pad = np.zeros((N, S), bool)
    pad[:, -1] = True
    t_out = ref(
        torch.from_numpy(tgt),
        torch.from_numpy(mem),
        memory_key_padding_mask=torch.from_numpy(pad),
    )
    out = layer(tgt, mem, memory_key_padding_mask=pad)
    np.testing.assert_allclose(out, t_out.detach().numpy(), 1e-5, 1e-5)
