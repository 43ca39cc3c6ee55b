"""RNNCell/GRUCell/LSTMCell and the recurrent defaults against torch 2.13.

The cells are one step of the same gate math as RNN/GRU/LSTM (``recurrent.py``);
values and gradients (parameters, input, state) are compared with torch from the
same weights, batched and unbatched; torch float64 is the truth.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit import models

IN, H, N = 3, 4, 2
CELLS = {
    "rnn_tanh": ("RNNCell", {}),
    "rnn_relu": ("RNNCell", {"nonlinearity": "relu"}),
    "gru": ("GRUCell", {}),
    "lstm": ("LSTMCell", {}),
}


def _pair(torch, kind, bias=True):
    name, extra = CELLS[kind]
    ref = getattr(torch.nn, name)(IN, H, bias=bias, **extra).double()
    model = getattr(models, name)(IN, H, bias=bias, **extra, rngs=nnx.Rngs(0))
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in ref.state_dict().items()}
    return ref, models.load_torch_state_dict(model, sd)


def _flat(out):
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("kind", CELLS)
def test_cell_values_and_grads_match_torch(torch, rng, kind, batched, bias):
    ref, model = _pair(torch, kind, bias)
    lead = (N,) if batched else ()
    x = rng.standard_normal((*lead, IN)).astype(np.float32)
    states = [
        rng.standard_normal((*lead, H)).astype(np.float32)
        for _ in range(2 if kind == "lstm" else 1)
    ]
    hx = tuple(states) if kind == "lstm" else states[0]
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ths = [torch.tensor(s, dtype=torch.float64, requires_grad=True) for s in states]
    t_out = _flat(ref(tx, tuple(ths) if kind == "lstm" else ths[0]))
    sum((o**3).sum() for o in t_out).backward()

    def loss(m, x, hx):
        return sum(jnp.sum(o**3) for o in _flat(m(x, hx)))

    for ours, theirs in zip(_flat(model(x, hx)), t_out, strict=True):
        assert ours.shape == theirs.shape and ours.dtype == jnp.float32
        np.testing.assert_allclose(ours, theirs.detach().numpy(), 2e-6, 2e-6)
    g_model, g_x, g_hx = jax.jit(jax.grad(loss, (0, 1, 2)))(model, x, hx)
    np.testing.assert_allclose(g_x, tx.grad.numpy(), 1e-5, 1e-5)
    for ours, theirs in zip(_flat(g_hx), ths, strict=True):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), 1e-5, 1e-5)
    for name, param in ref.named_parameters():
        ours = getattr(g_model, name)[...]
        np.testing.assert_allclose(ours, param.grad.numpy(), 1e-5, 1e-5)


@pytest.mark.parametrize("kind", CELLS)
def test_cell_default_state_names_and_repr_match_torch(torch, rng, kind):
    name, extra = CELLS[kind]
    ref = getattr(torch.nn, name)(IN, H, **extra)
    model = getattr(models, name)(IN, H, **extra, rngs=nnx.Rngs(0))
    assert models.summary(model) == str(ref)
    sd = models.torch_state_dict(model)
    assert list(sd) == list(ref.state_dict())
    assert all(sd[k].shape == tuple(v.shape) for k, v in ref.state_dict().items())
    bound = 1 / np.sqrt(H)
    assert all(np.abs(v).max() <= bound for v in sd.values())
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    x = rng.standard_normal((N, IN)).astype(np.float32)
    for ours, theirs in zip(
        _flat(model(x)), _flat(ref(torch.from_numpy(x))), strict=True
    ):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), 1e-5, 1e-6)
    assert not models.summary(getattr(models, name)(IN, H, False, rngs=nnx.Rngs(0)))[
        :-1
    ].endswith(f"{IN}, {H}")


def test_cell_errors_match_torch(torch):
    ref = torch.nn.LSTMCell(IN, H)
    cell = models.LSTMCell(IN, H, rngs=nnx.Rngs(0))
    cases = [
        (np.zeros((N, 2, IN), np.float32), None, ValueError),
        (np.zeros((N, IN + 1), np.float32), None, RuntimeError),
        (
            np.zeros((N, IN), np.float32),
            (np.zeros((N + 1, H), np.float32), np.zeros((N + 1, H), np.float32)),
            RuntimeError,
        ),
        (
            np.zeros((N, IN), np.float32),
            (np.zeros((N, H + 1), np.float32), np.zeros((N, H + 1), np.float32)),
            RuntimeError,
        ),
    ]
    for x, hx, exc in cases:
        t_hx = None if hx is None else tuple(torch.from_numpy(h) for h in hx)
        with pytest.raises(exc):
            ref(torch.from_numpy(x), t_hx)
        with pytest.raises(exc):
            cell(x, hx)
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        models.RNNCell(IN, H, nonlinearity="gelu", rngs=nnx.Rngs(0))


def test_batch_first_defaults_to_false_as_torch(torch):
    # the trap: [T=7, N=1, I=5] read as time-major, h_n [1, 1, 3]
    x = np.zeros((7, 1, 5), np.float32)
    for cls in (models.RNN, models.GRU):
        out, h = cls(5, 3, rngs=nnx.Rngs(0))(x)
        assert (out.shape, h.shape) == ((7, 1, 3), (1, 1, 3))
    out, (h, c) = models.LSTM(5, 3, rngs=nnx.Rngs(0))(x)
    assert (out.shape, h.shape, c.shape) == ((7, 1, 3), (1, 1, 3), (1, 1, 3))
    t_out, (t_h, _) = torch.nn.LSTM(5, 3)(torch.from_numpy(x))
    assert (tuple(t_out.shape), tuple(t_h.shape)) == (out.shape, h.shape)


def test_fourth_positional_argument_is_bias_as_torch(torch):
    for name in ("GRU", "LSTM"):
        model = getattr(models, name)(3, 4, 1, False, rngs=nnx.Rngs(0))
        ref = getattr(torch.nn, name)(3, 4, 1, False)
        assert list(models.torch_state_dict(model)) == list(ref.state_dict())
        assert not model.bias and not model.batch_first
    rnn = models.RNN(3, 4, 1, "relu", False, True, rngs=nnx.Rngs(0))
    assert (rnn.nonlinearity, rnn.bias, rnn.batch_first) == ("relu", False, True)


def test_proj_size_and_mode_are_checked():
    with pytest.raises(ValueError, match="only supported for LSTM"):
        models.RNNBase("GRU", 3, 4, proj_size=2, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="smaller than hidden_size"):
        models.LSTM(3, 4, proj_size=4, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="proj_size"):
        models.LSTM(3, 4, proj_size=-1, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="mode"):
        models.RNNBase("LSTMX", 3, 4, rngs=nnx.Rngs(0))


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_unbatched_time_major_matches_torch(torch, rng, kind):
    ref = getattr(torch.nn, kind)(IN, H, num_layers=2)
    model = getattr(models, kind)(IN, H, num_layers=2, rngs=nnx.Rngs(0))
    sd = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    models.load_torch_state_dict(model, sd)
    x = rng.standard_normal((5, IN)).astype(np.float32)
    t_out, t_state = ref(torch.from_numpy(x))
    out, state = model(x)
    np.testing.assert_allclose(out, t_out.detach().numpy(), 1e-5, 2e-6)
    for ours, theirs in zip(_flat(state), _flat(t_state), strict=True):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), 1e-5, 2e-6)
