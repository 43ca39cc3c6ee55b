"""torch's ``nn.RNN``, ``nn.GRU`` and ``nn.LSTM`` as NNX modules, fused for speed.

Parameters are stored exactly as torch stores them (``weight_ih_l{k}[_reverse]``
[G, I], ``weight_hh_l{k}[_reverse]`` [G, H], ``bias_ih_l{k}``, ``bias_hh_l{k}`` [G],
G = 4H (LSTM gates i, f, g, o), 3H (GRU gates r, z, n) or H (RNN)), so state_dicts map
one to one. Per layer, the input projection of every time step and both directions is
one [T*N, I] @ [I, D*G] matmul hoisted out of the loop; inside ``lax.scan`` each step
is one [N, H] @ [H, G] matmul and elementwise gate math on one [N, G] array.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.core.checks import check_bool
from jtoolkit._src.nn.eager_call import compiled_forward
from jtoolkit._src.nn.functional.dropout import dropout
from jtoolkit._src.nn.init import place, uniform_param

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "GRUCell",
    "LSTMCell",
    "RNNBase",
    "RNNCell",
    "RNNCellBase",
]

# Steps per scan iteration. bench_lstm.py on the 2-core box: 1 and 2 are equal
# within noise (2 looked better only under heavy load), 8 is slower and compiles 3x
# longer; 1 compiles fastest.
_UNROLL = 1

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


_ACTIVATIONS: dict[str, Callable] = {"RNN_TANH": jnp.tanh, "RNN_RELU": jax.nn.relu}


def _lstm_cell(gates: jax.Array, c: jax.Array):
    """One LSTM step from the pre-activation gates [N, 4H] (i, f, g, o) and c [N, H]:
    ``(h', c', activations [N, 4H])``; shared by ``LSTM`` and ``LSTMCell``."""
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    i, f, o = jax.nn.sigmoid(i), jax.nn.sigmoid(f), jax.nn.sigmoid(o)
    g = jnp.tanh(g)
    c = f * c + i * g
    h = o * jnp.tanh(c)
    return h, c, jnp.concatenate([i, f, g, o], axis=-1)


def _gru_cell(gates_x: jax.Array, gates_h: jax.Array, h: jax.Array):
    """One GRU step from W_i x + b_i and W_h h + b_h [N, 3H] (r, z, n) and h:
    ``(h', saved [N, 4H] = r, z, n, W_hn h + b_hn)``; shared by ``GRU``/``GRUCell``."""
    xr, xz, xn = jnp.split(gates_x, 3, axis=-1)
    hr, hz, hn = jnp.split(gates_h, 3, axis=-1)
    r = jax.nn.sigmoid(xr + hr)
    z = jax.nn.sigmoid(xz + hz)
    n = jnp.tanh(xn + r * hn)
    h = n + z * (h - n)  # torch's (1 - z) * n + z * h
    return h, jnp.concatenate([r, z, n, hn], axis=-1)


def _lstm_forward(gates_x, w_hh_t, h0, c0):
    """The LSTM scan, also returning every c and the gate activations [T, N, 4H]."""

    def body(carry, gx):
        h, c = carry
        h, c, acts = _lstm_cell(gx + h @ w_hh_t, c)
        return (h, c), (h, c, acts)

    unroll = max(1, min(_UNROLL, gates_x.shape[0]))
    (h_n, c_n), (hs, cs, acts) = jax.lax.scan(body, (h0, c0), gates_x, unroll=unroll)
    return hs, h_n, c_n, cs, acts


@jax.custom_vjp
def _lstm_fused(gates_x, w_hh_t, h0, c0):
    """LSTM over [T, N, 4H] input gates -> (h for every step, h_n, c_n).

    A hand-written backward: the reverse scan carries only (dh, dc) and emits the
    gate gradients; the recurrent weight's gradient is then one [H, T*N] @ [T*N, 4H]
    matmul instead of T small ones accumulated inside the loop (1.5x faster
    forward+backward for the word-LM layer on CPU, bench_lstm.py).
    """
    hs, h_n, c_n, _, _ = _lstm_forward(gates_x, w_hh_t, h0, c0)
    return hs, h_n, c_n


def _lstm_fused_fwd(gates_x, w_hh_t, h0, c0):
    hs, h_n, c_n, cs, acts = _lstm_forward(gates_x, w_hh_t, h0, c0)
    return (hs, h_n, c_n), (w_hh_t, h0, c0, hs, cs, acts)


def _lstm_fused_bwd(residuals, cotangents):
    w_hh_t, h0, c0, hs, cs, acts = residuals
    d_hs, d_hn, d_cn = cotangents
    c_prev = jnp.concatenate([c0[None], cs[:-1]])
    h_prev = jnp.concatenate([h0[None], hs[:-1]])
    w_hh = w_hh_t.T

    def body(carry, xs):
        dh, dc = carry
        d_out, c, c_p, act = xs
        i, f, g, o = jnp.split(act, 4, axis=-1)
        dh = dh + d_out
        tanh_c = jnp.tanh(c)
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        d_gates = jnp.concatenate(
            [
                dc * g * i * (1 - i),
                dc * c_p * f * (1 - f),
                dc * i * (1 - g * g),
                dh * tanh_c * o * (1 - o),
            ],
            axis=-1,
        )
        return (d_gates @ w_hh, dc * f), d_gates

    unroll = max(1, min(_UNROLL, hs.shape[0]))
    (d_h0, d_c0), d_gates = jax.lax.scan(
        body, (d_hn, d_cn), (d_hs, cs, c_prev, acts), reverse=True, unroll=unroll
    )
    t, n, h = hs.shape
    d_w = h_prev.reshape(t * n, h).T @ d_gates.reshape(t * n, -1)
    return d_gates, d_w, d_h0, d_c0


_lstm_fused.defvjp(_lstm_fused_fwd, _lstm_fused_bwd)


def _gru_forward(gates_x, w_hh_t, b_hh, h0):
    """The GRU scan, also returning r, z, n and W_hn h + b_hn of every step."""

    def body(h, gx):
        h, saved = _gru_cell(gx, h @ w_hh_t + b_hh, h)
        return h, (h, saved)

    unroll = max(1, min(_UNROLL, gates_x.shape[0]))
    h_n, (hs, saved) = jax.lax.scan(body, h0, gates_x, unroll=unroll)
    return hs, h_n, saved


@jax.custom_vjp
def _gru_fused(gates_x, w_hh_t, b_hh, h0):
    """GRU over [T, N, 3H] input gates -> (h for every step, h_n); backward as
    ``_lstm_fused``'s (W_hh's and b_hh's gradients after the reverse scan)."""
    hs, h_n, _ = _gru_forward(gates_x, w_hh_t, b_hh, h0)
    return hs, h_n


def _gru_fused_fwd(gates_x, w_hh_t, b_hh, h0):
    hs, h_n, saved = _gru_forward(gates_x, w_hh_t, b_hh, h0)
    return (hs, h_n), (w_hh_t, h0, hs, saved)


def _gru_fused_bwd(residuals, cotangents):
    w_hh_t, h0, hs, saved = residuals
    d_hs, d_hn = cotangents
    h_prev = jnp.concatenate([h0[None], hs[:-1]])
    w_hh = w_hh_t.T

    def body(dh, xs):
        d_out, h_p, s = xs
        r, z, n, hn = jnp.split(s, 4, axis=-1)
        dh = dh + d_out
        dn = dh * (1 - z) * (1 - n * n)
        dr = dn * hn * r * (1 - r)
        dz = dh * (h_p - n) * z * (1 - z)
        d_gh = jnp.concatenate([dr, dz, dn * r], axis=-1)
        d_gx = jnp.concatenate([dr, dz, dn], axis=-1)
        return dh * z + d_gh @ w_hh, (d_gx, d_gh)

    unroll = max(1, min(_UNROLL, hs.shape[0]))
    d_h0, (d_gx, d_gh) = jax.lax.scan(
        body, d_hn, (d_hs, h_prev, saved), reverse=True, unroll=unroll
    )
    t, n, h = hs.shape
    d_gh = d_gh.reshape(t * n, -1)
    d_w = h_prev.reshape(t * n, h).T @ d_gh
    return d_gx, d_w, d_gh.sum(0), d_h0


_gru_fused.defvjp(_gru_fused_fwd, _gru_fused_bwd)


def _scan_direction(mode, gates_x, w_hh, b_hh, carry0, reverse):
    """Run one direction of one layer over [T, N, G] input gates."""
    if mode in ("LSTM", "GRU"):
        xs = jnp.flip(gates_x, 0) if reverse else gates_x
        if mode == "LSTM":
            out, *final = _lstm_fused(xs, w_hh.T, *carry0)
        else:
            out, *final = _gru_fused(xs, w_hh.T, b_hh, *carry0)
        return tuple(final), (jnp.flip(out, 0) if reverse else out)
    activation = _ACTIVATIONS[mode]
    w_hh_t = w_hh.T

    def body(carry, x_t):
        (h,) = carry
        h = activation(x_t + h @ w_hh_t)
        return (h,), h

    unroll = max(1, min(_UNROLL, gates_x.shape[0]))
    return jax.lax.scan(body, carry0, gates_x, reverse=reverse, unroll=unroll)


def _scan_projected_lstm(gates_x, w_hh, w_hr, carry0, reverse):
    """One direction of an LSTM with ``proj_size``: h' = (o * tanh(c')) @ W_hr^T
    (torch's LSTMP; a plain scan, autodiff's backward)."""
    w_hh_t, w_hr_t = w_hh.T, w_hr.T

    def body(carry, gx):
        h, c = carry
        h, c, _ = _lstm_cell(gx + h @ w_hh_t, c)
        h = h @ w_hr_t
        return (h, c), h

    unroll = max(1, min(_UNROLL, gates_x.shape[0]))
    return jax.lax.scan(body, carry0, gates_x, reverse=reverse, unroll=unroll)


def _check_size(name: str, arg: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name}: {arg} must be an integer > 0, got {value!r}")
    return value


def _param(rngs: nnx.Rngs, shape: tuple[int, ...], bound: float, dtype) -> nnx.Param:
    """U(-bound, bound) as torch's RNN init, in ``dtype`` (None: the default float)."""
    param = uniform_param(rngs, shape, bound)
    return param if dtype is None else nnx.Param(param[...].astype(dtype))


class RNNBase(nnx.Module):
    """The shared body of ``RNN``, ``GRU`` and ``LSTM``, torch's ``nn.RNNBase``.

    torch: ``torch.nn.RNNBase(mode, input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, device=None,
    dtype=None)``. ``mode`` is ``"LSTM"``, ``"GRU"``, ``"RNN_TANH"`` or ``"RNN_RELU"``.
    Parameters are named and shaped as torch's (``weight_ih_l{k}[_reverse]`` [G, W],
    ``weight_hh_l{k}[_reverse]`` [G, H], ``bias_ih_l{k}``, ``bias_hh_l{k}`` [G],
    G = 4H, 3H or H) and drawn from U(-1/sqrt(H), 1/sqrt(H)). ``device`` places
    them (``jax.device_put``; None: JAX's default); ``dtype`` is their dtype (None:
    the default float). ``proj_size`` > 0 (LSTM only) adds torch's projection
    ``weight_hr_l{k}[_reverse]`` [P, H]: h (and the output) has width P and
    ``weight_hh`` is [4H, P].
    Usually built through ``RNN``, ``GRU`` or ``LSTM``.

    Args:
      mode: the cell kind. input_size: I. hidden_size: H. num_layers: stacked layers.
      bias: learn b_ih and b_hh. batch_first: [N, T, *] instead of [T, N, *].
      dropout: in [0, 1], between layers in training mode (masks from the
        ``dropout`` stream of ``rngs``). bidirectional: add a reverse direction.
      proj_size: LSTM's projection size (0: none). device: where the
        parameters are placed. dtype: parameter dtype.
      rngs: ``nnx.Rngs`` with a ``params`` stream.

    Returns:
      A module; see ``RNN``/``GRU``/``LSTM`` for the call.

    Raises:
      ValueError: bad sizes, ``dropout`` or ``mode``; ``proj_size`` > 0 for RNN
        or GRU, or >= ``hidden_size`` (torch's messages).

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import RNNBase
      >>> RNNBase("GRU", 3, 5, rngs=nnx.Rngs(0)).weight_ih_l0.shape
      (15, 3)
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        name = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode!r}; use one of {_GATES}")
        for arg, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            _check_size(name, arg, value)
        if isinstance(proj_size, bool) or not isinstance(proj_size, int):
            raise ValueError(f"proj_size should be an int, got {proj_size!r}")
        if proj_size < 0:
            raise ValueError(
                "proj_size should be a positive integer or zero to disable projections"
            )
        if proj_size > 0 and mode != "LSTM":
            raise ValueError(
                "proj_size argument is only supported for LSTM, not RNN or GRU"
            )
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        bias = check_bool("bias", bias, fn=name)
        batch_first = check_bool("batch_first", batch_first, fn=name)
        bidirectional = check_bool("bidirectional", bidirectional, fn=name)
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, int | float)
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the "
                "probability of an element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so "
                "non-zero dropout expects num_layers greater than 1, but got "
                f"dropout={dropout} and num_layers={num_layers}",
                UserWarning,
                stacklevel=3,
            )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self.deterministic = False  # torch modules start in training mode
        if self.dropout > 0:
            self.dropout_rngs = rngs["dropout"].fork()
        self._init_params(rngs, dtype)
        place(self, device, None)  # torch's device=: where the parameters live

    @property
    def _out_size(self) -> int:
        """The width of h: ``proj_size`` when projecting, else ``hidden_size``."""
        return self.proj_size or self.hidden_size

    def _init_params(self, rngs: nnx.Rngs, dtype) -> None:
        gate_size = _GATES[self.mode] * self.hidden_size
        bound = 1.0 / math.sqrt(self.hidden_size)
        for k in range(self.num_layers):
            width = self.input_size if k == 0 else self._out_size * self._dirs
            for suffix in self._suffixes:
                shapes: dict[str, tuple[int, ...]] = {
                    f"weight_ih_l{k}{suffix}": (gate_size, width),
                    f"weight_hh_l{k}{suffix}": (gate_size, self._out_size),
                }
                if self.bias:
                    shapes[f"bias_ih_l{k}{suffix}"] = (gate_size,)
                    shapes[f"bias_hh_l{k}{suffix}"] = (gate_size,)
                if self.proj_size:  # torch's LSTMP projection [P, H]
                    projection = (self.proj_size, self.hidden_size)
                    shapes[f"weight_hr_l{k}{suffix}"] = projection
                for name, shape in shapes.items():
                    setattr(self, name, _param(rngs, shape, bound, dtype))

    @property
    def _dirs(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def _weight(self, name: str) -> jax.Array:
        """A parameter that always exists (a weight, or a bias when ``bias``)."""
        return getattr(self, name)[...]

    def _layer(self, k: int, seq: jax.Array, carries: list) -> tuple[jax.Array, list]:
        """Layer k over [T, N, W]: output [T, N, D*H] and each direction's carry."""
        t, n, width = seq.shape
        gate_size = _GATES[self.mode] * self.hidden_size
        w_ih = jnp.concatenate(
            [self._weight(f"weight_ih_l{k}{s}") for s in self._suffixes]
        )
        gates_x = (seq.reshape(t * n, width) @ w_ih.T).reshape(t, n, -1)
        outs, finals = [], []
        for d, suffix in enumerate(self._suffixes):
            part = gates_x[..., d * gate_size : (d + 1) * gate_size]
            if self.bias:
                b_ih = self._weight(f"bias_ih_l{k}{suffix}")
                b_hh = self._weight(f"bias_hh_l{k}{suffix}")
                part = part + (b_ih if self.mode == "GRU" else b_ih + b_hh)
            else:
                b_hh = jnp.zeros((gate_size,), part.dtype)
            w_hh = self._weight(f"weight_hh_l{k}{suffix}")
            if self.proj_size:
                w_hr = self._weight(f"weight_hr_l{k}{suffix}")
                final, out = _scan_projected_lstm(
                    part, w_hh, w_hr, carries[d], reverse=d == 1
                )
            else:
                final, out = _scan_direction(
                    self.mode, part, w_hh, b_hh, carries[d], reverse=d == 1
                )
            outs.append(out)
            finals.append(final)
        return (outs[0] if len(outs) == 1 else jnp.concatenate(outs, -1)), finals

    def _dropout(self, seq: jax.Array) -> jax.Array:
        if self.dropout == 0 or self.deterministic:
            return seq
        return dropout(seq, self.dropout, True, self.dropout_rngs())

    def _check_input(self, x: jax.Array) -> bool:
        name = type(self).__name__
        if x.ndim not in (2, 3):
            raise ValueError(
                f"{name}: Expected input to be 2D or 3D, got {x.ndim}D instead"
            )
        if x.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected "
                f"{self.input_size}, got {x.shape[-1]} ({name} input of shape "
                f"{tuple(x.shape)})"
            )
        return x.ndim == 2

    def _state(
        self, value, batch: int, unbatched: bool, what: str, dtype, size=None
    ) -> jax.Array:
        """An initial state as [L*D, N, size] (zeros when ``value`` is None); size
        is H, or ``proj_size`` for a projected LSTM's h."""
        size = self._out_size if size is None else size
        shape = (self.num_layers * self._dirs, batch, size)
        if value is None:  # the dtype the recurrence computes in (bf16 steps too)
            return jnp.zeros(
                shape, jnp.result_type(dtype, self._weight("weight_hh_l0"))
            )
        value = jnp.asarray(value)
        if unbatched:
            if value.ndim != 2:
                raise RuntimeError(
                    f"For unbatched 2-D input, {what} should also be 2-D but got "
                    f"{value.ndim}-D tensor"
                )
            value = value[:, None]
        if value.shape != shape:
            label = "hidden size" if what == "hx" else f"hidden[{what}] size"
            raise RuntimeError(f"Expected {label} {shape}, got {list(value.shape)}")
        return value

    def _run(self, x, initial: list[jax.Array]):
        """Shared forward: returns output and the final states, one per carry part."""
        seq = x.swapaxes(0, 1) if self.batch_first else x  # [T, N, I]
        finals = []
        for k in range(self.num_layers):
            if k > 0:
                seq = self._dropout(seq)
            carries = [
                tuple(s[k * self._dirs + d] for s in initial) for d in range(self._dirs)
            ]
            seq, layer_finals = self._layer(k, seq, carries)
            finals.extend(layer_finals)
        out = seq.swapaxes(0, 1) if self.batch_first else seq
        states = [jnp.stack([f[i] for f in finals]) for i in range(len(initial))]
        return out, states

    def _batch_axis(self) -> int:
        return 0 if self.batch_first else 1

    def _initial(self, hx, batch: int, unbatched: bool, dtype) -> list[jax.Array]:
        """The initial states [h0] (RNN, GRU) or [h0, c0] (LSTM), checked as torch."""
        if self.mode != "LSTM":
            return [self._state(hx, batch, unbatched, "hx", dtype)]
        if hx is None:
            h0 = self._state(None, batch, False, "0", dtype)
            c0 = self._state(None, batch, False, "1", dtype, self.hidden_size)
            return [h0, c0]
        h0, c0 = hx
        if unbatched and (jnp.ndim(h0) != 2 or jnp.ndim(c0) != 2):
            raise RuntimeError(
                "For unbatched 2-D input, hx and cx should also be 2-D but got "
                f"({jnp.ndim(h0)}-D, {jnp.ndim(c0)}-D) tensors"
            )
        return [
            self._state(h0, batch, unbatched, "0", dtype),
            self._state(c0, batch, unbatched, "1", dtype, self.hidden_size),
        ]

    @compiled_forward
    def __call__(self, input: jax.Array, hx=None):
        """``(output, h_n)`` (RNN, GRU) or ``(output, (h_n, c_n))`` (LSTM)."""
        x = jnp.asarray(input)
        unbatched = self._check_input(x)
        axis = self._batch_axis()
        if unbatched:
            x = jnp.expand_dims(x, axis)
        initial = self._initial(hx, x.shape[axis], unbatched, x.dtype)
        out, states = self._run(x, initial)
        if unbatched:
            out = jnp.squeeze(out, axis)
            states = [s[:, 0] for s in states]
        return out, (tuple(states) if self.mode == "LSTM" else states[0])

    def _torch_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout != 0:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


_SHAPES_DOC = """
    Shapes (L = num_layers, D = 2 if bidirectional else 1): input [T, N, I] (torch's
    default ``batch_first=False``), [N, T, I] with ``batch_first=True``, or unbatched
    [T, I]; ``output`` has the input's layout with D*H features (the last layer's h
    at every step, directions concatenated forward first); states are [L*D, N, H]
    ([L*D, H] unbatched) in every layout, ordered layer by layer, forward before
    reverse."""


class RNN(RNNBase):
    """Elman RNN, h' = act(W_ih x + b_ih + W_hh h + b_hh), torch's ``nn.RNN``.

    torch: ``torch.nn.RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh',
    bias=True, batch_first=False, dropout=0.0, bidirectional=False, device=None,
    dtype=None)``, same order and defaults. Parameters and their init
    U(-1/sqrt(H), 1/sqrt(H)) are torch's. ``dropout`` applies to every layer's output
    but the last, only in training mode (``.train()``, the default; ``.eval()``
    turns it off), with masks from the ``dropout`` stream of ``rngs`` (not torch's
    masks).

    Args:
      input_size: I. hidden_size: H. num_layers: stacked layers.
      nonlinearity: ``"tanh"`` or ``"relu"``. bias: learn b_ih and b_hh.
      batch_first: layout of input and output (see Shapes). dropout: in [0, 1].
      bidirectional: run a reverse direction too. device: ignored. dtype: parameter
      dtype (None: the default float). rngs: ``nnx.Rngs``.

    Returns:
      Called as ``rnn(input, hx=None)`` -> ``(output, h_n)``.

    Raises:
      ValueError: bad arguments, or input that is not 2-D/3-D. RuntimeError (at call):
        wrong input size or initial-state shape, in torch's words.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import RNN
      >>> rnn = RNN(3, 5, num_layers=2, bidirectional=True, rngs=nnx.Rngs(0))
      >>> out, h = rnn(jnp.ones((7, 4, 3)))  # [T, N, I]
      >>> out.shape, h.shape
      ((7, 4, 10), (4, 4, 5))
    """

    __doc__ = (__doc__ or "") + _SHAPES_DOC

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        self.nonlinearity = nonlinearity
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        args = (bias, batch_first, dropout, bidirectional, 0, device, dtype)
        super().__init__(mode, input_size, hidden_size, num_layers, *args, rngs=rngs)


class GRU(RNNBase):
    """Gated recurrent unit, torch's ``nn.GRU`` (gates r, z, n in torch's order).

    torch: ``torch.nn.GRU(input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None)``,
    same order and defaults. r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z likewise,
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h. Init
    U(-1/sqrt(H), 1/sqrt(H)); ``dropout`` as in ``RNN``. Like ``LSTM``, the
    recurrence has a hand-written backward pass (``jax.custom_vjp``): reverse-mode
    only, no ``jax.jvp``/``jacfwd``/``hessian`` (``GRUCell`` has no such limit).

    Args:
      input_size: I. hidden_size: H. num_layers: stacked layers.
      bias: learn b_ih and b_hh. batch_first: layout (see Shapes).
      dropout: in [0, 1]. bidirectional: run a reverse direction too.
      device: ignored. dtype: parameter dtype (None: the default float).
      rngs: ``nnx.Rngs``.

    Returns:
      Called as ``gru(input, hx=None)`` -> ``(output, h_n)``.

    Raises:
      ValueError: bad arguments, or input that is not 2-D/3-D. RuntimeError (at call):
        wrong input size or initial-state shape, in torch's words.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import GRU
      >>> gru = GRU(3, 5, rngs=nnx.Rngs(0))
      >>> out, h = gru(jnp.ones((7, 4, 3)))  # [T, N, I]
      >>> out.shape, h.shape
      ((7, 4, 5), (1, 4, 5))
    """

    __doc__ = (__doc__ or "") + _SHAPES_DOC

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        args = (bias, batch_first, dropout, bidirectional, 0, device, dtype)
        super().__init__("GRU", input_size, hidden_size, num_layers, *args, rngs=rngs)


class LSTM(RNNBase):
    """Multi-layer LSTM returning ``(output, (h_n, c_n))``, torch's ``nn.LSTM``.

    torch: ``torch.nn.LSTM(input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, device=None,
    dtype=None)``, same order and defaults (up to jtoolkit 0.1.0 the 4th positional
    argument was ``batch_first`` and its default True). Gates (i, f, g, o),
    c' = f*c + i*g, h' = o*tanh(c'); two biases; every parameter U(+-1/sqrt(H));
    ``dropout`` as in ``RNN``. ``proj_size`` > 0 projects h to P dims
    (``weight_hr_l{k}`` [P, H], torch's LSTMP). The recurrence has
    a hand-written backward pass (``jax.custom_vjp``, for speed): reverse-mode
    (``jax.grad``, ``vjp``) works, forward-mode (``jax.jvp``, ``jacfwd``,
    ``hessian``) does not (``LSTMCell`` has no such limit).

    Args:
      input_size: I, last dimension of the input.
      hidden_size: H.
      num_layers: stacked layers.
      bias: learn b_ih and b_hh.
      batch_first: input/output [N, T, *] when True, [T, N, *] when False (default).
      dropout: in [0, 1], between layers in training mode.
      bidirectional: run a reverse direction too.
      proj_size: projection size (0: none). device: ignored.
      dtype: parameter dtype (None: the default float).
      rngs: ``nnx.Rngs`` with a ``params`` (and, for dropout, ``dropout``) stream.

    Returns:
      Called as ``lstm(input, hx=None)`` with optional ``hx = (h_0, c_0)``:
      ``(output, (h_n, c_n))``.

    Raises:
      ValueError: bad arguments, or input that is not 2-D/3-D. RuntimeError (at call):
        wrong input size or initial-state shape, in torch's words.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import LSTM
      >>> lstm = LSTM(3, 5, num_layers=2, batch_first=True, rngs=nnx.Rngs(0))
      >>> out, (h, c) = lstm(jnp.ones((4, 7, 3)))  # [N, T, I]
      >>> out.shape, h.shape, c.shape
      ((4, 7, 5), (2, 4, 5), (2, 4, 5))
    """

    __doc__ = (__doc__ or "") + _SHAPES_DOC

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        args = (bias, batch_first, dropout, bidirectional, proj_size, device, dtype)
        super().__init__("LSTM", input_size, hidden_size, num_layers, *args, rngs=rngs)


class RNNCellBase(nnx.Module):
    """One step of an RNN/GRU/LSTM cell, torch's ``nn.RNNCellBase``.

    torch: ``torch.nn.RNNCellBase(input_size, hidden_size, bias, num_chunks,
    device=None, dtype=None)``. Parameters ``weight_ih`` [G, I], ``weight_hh``
    [G, H], ``bias_ih``, ``bias_hh`` [G] (G = num_chunks * H), drawn from
    U(-1/sqrt(H), 1/sqrt(H)) as torch. Built through ``RNNCell``, ``GRUCell`` or
    ``LSTMCell``; the call is plain JAX (forward- and reverse-mode autodiff).

    Args:
      input_size: I. hidden_size: H. bias: learn b_ih and b_hh.
      num_chunks: gates per cell (4 LSTM, 3 GRU, 1 RNN). device: ignored.
      dtype: parameter dtype (None: the default float). rngs: ``nnx.Rngs``.

    Returns:
      A module; see the subclasses for the call.

    Raises:
      ValueError: non-positive sizes.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import RNNCellBase
      >>> RNNCellBase(3, 5, True, 4, rngs=nnx.Rngs(0)).weight_hh.shape
      (20, 5)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device=None,
        dtype=None,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        del device
        name = type(self).__name__
        self.input_size = _check_size(name, "input_size", input_size)
        self.hidden_size = _check_size(name, "hidden_size", hidden_size)
        self.bias = check_bool("bias", bias, fn=name)
        gates = num_chunks * hidden_size
        bound = 1.0 / math.sqrt(hidden_size)
        self.weight_ih = _param(rngs, (gates, input_size), bound, dtype)
        self.weight_hh = _param(rngs, (gates, hidden_size), bound, dtype)
        if self.bias:
            self.bias_ih = _param(rngs, (gates,), bound, dtype)
            self.bias_hh = _param(rngs, (gates,), bound, dtype)
        else:
            self.bias_ih = self.bias_hh = None

    def _gates(self, x: jax.Array, h: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(W_ih x + b_ih, W_hh h + b_hh)``, each [N, G]."""
        gx = x @ self.weight_ih[...].T
        gh = h @ self.weight_hh[...].T
        if self.bias_ih is not None and self.bias_hh is not None:
            gx, gh = gx + self.bias_ih[...], gh + self.bias_hh[...]
        return gx, gh

    def _input(self, input) -> tuple[jax.Array, bool]:
        """The input as [N, I] and whether it came unbatched ([I])."""
        x = jnp.asarray(input)
        name = type(self).__name__
        if x.ndim not in (1, 2):
            raise ValueError(
                f"{name}: Expected input to be 1D or 2D, got {x.ndim}D instead"
            )
        if x.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input has inconsistent input_size: got {x.shape[-1]} expected "
                f"{self.input_size} ({name} input of shape {tuple(x.shape)})"
            )
        return (x[None] if x.ndim == 1 else x), x.ndim == 1

    def _hidden(self, hx, x: jax.Array, unbatched: bool, what: str) -> jax.Array:
        """A state [N, H] (zeros when None), checked against the input's batch."""
        if hx is None:
            dtype = jnp.result_type(x.dtype, self.weight_hh[...])
            return jnp.zeros((x.shape[0], self.hidden_size), dtype)
        h = jnp.asarray(hx)
        if h.ndim != (1 if unbatched else 2):
            raise RuntimeError(
                f"{type(self).__name__}: Expected {what} to be "
                f"{1 if unbatched else 2}D, got {h.ndim}D instead"
            )
        h = h[None] if unbatched else h
        if h.shape[0] != x.shape[0]:
            raise RuntimeError(
                f"Input batch size {x.shape[0]} doesn't match {what} batch size "
                f"{h.shape[0]}"
            )
        if h.shape[1] != self.hidden_size:
            raise RuntimeError(
                f"{what} has inconsistent hidden_size: got {h.shape[1]}, expected "
                f"{self.hidden_size}"
            )
        return h

    def _torch_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            text += f", nonlinearity={nonlinearity}"
        return text


_CELL_SHAPES = """
    Shapes: input [N, I] or unbatched [I]; states [N, H] or [H] (zeros when not
    given)."""


class RNNCell(RNNCellBase):
    """One Elman RNN step, h' = act(W_ih x + b_ih + W_hh h + b_hh), torch's
    ``nn.RNNCell``.

    torch: ``torch.nn.RNNCell(input_size, hidden_size, bias=True,
    nonlinearity='tanh', device=None, dtype=None)``, same order and defaults.

    Args:
      input_size: I. hidden_size: H. bias: learn b_ih and b_hh.
      nonlinearity: ``"tanh"`` or ``"relu"``. device: ignored.
      dtype: parameter dtype (None: the default float). rngs: ``nnx.Rngs``.

    Returns:
      Called as ``cell(input, hx=None)`` -> h'.

    Raises:
      ValueError: bad arguments or an input that is not 1-D/2-D. RuntimeError (at
        call): sizes that do not match, in torch's words.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import RNNCell
      >>> RNNCell(3, 5, rngs=nnx.Rngs(0))(jnp.ones((2, 3))).shape
      (2, 5)
    """

    __doc__ = (__doc__ or "") + _CELL_SHAPES

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype, rngs=rngs)
        self.nonlinearity = nonlinearity

    @compiled_forward
    def __call__(self, input: jax.Array, hx: jax.Array | None = None) -> jax.Array:
        x, unbatched = self._input(input)
        h = self._hidden(hx, x, unbatched, "hidden0")
        gx, gh = self._gates(x, h)
        h = _ACTIVATIONS[f"RNN_{self.nonlinearity.upper()}"](gx + gh)
        return h[0] if unbatched else h


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n as ``GRU``), torch's ``nn.GRUCell``.

    torch: ``torch.nn.GRUCell(input_size, hidden_size, bias=True, device=None,
    dtype=None)``, same order and defaults.

    Args:
      input_size: I. hidden_size: H. bias: learn b_ih and b_hh. device: ignored.
      dtype: parameter dtype (None: the default float). rngs: ``nnx.Rngs``.

    Returns:
      Called as ``cell(input, hx=None)`` -> h'.

    Raises:
      ValueError: bad arguments or an input that is not 1-D/2-D. RuntimeError (at
        call): sizes that do not match, in torch's words.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import GRUCell
      >>> GRUCell(3, 5, rngs=nnx.Rngs(0))(jnp.ones(3)).shape
      (5,)
    """

    __doc__ = (__doc__ or "") + _CELL_SHAPES

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device=None,
        dtype=None,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype, rngs=rngs)

    @compiled_forward
    def __call__(self, input: jax.Array, hx: jax.Array | None = None) -> jax.Array:
        x, unbatched = self._input(input)
        h = self._hidden(hx, x, unbatched, "hidden0")
        h, _ = _gru_cell(*self._gates(x, h), h)
        return h[0] if unbatched else h


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o as ``LSTM``), torch's ``nn.LSTMCell``.

    torch: ``torch.nn.LSTMCell(input_size, hidden_size, bias=True, device=None,
    dtype=None)``, same order and defaults.

    Args:
      input_size: I. hidden_size: H. bias: learn b_ih and b_hh. device: ignored.
      dtype: parameter dtype (None: the default float). rngs: ``nnx.Rngs``.

    Returns:
      Called as ``cell(input, hx=None)`` with optional ``hx = (h, c)`` ->
      ``(h', c')``.

    Raises:
      ValueError: bad arguments or an input that is not 1-D/2-D. RuntimeError (at
        call): sizes that do not match, in torch's words.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import LSTMCell
      >>> h, c = LSTMCell(3, 5, rngs=nnx.Rngs(0))(jnp.ones((2, 3)))
      >>> h.shape, c.shape
      ((2, 5), (2, 5))
    """

    __doc__ = (__doc__ or "") + _CELL_SHAPES

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device=None,
        dtype=None,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype, rngs=rngs)

    @compiled_forward
    def __call__(
        self,
        input: jax.Array,
        hx: tuple[jax.Array, jax.Array] | None = None,
    ) -> tuple[jax.Array, jax.Array]:
        x, unbatched = self._input(input)
        h0, c0 = (None, None) if hx is None else hx
        h = self._hidden(h0, x, unbatched, "hidden0")
        c = self._hidden(c0, x, unbatched, "hidden1")
        gx, gh = self._gates(x, h)
        h, c, _ = _lstm_cell(gx + gh, c)
        return (h[0], c[0]) if unbatched else (h, c)
