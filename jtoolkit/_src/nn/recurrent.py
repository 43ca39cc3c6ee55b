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
from jtoolkit._src.nn.init import uniform_param

__all__ = ["GRU", "LSTM", "RNN"]

# Steps per scan iteration. bench_lstm.py on the 2-core box: 1 and 2 are equal
# within noise (2 looked better only under heavy load), 8 is slower and compiles 3x
# longer; 1 compiles fastest.
_UNROLL = 1

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _rnn_step(activation: Callable) -> Callable:
    def step(carry, gates_x, w_hh_t, b_hh):
        del b_hh
        (h,) = carry
        h = activation(gates_x + h @ w_hh_t)
        return (h,), h

    return step


_STEPS = {
    "RNN_TANH": _rnn_step(jnp.tanh),
    "RNN_RELU": _rnn_step(jax.nn.relu),
}


def _lstm_forward(gates_x, w_hh_t, h0, c0):
    """The LSTM scan, also returning every c and the gate activations [T, N, 4H]."""

    def body(carry, gx):
        h, c = carry
        i, f, g, o = jnp.split(gx + h @ w_hh_t, 4, axis=-1)
        i, f, o = jax.nn.sigmoid(i), jax.nn.sigmoid(f), jax.nn.sigmoid(o)
        g = jnp.tanh(g)
        c = f * c + i * g
        h = o * jnp.tanh(c)
        return (h, c), (h, c, jnp.concatenate([i, f, g, o], axis=-1))

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
        xr, xz, xn = jnp.split(gx, 3, axis=-1)
        hr, hz, hn = jnp.split(h @ w_hh_t + b_hh, 3, axis=-1)
        r = jax.nn.sigmoid(xr + hr)
        z = jax.nn.sigmoid(xz + hz)
        n = jnp.tanh(xn + r * hn)
        h = n + z * (h - n)  # torch's (1 - z) * n + z * h
        return h, (h, jnp.concatenate([r, z, n, hn], axis=-1))

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
    step = _STEPS[mode]
    w_hh_t = w_hh.T

    def body(carry, x_t):
        return step(carry, x_t, w_hh_t, b_hh)

    unroll = max(1, min(_UNROLL, gates_x.shape[0]))
    return jax.lax.scan(body, carry0, gates_x, reverse=reverse, unroll=unroll)


class _RNNBase(nnx.Module):
    """Shared body of RNN, GRU and LSTM (torch's ``RNNBase``)."""

    _mode = "LSTM"

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bias: bool,
        batch_first: bool,
        dropout: float,
        bidirectional: bool,
        rngs: nnx.Rngs,
    ) -> None:
        name = type(self).__name__
        for arg, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name}: {arg} must be an integer > 0, got {value!r}")
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
        self.deterministic = False  # torch modules start in training mode
        if self.dropout > 0:
            self.dropout_rngs = rngs["dropout"].fork()
        self._init_params(rngs)

    def _init_params(self, rngs: nnx.Rngs) -> None:
        gate_size = _GATES[self.mode] * self.hidden_size
        bound = 1.0 / math.sqrt(self.hidden_size)
        for k in range(self.num_layers):
            width = self.input_size if k == 0 else self.hidden_size * self._dirs
            for suffix in self._suffixes:
                shapes: dict[str, tuple[int, ...]] = {
                    f"weight_ih_l{k}{suffix}": (gate_size, width),
                    f"weight_hh_l{k}{suffix}": (gate_size, self.hidden_size),
                }
                if self.bias:
                    shapes[f"bias_ih_l{k}{suffix}"] = (gate_size,)
                    shapes[f"bias_hh_l{k}{suffix}"] = (gate_size,)
                for name, shape in shapes.items():
                    setattr(self, name, uniform_param(rngs, shape, bound))

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
            final, out = _scan_direction(
                self.mode, part, w_hh, b_hh, carries[d], reverse=d == 1
            )
            outs.append(out)
            finals.append(final)
        return (outs[0] if len(outs) == 1 else jnp.concatenate(outs, -1)), finals

    def _dropout(self, seq: jax.Array) -> jax.Array:
        if self.dropout == 0 or self.deterministic:
            return seq
        if self.dropout == 1:
            return jnp.zeros_like(seq)
        keep = 1.0 - self.dropout
        mask = jax.random.bernoulli(self.dropout_rngs(), keep, seq.shape)
        return jnp.where(mask, seq / keep, 0.0).astype(seq.dtype)

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

    def _state(self, value, batch: int, unbatched: bool, what: str, dtype) -> jax.Array:
        """An initial state as [L*D, N, H] (zeros when ``value`` is None)."""
        shape = (self.num_layers * self._dirs, batch, self.hidden_size)
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

    def _torch_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
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


def _single_state_call(module: _RNNBase, x, hx):
    """RNN/GRU forward: ``(output, h_n)``."""
    x = jnp.asarray(x)
    unbatched = module._check_input(x)
    if unbatched:
        x = jnp.expand_dims(x, module._batch_axis())
    h0 = module._state(hx, x.shape[module._batch_axis()], unbatched, "hx", x.dtype)
    out, (h_n,) = module._run(x, [h0])
    if unbatched:
        out = jnp.squeeze(out, module._batch_axis())
        h_n = h_n[:, 0]
    return out, h_n


_SHAPES_DOC = """
    Shapes (L = num_layers, D = 2 if bidirectional else 1): input [N, T, I] with
    ``batch_first=True`` (jtoolkit's default; torch's is False), [T, N, I] with
    ``batch_first=False``, or unbatched [T, I]; ``output`` has the input's layout with
    D*H features (the last layer's h at every step, directions concatenated forward
    first); states are [L*D, N, H] ([L*D, H] unbatched), ordered layer by layer,
    forward before reverse."""


class RNN(_RNNBase):
    """Elman RNN, h' = act(W_ih x + b_ih + W_hh h + b_hh), torch's ``nn.RNN``.

    torch: ``torch.nn.RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh',
    bias=True, batch_first=False, dropout=0.0, bidirectional=False)``; jtoolkit's
    ``batch_first`` defaults to True, as its ``LSTM``. Parameters and their init
    U(-1/sqrt(H), 1/sqrt(H)) are torch's. ``dropout`` applies to every layer's output
    but the last, only in training mode (``.train()``, the default; ``.eval()``
    turns it off), with masks from the ``dropout`` stream of ``rngs`` (not torch's
    masks).

    Args:
      input_size: I. hidden_size: H. num_layers: stacked layers.
      nonlinearity: ``"tanh"`` or ``"relu"``. bias: learn b_ih and b_hh.
      batch_first: layout of input and output (see Shapes). dropout: in [0, 1].
      bidirectional: run a reverse direction too. rngs: ``nnx.Rngs``.

    Returns:
      Called as ``rnn(input, hx=None)`` -> ``(output, h_n)``.

    Raises:
      ValueError: bad arguments, or input that is not 2-D/3-D. RuntimeError (at call):
        wrong input size or initial-state shape, in torch's words.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import RNN
      >>> rnn = RNN(3, 5, num_layers=2, bidirectional=True, rngs=nnx.Rngs(0))
      >>> out, h = rnn(jnp.ones((4, 7, 3)))
      >>> out.shape, h.shape
      ((4, 7, 10), (4, 4, 5))
    """

    __doc__ = (__doc__ or "") + _SHAPES_DOC

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        self.nonlinearity = nonlinearity
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            rngs,
        )

    def __call__(
        self, input: jax.Array, hx: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        return _single_state_call(self, input, hx)


class GRU(_RNNBase):
    """Gated recurrent unit, torch's ``nn.GRU`` (gates r, z, n in torch's order).

    torch: ``torch.nn.GRU(input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; jtoolkit's
    ``batch_first`` defaults to True, as its ``LSTM``. r = sigmoid(W_ir x + b_ir +
    W_hr h + b_hr), z likewise, n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
    h' = (1 - z) * n + z * h. Init U(-1/sqrt(H), 1/sqrt(H)); ``dropout`` as in
    ``RNN``. Like ``LSTM``, the recurrence has a hand-written backward pass
    (``jax.custom_vjp``): reverse-mode only, no ``jax.jvp``/``jacfwd``/``hessian``.

    Args:
      input_size: I. hidden_size: H. num_layers: stacked layers.
      bias: learn b_ih and b_hh. batch_first: layout (see Shapes).
      dropout: in [0, 1]. bidirectional: run a reverse direction too.
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
      >>> out, h = gru(jnp.ones((4, 7, 3)))
      >>> out.shape, h.shape
      ((4, 7, 5), (1, 4, 5))
    """

    __doc__ = (__doc__ or "") + _SHAPES_DOC

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            rngs,
        )

    def __call__(
        self, input: jax.Array, hx: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        return _single_state_call(self, input, hx)


class LSTM(_RNNBase):
    """Multi-layer LSTM returning ``(output, (h_n, c_n))``, torch's ``nn.LSTM``.

    torch: ``torch.nn.LSTM(input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; jtoolkit's
    ``batch_first`` defaults to True. Gates (i, f, g, o), c' = f*c + i*g,
    h' = o*tanh(c'); two biases; every parameter U(+-1/sqrt(H)); ``dropout`` as in
    ``RNN``. ``proj_size`` is not supported. The recurrence has a hand-written
    backward pass (``jax.custom_vjp``, for speed): reverse-mode (``jax.grad``,
    ``vjp``) works, forward-mode (``jax.jvp``, ``jacfwd``, ``hessian``) does not.

    Args:
      input_size: I, last dimension of the input.
      hidden_size: H.
      num_layers: stacked layers.
      bias: learn b_ih and b_hh.
      batch_first: input/output [N, T, *] when True, [T, N, *] when False.
      dropout: in [0, 1], between layers in training mode.
      bidirectional: run a reverse direction too.
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
      >>> lstm = LSTM(3, 5, num_layers=2, rngs=nnx.Rngs(0))
      >>> out, (h, c) = lstm(jnp.ones((4, 7, 3)))
      >>> out.shape, h.shape, c.shape
      ((4, 7, 5), (2, 4, 5), (2, 4, 5))
    """

    __doc__ = (__doc__ or "") + _SHAPES_DOC

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = True,
        *,
        bias: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        rngs: nnx.Rngs,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            rngs,
        )

    def __call__(
        self,
        input: jax.Array,
        hx: tuple[jax.Array, jax.Array] | None = None,
    ) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        x = jnp.asarray(input)
        unbatched = self._check_input(x)
        axis = self._batch_axis()
        if unbatched:
            x = jnp.expand_dims(x, axis)
        batch = x.shape[axis]
        if hx is None:
            h0 = c0 = self._state(None, batch, False, "0", x.dtype)
        else:
            h0_in, c0_in = hx
            if unbatched and (jnp.ndim(h0_in) != 2 or jnp.ndim(c0_in) != 2):
                raise RuntimeError(
                    "For unbatched 2-D input, hx and cx should also be 2-D but got "
                    f"({jnp.ndim(h0_in)}-D, {jnp.ndim(c0_in)}-D) tensors"
                )
            h0 = self._state(h0_in, batch, unbatched, "0", x.dtype)
            c0 = self._state(c0_in, batch, unbatched, "1", x.dtype)
        out, (h_n, c_n) = self._run(x, [h0, c0])
        if unbatched:
            out = jnp.squeeze(out, axis)
            h_n, c_n = h_n[:, 0], c_n[:, 0]
        return out, (h_n, c_n)
