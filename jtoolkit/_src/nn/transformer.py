"""torch's ``nn.TransformerEncoderLayer`` and ``nn.TransformerEncoder`` on NNX.

Children and parameter names follow torch (``self_attn``, ``linear1``, ``dropout``,
``linear2``, ``norm1``, ``norm2``, ``dropout1``, ``dropout2``; the encoder's
``layers.0....`` and ``norm``), so torch state_dicts load one to one and ``summary``
prints torch's text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.core.checks import check_bool
from jtoolkit._src.nn.attention import MultiheadAttention
from jtoolkit._src.nn.dropout import Dropout
from jtoolkit._src.nn.linear import Linear
from jtoolkit._src.nn.normalization import LayerNorm

__all__ = ["TransformerEncoder", "TransformerEncoderLayer"]

_ACTIVATIONS = {
    "relu": jax.nn.relu,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),  # torch's exact erf GELU
}


class TransformerEncoderLayer(nnx.Module):
    """Self-attention + feed-forward block, torch's ``nn.TransformerEncoderLayer``.

    torch: ``torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048,
    dropout=0.1, activation="relu", layer_norm_eps=1e-5, batch_first=False,
    norm_first=False, bias=True)``. Post-norm: x = norm1(x + sa(x)); x = norm2(x +
    ff(x)); pre-norm (``norm_first``): x = x + sa(norm1(x)); x = x + ff(norm2(x)),
    with ff(x) = linear2(dropout(act(linear1(x)))). Dropout is active in training mode
    (the default, as torch) and off after ``.eval()``; masks come from ``rngs``.

    Args:
      d_model: E. nhead: heads. dim_feedforward: hidden width of ff.
      dropout: probability for the three Dropouts and the attention weights.
      activation: ``"relu"``, ``"gelu"`` (exact, as torch) or a callable.
      layer_norm_eps: LayerNorm eps. batch_first: [N, L, E] instead of [L, N, E].
      norm_first: pre-norm. bias: biases of the Linears and LayerNorms.
      rngs: ``nnx.Rngs``.

    Returns:
      Called as ``layer(src, src_mask=None, src_key_padding_mask=None,
      is_causal=False)`` -> the output, shaped like ``src`` (masks as in
      ``MultiheadAttention``).

    Raises:
      ValueError: an unknown activation name; others as ``MultiheadAttention``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import TransformerEncoderLayer
      >>> layer = TransformerEncoderLayer(8, 2, 16, batch_first=True, rngs=nnx.Rngs(0))
      >>> layer.eval(); layer(jnp.ones((3, 5, 8))).shape
      (3, 5, 8)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise RuntimeError(f"activation should be relu/gelu, not {activation}")
            self.activation_name = activation
        elif not callable(activation):
            raise RuntimeError(f"activation should be relu/gelu, not {activation}")
        else:
            self.activation_name = None
        if not isinstance(activation, nnx.Module):  # a module is set last, as torch
            self._activation = activation
        self.self_attn = MultiheadAttention(
            d_model,
            nhead,
            dropout=dropout,
            bias=bias,
            batch_first=batch_first,
            rngs=rngs,
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, rngs=rngs)
        self.dropout = Dropout(dropout, rngs=rngs)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, rngs=rngs)
        self.norm_first = check_bool(
            "norm_first", norm_first, fn="TransformerEncoderLayer"
        )
        self.norm1 = LayerNorm(d_model, layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout, rngs=rngs)
        self.dropout2 = Dropout(dropout, rngs=rngs)
        if isinstance(activation, nnx.Module):  # torch prints a module activation
            self.activation = activation

    def _copy(self) -> TransformerEncoderLayer:
        """A deep copy that keeps torch's child order (``nnx.clone`` sorts names)."""
        twin = TransformerEncoderLayer(
            self.self_attn.embed_dim,
            self.self_attn.num_heads,
            self.linear1.out_features,
            self.dropout.rate,
            self.activation_name or self._activation_fn(),
            self.norm1.eps,
            self.self_attn.batch_first,
            self.norm_first,
            self.linear1.bias is not None,
            rngs=nnx.Rngs(0),
        )
        nnx.update(twin, nnx.clone(nnx.state(self)))
        return twin

    def _activation_fn(self) -> Callable:
        if self.activation_name is not None:
            return _ACTIVATIONS[self.activation_name]
        fn = getattr(self, "activation", None) or self._activation
        return cast(Callable, fn)  # activation_name is None: a callable was given

    def _act(self, x: jax.Array) -> jax.Array:
        return self._activation_fn()(x)

    def __call__(
        self,
        src: jax.Array,
        src_mask: jax.Array | None = None,
        src_key_padding_mask: jax.Array | None = None,
        is_causal: bool = False,
    ) -> jax.Array:
        x = jnp.asarray(src)

        def sa(y):
            out, _ = self.self_attn(
                y,
                y,
                y,
                attn_mask=src_mask,
                key_padding_mask=src_key_padding_mask,
                need_weights=False,
                is_causal=is_causal,
            )
            return self.dropout1(out)

        def ff(y):
            return self.dropout2(self.linear2(self.dropout(self._act(self.linear1(y)))))

        if self.norm_first:
            x = x + sa(self.norm1(x))
            return x + ff(self.norm2(x))
        x = self.norm1(x + sa(x))
        return self.norm2(x + ff(x))


def _rekey_streams(module: nnx.Module, index: int) -> None:
    """Give a cloned layer's RNG streams their own keys (fold in the layer index)."""
    for _, node in nnx.iter_graph(module):
        if isinstance(node, nnx.RngStream):
            node.key[...] = jax.random.fold_in(node.key[...], index)


class TransformerEncoder(nnx.Module):
    """A stack of ``num_layers`` encoder layers (+ optional norm), torch's
    ``nn.TransformerEncoder``.

    torch: ``torch.nn.TransformerEncoder(encoder_layer, num_layers, norm=None,
    enable_nested_tensor=True, mask_check=True)``. Given a layer instance, the stack
    holds ``num_layers`` deep copies of it, as torch's ``_get_clones``: every layer
    starts from the same weights (torch's behaviour); their dropout streams are
    re-keyed per layer so masks differ. Given a factory (a zero-argument callable
    returning a layer), each layer is built by calling it: independent fresh
    initialisations (the usual NNX way). Either way, torch's state_dict names
    (``layers.0.self_attn.in_proj_weight``, ..., ``norm.weight``) load one to one.
    ``enable_nested_tensor`` and ``mask_check`` are accepted and ignored: there is no
    nested-tensor fast path, so padded positions hold the computed values (torch's
    eval fast path returns zeros there).

    Args:
      encoder_layer: a ``TransformerEncoderLayer`` or a factory of them.
      num_layers: how many layers. norm: a module applied to the output, or None.

    Returns:
      Called as ``encoder(src, mask=None, src_key_padding_mask=None,
      is_causal=None)`` -> the output, shaped like ``src``. ``is_causal=None``
      means False (torch would detect a causal ``mask`` by comparing values; with a
      causal mask the result is the same either way).

    Raises:
      ValueError: ``num_layers`` < 1; TypeError: ``encoder_layer`` is neither.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import TransformerEncoder, TransformerEncoderLayer
      >>> layer = TransformerEncoderLayer(8, 2, 16, rngs=nnx.Rngs(0))
      >>> encoder = TransformerEncoder(layer, num_layers=2)
      >>> encoder.eval(); encoder(jnp.ones((5, 3, 8))).shape
      (5, 3, 8)
    """

    def __init__(
        self,
        encoder_layer: nnx.Module | Callable[[], nnx.Module],
        num_layers: int,
        norm: nnx.Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        del enable_nested_tensor, mask_check
        if isinstance(num_layers, bool) or not isinstance(num_layers, int):
            raise TypeError(f"num_layers must be an int, got {num_layers!r}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if isinstance(encoder_layer, nnx.Module):
            layers = []
            for index in range(num_layers):
                copy = getattr(encoder_layer, "_copy", None)
                clone = copy() if copy else nnx.clone(encoder_layer)
                _rekey_streams(clone, index)
                layers.append(clone)
        elif callable(encoder_layer):
            layers = [encoder_layer() for _ in range(num_layers)]
        else:
            raise TypeError(
                "encoder_layer must be a TransformerEncoderLayer or a factory "
                f"returning one, got {type(encoder_layer).__name__}"
            )
        self.layers = nnx.List(layers)
        self.num_layers = num_layers
        self.norm = norm

    def __call__(
        self,
        src: jax.Array,
        mask: jax.Array | None = None,
        src_key_padding_mask: jax.Array | None = None,
        is_causal: bool | None = None,
    ) -> jax.Array:
        x = jnp.asarray(src)
        for layer in self.layers:
            x = layer(
                x,
                src_mask=mask,
                src_key_padding_mask=src_key_padding_mask,
                is_causal=bool(is_causal),
            )
        return x if self.norm is None else self.norm(x)
