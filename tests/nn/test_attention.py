"""Tests of ``jtoolkit/_src/nn/attention.py`` (``MultiheadAttention``).

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
    MultiheadAttention,
)
from tests.nn._harness import HEADS, E, L, N, S, _close_mha, _load


def _masks(rng):
    causal = np.triu(np.ones((L, S), bool), k=1)
    padding = np.zeros((N, S), bool)
    padding[1, -2:] = True
    float_3d = rng.standard_normal((N * HEADS, L, S)).astype(np.float32)
    return {
        "none": {},
        "bool_2d": {"attn_mask": causal},
        "float_3d": {"attn_mask": float_3d},
        "padding": {"key_padding_mask": padding},
        "padding_float_and_bool_2d": {
            "key_padding_mask": np.where(padding, -1e4, 0.0).astype(np.float32),
            "attn_mask": np.where(causal, -np.inf, 0.0).astype(np.float32),
        },
        "per_head_no_average": {
            "attn_mask": float_3d,
            "key_padding_mask": padding,
            "average_attn_weights": False,
        },
    }


@pytest.mark.parametrize(
    "case",
    [
        "none",
        "bool_2d",
        "float_3d",
        "padding",
        "padding_float_and_bool_2d",
        "per_head_no_average",
    ],
)
def test_mha_values_match_torch_with_masks(torch, rng, case):
    ref = torch.nn.MultiheadAttention(E, HEADS)
    mha = _load(ref, MultiheadAttention(E, HEADS, rngs=nnx.Rngs(0)))
    q = rng.standard_normal((L, N, E)).astype(np.float32)
    kv = rng.standard_normal((S, N, E)).astype(np.float32)
    kwargs = _masks(rng)[case]
    t_kwargs = {
        k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
        for k, v in kwargs.items()
    }
    t_out, t_w = ref(*(torch.from_numpy(a) for a in (q, kv, kv)), **t_kwargs)
    # every case jitted (one program); one case, the one using most options, eager
    # too (one program per op and shape): the same Python runs in both
    out, weights = jax.jit(lambda m, q, kv: m(q, kv, kv, **kwargs))(mha, q, kv)
    _close_mha(out, t_out)
    _close_mha(weights, t_w)
    if case == "per_head_no_average":
        out, weights = mha(q, kv, kv, **kwargs)
        _close_mha(out, t_out)
        _close_mha(weights, t_w)


def test_mha_grads_jit_batch_first_and_need_weights_false(torch, rng):
    ref = torch.nn.MultiheadAttention(E, HEADS, batch_first=True, bias=False)
    mha = _load(
        ref,
        MultiheadAttention(E, HEADS, bias=False, batch_first=True, rngs=nnx.Rngs(0)),
    )
    q = rng.standard_normal((N, L, E)).astype(np.float32)
    kv = rng.standard_normal((N, S, E)).astype(np.float32)
    pad = np.zeros((N, S), bool)
    pad[0, 0] = True
    tq = torch.from_numpy(q).requires_grad_()
    t_out, t_w = ref(
        tq,
        torch.from_numpy(kv),
        torch.from_numpy(kv),
        need_weights=False,
        key_padding_mask=torch.from_numpy(pad),
    )
    assert t_w is None
    (t_out**2).sum().backward()

    def loss(m, q):
        out, w = m(q, kv, kv, need_weights=False, key_padding_mask=pad)
        assert w is None
        return jnp.sum(out**2)

    value, (g_m, g_q) = jax.jit(jax.value_and_grad(loss, (0, 1)))(mha, q)
    _close_mha(value, (t_out**2).sum(), rtol=1e-5)
    _close_mha(g_q, tq.grad, atol=1e-5)
    _close_mha(g_m.in_proj_weight[...], ref.in_proj_weight.grad, atol=1e-5)
    _close_mha(g_m.out_proj.kernel[...].T, ref.out_proj.weight.grad, atol=1e-5)


def test_mha_unbatched_and_is_causal(torch, rng):
    ref = torch.nn.MultiheadAttention(E, HEADS)
    mha = _load(ref, MultiheadAttention(E, HEADS, rngs=nnx.Rngs(0)))
    x = rng.standard_normal((L, E)).astype(np.float32)
    tx = torch.from_numpy(x)
    _close_mha(mha(x, x, x)[0], ref(tx, tx, tx)[0])
    _close_mha(mha(x, x, x)[1], ref(tx, tx, tx)[1])
    # is_causal, need_weights=False: torch applies the causal mask, not the given one
    not_causal = np.zeros((L, L), np.float32)
    xb = rng.standard_normal((L, N, E)).astype(np.float32)
    txb = torch.from_numpy(xb)
    expected = ref(
        txb,
        txb,
        txb,
        attn_mask=torch.from_numpy(not_causal),
        need_weights=False,
        is_causal=True,
    )[0]
    got, plain = jax.jit(  # one program; the eager path is checked above
        lambda m, x: (
            m(x, x, x, attn_mask=not_causal, need_weights=False, is_causal=True)[0],
            m(x, x, x, need_weights=False)[0],
        )
    )(mha, xb)
    _close_mha(got, expected)
    assert not np.allclose(got, plain)
    with pytest.raises(
        RuntimeError, match="Need attn_mask if specifying the is_causal"
    ):
        mha(xb, xb, xb, is_causal=True)


def test_mha_init_summary_and_errors(torch):
    mha = MultiheadAttention(E, HEADS, rngs=nnx.Rngs(0))
    assert models.summary(mha) == str(torch.nn.MultiheadAttention(E, HEADS))
    assert list(models.torch_state_dict(mha)) == list(
        torch.nn.MultiheadAttention(E, HEADS).state_dict()
    )
    assert not np.any(np.asarray(mha.in_proj_bias[...]))
    assert not np.any(np.asarray(mha.out_proj.bias[...]))
    bound = np.sqrt(6 / (4 * E))
    w = np.abs(np.asarray(mha.in_proj_weight[...]))
    assert w.max() <= bound and w.max() > 0.8 * bound
    with pytest.raises(
        AssertionError, match="embed_dim must be divisible by num_heads"
    ):
        MultiheadAttention(8, 3, rngs=nnx.Rngs(0))
    x6 = np.zeros((2, 3, 6), np.float32)
    with pytest.raises(
        AssertionError, match="expecting embedding dimension of 8, but got 6"
    ):
        mha(x6, x6, x6)
    x = np.zeros((L, N, E), np.float32)
    with pytest.raises(
        RuntimeError, match=r"The shape of the 2D attn_mask is \(3, 4\)"
    ):
        mha(x, x, x, attn_mask=np.zeros((3, 4), bool))


MHA_ARGS = [
    {"kdim": 3, "vdim": 5},
    {"add_bias_kv": True},
    {"add_zero_attn": True, "bias": False},
    {"add_bias_kv": True, "add_zero_attn": True, "kdim": 6, "vdim": 6},
]


@pytest.mark.parametrize("kwargs", MHA_ARGS, ids=str)
def test_mha_kdim_vdim_bias_kv_zero_attn_match_torch(torch, rng, kwargs):
    ref = torch.nn.MultiheadAttention(E, HEADS, **kwargs)
    with torch.no_grad():
        for p in ref.parameters():  # zero-initialised biases made non-trivial
            p.add_(0.3 * torch.randn_like(p))
    ours = MultiheadAttention(E, HEADS, **kwargs, rngs=nnx.Rngs(0))
    assert list(models.torch_state_dict(ours)) == list(ref.state_dict())
    _load(ref, ours)
    kdim, vdim = kwargs.get("kdim", E), kwargs.get("vdim", E)
    q = rng.standard_normal((L, N, E)).astype(np.float32)
    k = rng.standard_normal((S, N, kdim)).astype(np.float32)
    v = rng.standard_normal((S, N, vdim)).astype(np.float32)
    padding = np.zeros((N, S), bool)
    padding[1, -2:] = True
    causal = np.triu(np.ones((L, S), bool), k=1)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    t_out, t_w = ref(
        tq,
        tk,
        tv,
        key_padding_mask=torch.tensor(padding),
        attn_mask=torch.tensor(causal),
    )
    cot = rng.standard_normal(tuple(t_out.shape)).astype(np.float32)
    (t_out * torch.tensor(cot)).sum().backward()
    # every case jitted (values and gradients in one program); the first case
    # eager too (one program per op and shape): the same Python runs in both
    eager = kwargs == MHA_ARGS[0]
    if eager:
        out, weights = ours(q, k, v, key_padding_mask=padding, attn_mask=causal)
        _close_mha(out, t_out)
        _close_mha(weights, t_w)
    graphdef, params = nnx.split(ours)

    def loss(params, q, k, v):
        y, w = nnx.merge(graphdef, params)(q, k, v, padding, attn_mask=causal)
        return jnp.sum(y * cot), (y, w)

    grad = jax.grad(loss, argnums=(0, 1, 2, 3), has_aux=True)
    (gp, gq, gk, gv), (out, weights) = jax.jit(grad)(params, q, k, v)
    _close_mha(out, t_out)
    _close_mha(weights, t_w)
    for ours_g, theirs in ((gq, tq), (gk, tk), (gv, tv)):
        _close_mha(ours_g, theirs.grad, atol=1e-5)
    grads = models.torch_state_dict(nnx.merge(graphdef, gp))
    for name, p in ref.named_parameters():
        _close_mha(grads[name], p.grad, atol=1e-5)
    call = ours if eager else jax.jit(lambda q, k, v: ours(q, k, v))
    unbatched, _ = call(q[:, 0], k[:, 0], v[:, 0])
    _close_mha(unbatched, ref(tq[:, 0], tk[:, 0], tv[:, 0])[0])
