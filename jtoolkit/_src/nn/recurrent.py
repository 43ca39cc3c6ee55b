"""torch's ``nn.LSTM`` as an NNX module: torch's parameter names, layout and gate order.

The parameters are stored exactly as torch stores them (``weight_ih_l{k}`` [4H, I],
``weight_hh_l{k}`` [4H, H], ``bias_ih_l{k}``, ``bias_hh_l{k}`` [4H], gate chunks in the
order (i, f, g, o)), so state_dicts map one to one. The input projection of a whole
sequence is one matmul; only the recurrent part runs under ``lax.scan``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["LSTM"]


def _lstm_layer(
    x_proj: jax.Array, w_hh: jax.Array, h0: jax.Array, c0: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One layer over time; x_proj [T, B, 4H] is the gates' input part + biases."""

    def step(carry, gates_x):
        h, c = carry
        gates = gates_x + h @ w_hh.T
        i, f, g, o = jnp.split(gates, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    (h, c), out = jax.lax.scan(step, (h0, c0), x_proj)
    return out, h, c


class LSTM(nnx.Module):
    """Multi-layer LSTM returning ``(output, (h_n, c_n))``, torch's ``nn.LSTM``.

    torch: ``torch.nn.LSTM(input_size, hidden_size, num_layers=1, batch_first=...)``
    (torch's default is batch_first=False; jtoolkit's is True). Gates (i, f, g, o),
    c' = f*c + i*g, h' = o*tanh(c'); two biases; every parameter U(+-1/sqrt(H)).

    Args:
      input_size: I, last dimension of the input.
      hidden_size: H.
      num_layers: stacked layers.
      batch_first: input/output [B, T, *] when True, [T, B, *] when False.
      rngs: ``nnx.Rngs`` with a ``params`` stream.

    Returns:
      Called as ``lstm(x, hx=None)`` with x [B, T, I] (or [T, I] unbatched) and
      optional ``(h_0, c_0)`` each [num_layers, B, H]: ``output`` [B, T, H] (last
      layer's h at every step) and ``(h_n, c_n)`` each [num_layers, B, H].

    Raises:
      ValueError: non-positive sizes. RuntimeError (at call): wrong input size.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import LSTM
      >>> lstm = LSTM(3, 5, num_layers=2, rngs=nnx.Rngs(0))
      >>> out, (h, c) = lstm(jnp.ones((4, 7, 3)))
      >>> out.shape, h.shape, c.shape
      ((4, 7, 5), (2, 4, 5), (2, 4, 5))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = True,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        for name, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.batch_first = batch_first
        bound = 1.0 / math.sqrt(hidden_size)
        for k in range(num_layers):
            width = input_size if k == 0 else hidden_size
            shapes = {
                f"weight_ih_l{k}": (4 * hidden_size, width),
                f"weight_hh_l{k}": (4 * hidden_size, hidden_size),
                f"bias_ih_l{k}": (4 * hidden_size,),
                f"bias_hh_l{k}": (4 * hidden_size,),
            }
            for name, shape in shapes.items():
                values = jax.random.uniform(
                    rngs.params(), shape, jnp.float32, -bound, bound
                )
                setattr(self, name, nnx.Param(values))

    def __call__(
        self, x: jax.Array, hx: tuple[jax.Array, jax.Array] | None = None
    ) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        x = jnp.asarray(x)
        unbatched = x.ndim == 2
        if unbatched:
            x = x[:, None] if not self.batch_first else x[None]
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise RuntimeError(
                f"LSTM: input.size(-1) must be equal to input_size. Expected "
                f"{self.input_size}, got input of shape {x.shape}"
            )
        seq = x.swapaxes(0, 1) if self.batch_first else x  # [T, B, I]
        h0, c0 = self._initial_state(hx, seq.shape[1], unbatched)
        hs, cs = [], []
        for k in range(self.num_layers):
            w_ih = getattr(self, f"weight_ih_l{k}")[...]
            bias = (
                getattr(self, f"bias_ih_l{k}")[...]
                + getattr(self, f"bias_hh_l{k}")[...]
            )
            x_proj = seq @ w_ih.T + bias
            w_hh = getattr(self, f"weight_hh_l{k}")[...]
            seq, h, c = _lstm_layer(x_proj, w_hh, h0[k], c0[k])
            hs.append(h)
            cs.append(c)
        out = seq.swapaxes(0, 1) if self.batch_first else seq
        h_n, c_n = jnp.stack(hs), jnp.stack(cs)
        if unbatched:
            out = out[0] if self.batch_first else out[:, 0]
            h_n, c_n = h_n[:, 0], c_n[:, 0]
        return out, (h_n, c_n)

    def _initial_state(
        self, hx: tuple[jax.Array, jax.Array] | None, batch: int, unbatched: bool
    ) -> tuple[jax.Array, jax.Array]:
        shape = (self.num_layers, batch, self.hidden_size)
        if hx is None:
            zeros = jnp.zeros(shape, jnp.float32)
            return zeros, zeros
        h0, c0 = (jnp.asarray(v) for v in hx)
        if unbatched:
            h0, c0 = h0[:, None], c0[:, None]
        if h0.shape != shape or c0.shape != shape:
            raise RuntimeError(
                f"Expected hidden size {shape}, got h_0 {h0.shape} and c_0 {c0.shape}"
            )
        return h0, c0

    def _torch_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.batch_first:
            text += ", batch_first=True"
        return text
