"""Tests of ``jtoolkit/_src/nn/recurrent.py`` (``GRU``, ``LSTM``, ``RNN``).

Moved from test_models.py, test_recurrent.py when the tests were laid out to mirror the
code; those files' notes:

test_models.py:
Layer and network parity with torch: loaded weights, outputs, gradients, init.

test_recurrent.py:
RNN, GRU, LSTM parity with torch: values, gradients, directions, dropout, errors.

Recurrences accumulate rounding over time steps, so torch float64 is the truth and our
float32 error must stay within a small multiple of torch float32's own error plus a
floor (``_near_truth``).
"""

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit import models
from jtoolkit.models import (
    GRU,
    LSTM,
    RNN,
)
from tests.nn._harness import _close, _load_from, _t

# ---------------------------------------------------------------- LSTM, Embedding


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_lstm_matches_torch(torch, rng, num_layers, batch_first):
    ref = torch.nn.LSTM(3, 5, num_layers=num_layers, batch_first=batch_first)
    lstm = LSTM(3, 5, num_layers, batch_first=batch_first, rngs=nnx.Rngs(0))
    lstm = _load_from(ref, lstm)
    x = rng.standard_normal((2, 6, 3) if batch_first else (6, 2, 3)).astype(np.float32)
    h0 = rng.standard_normal((num_layers, 2, 5)).astype(np.float32)
    c0 = rng.standard_normal((num_layers, 2, 5)).astype(np.float32)
    tx = _t(torch, x).requires_grad_()
    t_out, (t_h, t_c) = ref(tx, (_t(torch, h0), _t(torch, c0)))
    (t_out.sum() + t_c.sum()).backward()

    def loss(m, x):
        out, (_, c) = m(x, (h0, c0))
        return out.sum() + c.sum()

    out, (h, c) = lstm(x, (h0, c0))
    _close(out, t_out.detach().numpy())
    _close(h, t_h.detach().numpy())
    _close(c, t_c.detach().numpy())
    grads = jax.jit(jax.grad(loss, (0, 1)))(lstm, x)
    _close(grads[1], tx.grad.numpy(), atol=1e-5)
    for k in range(num_layers):
        name = f"weight_hh_l{k}"
        _close(getattr(grads[0], name)[...], getattr(ref, name).grad.numpy(), atol=1e-5)


def test_lstm_unbatched_and_default_state(torch, rng):
    ref = torch.nn.LSTM(3, 4, batch_first=True)
    lstm = _load_from(ref, LSTM(3, 4, rngs=nnx.Rngs(0)))
    x = rng.standard_normal((5, 3)).astype(np.float32)
    t_out, (t_h, _) = ref(_t(torch, x))
    out, (h, _) = lstm(x)
    _close(out, t_out.detach().numpy())
    _close(h, t_h.detach().numpy())


KINDS = {
    "rnn_tanh": (lambda torch: torch.nn.RNN, RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (lambda torch: torch.nn.RNN, RNN, {"nonlinearity": "relu"}),
    "gru": (lambda torch: torch.nn.GRU, GRU, {}),
    "lstm": (lambda torch: torch.nn.LSTM, LSTM, {}),
}
CONFIGS = {
    "2layer-bidir-seqfirst": {
        "num_layers": 2,
        "bidirectional": True,
        "batch_first": False,
    },
    "1layer-nobias-batchfirst": {"num_layers": 1, "bias": False, "batch_first": True},
}
IN, H, N, T = 3, 4, 2, 5


def _near_truth(ours, t32, t64, factor=4.0, floor=2e-6):
    """Our error vs float64 within ``factor`` x torch float32's error + ``floor``."""
    ours, t32, t64 = (np.asarray(a, np.float64) for a in (ours, t32, t64))
    assert ours.shape == t64.shape
    ours_err = np.max(np.abs(ours - t64), initial=0.0)
    torch_err = np.max(np.abs(t32 - t64), initial=0.0)
    scale = max(1.0, np.max(np.abs(t64), initial=0.0))
    assert ours_err <= factor * torch_err + floor * scale, (ours_err, torch_err)


def _pair(torch, kind, config):
    torch_cls, cls, extra = KINDS[kind]
    ref = torch_cls(torch)(IN, H, **extra, **config)
    model = cls(IN, H, **extra, **config, rngs=nnx.Rngs(0))
    sd = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    return ref, models.load_torch_state_dict(model, sd)


def _flat(out):
    """(output, h_n) or (output, (h_n, c_n)) -> list of arrays."""
    y, state = out
    return [y, *state] if isinstance(state, tuple) else [y, state]


@pytest.mark.parametrize("config", CONFIGS, ids=list(CONFIGS))
@pytest.mark.parametrize("kind", KINDS, ids=list(KINDS))
def test_values_and_grads_match_torch_with_initial_state(torch, rng, kind, config):
    ref, model = _pair(torch, kind, CONFIGS[config])
    cfg = CONFIGS[config]
    dirs = 2 if cfg.get("bidirectional") else 1
    shape = (N, T, IN) if cfg["batch_first"] else (T, N, IN)
    x = rng.standard_normal(shape).astype(np.float32)
    states = [
        rng.standard_normal((cfg["num_layers"] * dirs, N, H)).astype(np.float32)
        for _ in range(2 if kind == "lstm" else 1)
    ]
    hx = tuple(states) if kind == "lstm" else states[0]

    def torch_run(module, dtype):
        tx = torch.tensor(x, dtype=dtype, requires_grad=True)
        ths = [torch.tensor(s, dtype=dtype, requires_grad=True) for s in states]
        out = module(tx, tuple(ths) if kind == "lstm" else ths[0])
        loss = sum((o**2).sum() for o in _flat(out))
        loss.backward()
        grads = {n: p.grad.numpy() for n, p in module.named_parameters()}
        grads.update({f"state{i}": t.grad.numpy() for i, t in enumerate(ths)})
        return [o.detach().numpy() for o in _flat(out)], tx.grad.numpy(), grads

    t32 = torch_run(ref, torch.float32)
    t64 = torch_run(copy.deepcopy(ref).double(), torch.float64)

    def loss(m, x, hx):
        return sum(jnp.sum(o**2) for o in _flat(m(x, hx)))

    for outs in (_flat(model(x, hx)), _flat(jax.jit(lambda m, x: m(x, hx))(model, x))):
        for ours, a, b in zip(outs, t32[0], t64[0], strict=True):
            _near_truth(ours, a, b)
    g_model, g_x, g_hx = jax.jit(jax.grad(loss, (0, 1, 2)))(model, x, hx)
    _near_truth(g_x, t32[1], t64[1])
    for i, grad in enumerate(g_hx if kind == "lstm" else [g_hx]):
        _near_truth(grad, t32[2].pop(f"state{i}"), t64[2][f"state{i}"])
    assert set(t32[2]) == set(models.torch_state_dict(model))
    for name, grad in t32[2].items():
        _near_truth(getattr(g_model, name)[...], grad, t64[2][name])


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_unbatched_input_default_state_matches_torch(torch, rng, kind):
    ref, model = _pair(torch, kind, {"num_layers": 2, "bidirectional": True})
    x = rng.standard_normal((T, IN)).astype(np.float32)
    expected = _flat(ref(torch.from_numpy(x)))
    got = _flat(model(x))
    for ours, theirs in zip(got, expected, strict=True):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), 1e-5, 2e-6)
    assert got[1].shape == (4, H)


@pytest.mark.parametrize("kind", ["rnn_tanh", "gru", "lstm"])
def test_dropout_eval_is_identity_and_train_p1_matches_torch(torch, rng, kind):
    config = {"num_layers": 2, "batch_first": True}
    ref, model = _pair(torch, kind, {**config, "dropout": 1.0})
    x = rng.standard_normal((N, T, IN)).astype(np.float32)
    # train mode (torch's default), p=1: layer 2 sees zeros in both libraries
    train_out = _flat(model(x))
    for ours, theirs in zip(train_out, _flat(ref(torch.from_numpy(x))), strict=True):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), 1e-5, 2e-6)
    model.eval()
    ref.eval()
    eval_out = _flat(model(x))
    for ours, theirs in zip(eval_out, _flat(ref(torch.from_numpy(x))), strict=True):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), 1e-5, 2e-6)
    assert not np.allclose(eval_out[0], train_out[0])
    model.train()
    assert np.allclose(_flat(model(x))[0], train_out[0])


def test_dropout_training_draws_fresh_masks_and_scales(rng):
    model = GRU(IN, H, num_layers=2, dropout=0.5, rngs=nnx.Rngs(0))
    x = rng.standard_normal((N, T, IN)).astype(np.float32)
    first, second = model(x)[0], model(x)[0]
    assert not np.allclose(first, second)
    model.eval()
    assert np.allclose(model(x)[0], model(x)[0])


def test_only_params_without_dropout():
    model = LSTM(IN, H, num_layers=2, bidirectional=True, rngs=nnx.Rngs(0))
    _, _, rest = nnx.split(model, nnx.Param, ...)
    assert jax.tree.leaves(rest) == []


@pytest.mark.parametrize(
    ("kind", "config"),
    [
        ("lstm", {"num_layers": 2, "batch_first": True, "dropout": 0.25}),
        ("gru", dict(num_layers=3, bias=False, bidirectional=True, batch_first=True)),
        ("rnn_relu", {"batch_first": False}),
    ],
)
def test_summary_and_state_dict_round_trip(torch, rng, kind, config):
    torch_cls, cls, extra = KINDS[kind]
    model = cls(IN, H, **extra, **config, rngs=nnx.Rngs(0))
    ref = torch_cls(torch)(IN, H, **extra, **config).eval()
    model.eval()
    assert models.summary(model) == str(ref)
    sd = models.torch_state_dict(model)
    assert list(sd) == list(ref.state_dict())
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    x = rng.standard_normal((N, T, IN) if cls is not RNN else (T, N, IN))
    x = x.astype(np.float32)
    for ours, theirs in zip(
        _flat(model(x)), _flat(ref(torch.from_numpy(x))), strict=True
    ):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), 1e-5, 2e-6)


def test_init_bounds_follow_hidden_size():
    model = GRU(10, 64, bidirectional=True, rngs=nnx.Rngs(0))
    for name in ("weight_ih_l0_reverse", "weight_hh_l0", "bias_hh_l0_reverse"):
        values = np.asarray(getattr(model, name)[...])
        assert np.abs(values).max() <= 1 / 8
        assert np.abs(values).max() > 0.9 / 8
    assert model.weight_ih_l0[...].shape == (192, 10)


def test_errors_match_torch(torch):
    lstm = LSTM(3, 5, num_layers=2, batch_first=False, rngs=nnx.Rngs(0))
    ref = torch.nn.LSTM(3, 5, num_layers=2)
    cases = [
        (np.zeros((2, 4, 4), np.float32), None, RuntimeError, "Expected 3, got 4"),
        (np.zeros((1, 2, 4, 3), np.float32), None, ValueError, "got 4D instead"),
        (
            np.zeros((2, 4, 3), np.float32),
            (np.zeros((1, 4, 5), np.float32), np.zeros((2, 4, 5), np.float32)),
            RuntimeError,
            r"Expected hidden\[0\] size \(2, 4, 5\), got \[1, 4, 5\]",
        ),
        (
            np.zeros((2, 3), np.float32),
            (np.zeros((2, 1, 5), np.float32), np.zeros((2, 1, 5), np.float32)),
            RuntimeError,
            "For unbatched 2-D input",
        ),
    ]
    for x, hx, exc, match in cases:
        t_hx = None if hx is None else tuple(torch.from_numpy(h) for h in hx)
        with pytest.raises(exc, match=match):
            ref(torch.from_numpy(x), t_hx)
        with pytest.raises(exc, match=match):
            lstm(x, hx)
    gru = GRU(3, 5, batch_first=False, rngs=nnx.Rngs(0))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 4, 5\)"):
        gru(np.zeros((2, 4, 3), np.float32), np.zeros((2, 4, 5), np.float32))
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        RNN(3, 5, nonlinearity="gelu", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        GRU(3, 5, dropout=1.5, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="hidden_size must be an integer > 0"):
        RNN(3, 0, rngs=nnx.Rngs(0))
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers"):
        LSTM(3, 5, dropout=0.5, rngs=nnx.Rngs(0))


@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_proj_size_matches_torch(torch, rng, batch_first):
    cfg = {"num_layers": 2, "bidirectional": True, "batch_first": batch_first}
    ref = torch.nn.LSTM(IN, H, proj_size=2, **cfg)
    model = models.LSTM(IN, H, proj_size=2, **cfg, rngs=nnx.Rngs(0))
    sd = models.torch_state_dict(model)
    assert list(sd) == list(ref.state_dict())
    assert {k: v.shape for k, v in sd.items()} == {
        k: tuple(v.shape) for k, v in ref.state_dict().items()
    }
    _load_from(ref, model)
    assert models.summary(model) == str(ref)
    x = rng.standard_normal((N, T, IN) if batch_first else (T, N, IN))
    x = x.astype(np.float32)
    h0 = rng.standard_normal((4, N, 2)).astype(np.float32)
    c0 = rng.standard_normal((4, N, H)).astype(np.float32)
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    out = ref(tx, (th, tc))
    sum((o**2).sum() for o in _flat(out)).backward()

    def loss(m, x, hx):
        return sum(jnp.sum(o**2) for o in _flat(m(x, hx)))

    for ours, theirs in zip(_flat(model(x, (h0, c0))), _flat(out), strict=True):
        _close(ours, theirs.detach().numpy(), atol=2e-6)
    g_model, g_x, (g_h, g_c) = jax.grad(loss, (0, 1, 2))(model, x, (h0, c0))
    for ours, theirs in ((g_x, tx), (g_h, th), (g_c, tc)):
        _close(ours, theirs.grad.numpy(), atol=1e-5)
    for name, p in ref.named_parameters():
        _close(getattr(g_model, name)[...], p.grad.numpy(), atol=1e-5)
    unbatched = model(x[0] if batch_first else x[:, 0])
    expected = ref(tx[0] if batch_first else tx[:, 0])
    for ours, theirs in zip(_flat(unbatched), _flat(expected), strict=True):
        _close(ours, theirs.detach().numpy(), atol=2e-6)


def test_device_keyword_places_the_parameters():
    cpu = jax.devices("cpu")[0]
    model = models.GRU(IN, H, device=cpu, dtype=jnp.bfloat16, rngs=nnx.Rngs(0))
    assert model.weight_ih_l0[...].devices() == {cpu}
    assert model.weight_ih_l0.dtype == jnp.bfloat16
