"""torch's ``nn.TransformerEncoderLayer`` and ``nn.TransformerEncoder`` on NNX.

Children and parameter names follow torch (``self_attn``, ``linear1``, ``dropout``,
``linear2``, ``norm1``, ``norm2``, ``dropout1``, ``dropout2``; the encoder's
``layers.0....`` and ``norm``), so torch state_dicts load one to one and ``summary``
prints torch's text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.core.checks import check_bool
from jtoolkit._src.nn.attention import MultiheadAttention, square_subsequent_mask
from jtoolkit._src.nn.dropout import Dropout
from jtoolkit._src.nn.eager_call import compiled_forward
from jtoolkit._src.nn.init import uniform_array
from jtoolkit._src.nn.linear import Linear
from jtoolkit._src.nn.normalization import LayerNorm

__all__ = [
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
]

_ACTIVATIONS = {
    "relu": jax.nn.relu,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),  # torch's exact erf GELU
}


def _activation_name(activation: str | Callable) -> str | None:
    """The activation's name (``"relu"``/``"gelu"``), None for a callable."""
    if isinstance(activation, str) and activation in _ACTIVATIONS:
        return activation
    if isinstance(activation, str) or not callable(activation):
        raise RuntimeError(f"activation should be relu/gelu, not {activation}")
    return None


def _attend(attention, query, memory, mask, padding, causal: bool) -> jax.Array:
    """One attention block of a layer: ``query`` attends to ``memory`` (weights off)."""
    out, _ = attention(
        query,
        memory,
        memory,
        attn_mask=mask,
        key_padding_mask=padding,
        need_weights=False,
        is_causal=causal,
    )
    return out


class _TransformerLayer(nnx.Module):
    """What torch's encoder and decoder layers share: the children in torch's order
    (so state_dict keys and ``summary`` are torch's), the feed-forward block, the
    pre/post-norm residual wiring and the order-keeping copy."""

    _CROSS: bool  # the decoder: ``multihead_attn``, ``norm3`` and ``dropout3`` too
    norm1: LayerNorm  # set by ``setattr`` with the other numbered children

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
        # torch's signature and child order (no docstring: the subclass's renders)
        self.activation_name = _activation_name(activation)
        if not isinstance(activation, nnx.Module):  # a module is set last, as torch
            self._activation = activation

        def attention() -> MultiheadAttention:
            return MultiheadAttention(
                d_model,
                nhead,
                dropout=dropout,
                bias=bias,
                batch_first=batch_first,
                rngs=rngs,
            )

        self.self_attn = attention()
        if self._CROSS:
            self.multihead_attn = attention()
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, rngs=rngs)
        self.dropout = Dropout(dropout, rngs=rngs)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, rngs=rngs)
        name = type(self).__name__
        self.norm_first = check_bool("norm_first", norm_first, fn=name)
        blocks = range(1, 4 if self._CROSS else 3)
        for index in blocks:
            setattr(self, f"norm{index}", LayerNorm(d_model, layer_norm_eps, bias=bias))
        for index in blocks:
            setattr(self, f"dropout{index}", Dropout(dropout, rngs=rngs))
        if isinstance(activation, nnx.Module):  # torch prints a module activation
            self.activation = activation

    def _copy(self) -> _TransformerLayer:
        """A deep copy that keeps torch's child order (``nnx.clone`` sorts names)."""
        twin = type(self)(
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

    def _ff(self, y: jax.Array) -> jax.Array:
        """The feed-forward block, linear2(dropout(act(linear1(y))))."""
        return self.linear2(self.dropout(self._activation_fn()(self.linear1(y))))

    def _residual(
        self, x: jax.Array, blocks: list[Callable[[jax.Array], jax.Array]]
    ) -> jax.Array:
        """torch's wiring of block i with ``norm{i}`` and ``dropout{i}``: pre-norm
        x = x + dropout(block(norm(x))), post-norm x = norm(x + dropout(block(x)))."""
        for index, block in enumerate(blocks, start=1):
            norm = getattr(self, f"norm{index}")
            drop = getattr(self, f"dropout{index}")
            if self.norm_first:
                x = x + drop(block(norm(x)))
            else:
                x = norm(x + drop(block(x)))
        return x


class TransformerEncoderLayer(_TransformerLayer):
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
      RuntimeError: an unknown activation name; others as ``MultiheadAttention``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import TransformerEncoderLayer
      >>> layer = TransformerEncoderLayer(8, 2, 16, batch_first=True, rngs=nnx.Rngs(0))
      >>> layer.eval(); layer(jnp.ones((3, 5, 8))).shape
      (3, 5, 8)
    """

    _CROSS = False

    @compiled_forward
    def __call__(
        self,
        src: jax.Array,
        src_mask: jax.Array | None = None,
        src_key_padding_mask: jax.Array | None = None,
        is_causal: bool = False,
    ) -> jax.Array:
        def sa(y):
            return _attend(
                self.self_attn, y, y, src_mask, src_key_padding_mask, is_causal
            )

        return self._residual(jnp.asarray(src), [sa, self._ff])


def _stack(layer, num_layers: int, what: str) -> list[nnx.Module]:
    """``num_layers`` copies of a layer instance (torch's ``_get_clones``; dropout
    streams re-keyed per copy) or ``num_layers`` calls of a layer factory."""
    if isinstance(num_layers, bool) or not isinstance(num_layers, int):
        raise TypeError(f"num_layers must be an int, got {num_layers!r}")
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    if isinstance(layer, nnx.Module):
        layers = []
        for index in range(num_layers):
            copy = getattr(layer, "_copy", None)
            clone = copy() if copy else nnx.clone(layer)
            _rekey_streams(clone, index)
            layers.append(clone)
        return layers
    if callable(layer):
        return [cast(nnx.Module, layer()) for _ in range(num_layers)]
    raise TypeError(
        f"{what} must be a layer or a factory returning one, got {type(layer).__name__}"
    )


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
        layers = _stack(encoder_layer, num_layers, "encoder_layer")
        self.layers = nnx.List(layers)
        self.num_layers = num_layers
        self.norm = norm

    @compiled_forward
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


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, cross-attention and feed-forward, torch's
    ``nn.TransformerDecoderLayer``.

    torch: ``torch.nn.TransformerDecoderLayer(d_model, nhead, dim_feedforward=2048,
    dropout=0.1, activation="relu", layer_norm_eps=1e-5, batch_first=False,
    norm_first=False, bias=True)``, same order and defaults. Post-norm:
    x = norm1(x + sa(x)); x = norm2(x + mha(x, memory)); x = norm3(x + ff(x));
    pre-norm (``norm_first``) adds each block's output to x with the norm applied
    to the block's input. Children and state_dict names are torch's
    (``self_attn``, ``multihead_attn``, ``linear1``, ``dropout``, ``linear2``,
    ``norm1..3``, ``dropout1..3``).

    Args:
      d_model: as ``TransformerEncoderLayer``; so are the other arguments
        (``dropout`` also applies to the cross-attention weights).

    Returns:
      Called as ``layer(tgt, memory, tgt_mask=None, memory_mask=None,
      tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=False,
      memory_is_causal=False)`` -> the output, shaped like ``tgt``.

    Raises:
      RuntimeError: an unknown activation name; others as ``MultiheadAttention``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import TransformerDecoderLayer
      >>> layer = TransformerDecoderLayer(8, 2, 16, rngs=nnx.Rngs(0))
      >>> layer.eval(); layer(jnp.ones((4, 3, 8)), jnp.ones((5, 3, 8))).shape
      (4, 3, 8)
    """

    _CROSS = True

    @compiled_forward
    def __call__(
        self,
        tgt: jax.Array,
        memory: jax.Array,
        tgt_mask: jax.Array | None = None,
        memory_mask: jax.Array | None = None,
        tgt_key_padding_mask: jax.Array | None = None,
        memory_key_padding_mask: jax.Array | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> jax.Array:
        x, memory = jnp.asarray(tgt), jnp.asarray(memory)

        def sa(y):
            mask, padding = tgt_mask, tgt_key_padding_mask
            return _attend(self.self_attn, y, y, mask, padding, tgt_is_causal)

        def mha(y):
            mask, padding = memory_mask, memory_key_padding_mask
            return _attend(
                self.multihead_attn, y, memory, mask, padding, memory_is_causal
            )

        return self._residual(x, [sa, mha, self._ff])


class TransformerDecoder(nnx.Module):
    """A stack of ``num_layers`` decoder layers (+ optional norm), torch's
    ``nn.TransformerDecoder``.

    torch: ``torch.nn.TransformerDecoder(decoder_layer, num_layers, norm=None)``.
    A layer instance is copied ``num_layers`` times (identical init, as torch), a
    factory is called ``num_layers`` times, as ``TransformerEncoder``.

    Args:
      decoder_layer: a ``TransformerDecoderLayer`` or a factory of them.
      num_layers: how many layers. norm: a module applied to the output, or None.

    Returns:
      Called as ``decoder(tgt, memory, tgt_mask=None, memory_mask=None,
      tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=None,
      memory_is_causal=False)`` -> the output, shaped like ``tgt``.

    Raises:
      ValueError: ``num_layers`` < 1; TypeError: ``decoder_layer`` is neither.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import TransformerDecoder, TransformerDecoderLayer
      >>> layer = TransformerDecoderLayer(8, 2, 16, rngs=nnx.Rngs(0))
      >>> decoder = TransformerDecoder(layer, num_layers=2)
      >>> decoder.eval(); decoder(jnp.ones((4, 3, 8)), jnp.ones((5, 3, 8))).shape
      (4, 3, 8)
    """

    def __init__(
        self,
        decoder_layer: nnx.Module | Callable[[], nnx.Module],
        num_layers: int,
        norm: nnx.Module | None = None,
    ) -> None:
        self.layers = nnx.List(_stack(decoder_layer, num_layers, "decoder_layer"))
        self.num_layers = num_layers
        self.norm = norm

    @compiled_forward
    def __call__(
        self,
        tgt: jax.Array,
        memory: jax.Array,
        tgt_mask: jax.Array | None = None,
        memory_mask: jax.Array | None = None,
        tgt_key_padding_mask: jax.Array | None = None,
        memory_key_padding_mask: jax.Array | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> jax.Array:
        x = jnp.asarray(tgt)
        for layer in self.layers:
            x = layer(
                x,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=bool(tgt_is_causal),
                memory_is_causal=memory_is_causal,
            )
        return x if self.norm is None else self.norm(x)


def _xavier_uniform(module: nnx.Module, rngs: nnx.Rngs) -> None:
    """Redraw every parameter with more than one dimension from xavier-uniform, as
    torch's ``Transformer._reset_parameters``."""
    for _, param in nnx.iter_graph(module):
        if isinstance(param, nnx.Param) and param.ndim > 1:
            fan_out, fan_in = param.shape[0], math.prod(param.shape[1:])
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            param[...] = uniform_array(rngs, param.shape, bound).astype(param.dtype)


class Transformer(nnx.Module):
    """Encoder-decoder transformer, torch's ``nn.Transformer``.

    torch: ``torch.nn.Transformer(d_model=512, nhead=8, num_encoder_layers=6,
    num_decoder_layers=6, dim_feedforward=2048, dropout=0.1, activation=relu,
    custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
    batch_first=False, norm_first=False, bias=True)``, same order and defaults
    (``activation`` is the string ``"relu"``, torch's function default prints
    differently). Children ``encoder`` (layers + final LayerNorm) and ``decoder``
    (likewise), torch's state_dict names; every parameter with more than one
    dimension is redrawn xavier-uniform, as torch (values differ, distributions
    match).

    Args:
      d_model: as torch; so are ``nhead``, ``num_encoder_layers``,
        ``num_decoder_layers``, ``dim_feedforward``, ``dropout``, ``activation``,
        ``layer_norm_eps``, ``batch_first``, ``norm_first`` and ``bias``.
      custom_encoder: a module used instead of the built encoder stack.
      custom_decoder: a module used instead of the built decoder stack.
      rngs: ``nnx.Rngs``.

    Returns:
      Called as ``model(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
      src_key_padding_mask=None, tgt_key_padding_mask=None,
      memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
      memory_is_causal=False)`` -> [T, N, E] (or [N, T, E] with ``batch_first``).

    Raises:
      RuntimeError: src and tgt batch sizes differ, or a feature size is not
        ``d_model`` (torch's messages).

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Transformer
      >>> Transformer.generate_square_subsequent_mask(3).tolist()
      [[0.0, -inf, -inf], [0.0, 0.0, -inf], [0.0, 0.0, 0.0]]
      >>> model = Transformer(8, 2, 1, 1, 16, rngs=nnx.Rngs(0))
      >>> model.eval(); model(jnp.ones((5, 3, 8)), jnp.ones((4, 3, 8))).shape
      (4, 3, 8)
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        custom_encoder: nnx.Module | None = None,
        custom_decoder: nnx.Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        del device
        args = (d_model, nhead, dim_feedforward, dropout, activation)
        args += (layer_norm_eps, batch_first, norm_first, bias)

        def norm():
            return LayerNorm(d_model, layer_norm_eps, bias=bias)

        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                lambda: TransformerEncoderLayer(*args, rngs=rngs),
                num_encoder_layers,
                norm(),
            )
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                lambda: TransformerDecoderLayer(*args, rngs=rngs),
                num_decoder_layers,
                norm(),
            )
        _xavier_uniform(self, rngs)
        if dtype is not None:
            for _, param in nnx.iter_graph(self):
                if isinstance(param, nnx.Param):
                    param[...] = param[...].astype(dtype)
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> jax.Array:
        """A causal mask [sz, sz]: -inf above the diagonal, 0 elsewhere.

        torch: ``torch.nn.Transformer.generate_square_subsequent_mask(sz,
        device=None, dtype=None)``; ``device`` is ignored, ``dtype`` None is
        float32 (torch's default dtype).

        Args:
          sz: sequence length. device: ignored. dtype: the mask's dtype.

        Returns:
          A float array [sz, sz].

        Example:
          >>> from jtoolkit.models import Transformer
          >>> Transformer.generate_square_subsequent_mask(2).tolist()
          [[0.0, -inf], [0.0, 0.0]]
        """
        del device
        return square_subsequent_mask(sz, dtype)

    @compiled_forward
    def __call__(
        self,
        src: jax.Array,
        tgt: jax.Array,
        src_mask: jax.Array | None = None,
        tgt_mask: jax.Array | None = None,
        memory_mask: jax.Array | None = None,
        src_key_padding_mask: jax.Array | None = None,
        tgt_key_padding_mask: jax.Array | None = None,
        memory_key_padding_mask: jax.Array | None = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> jax.Array:
        src, tgt = jnp.asarray(src), jnp.asarray(tgt)
        batch_axis = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[batch_axis] != tgt.shape[batch_axis]:
            raise RuntimeError(
                "the batch number of src and tgt must be equal (got src of shape "
                f"{tuple(src.shape)} and tgt of shape {tuple(tgt.shape)})"
            )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(
                "the feature number of src and tgt must be equal to d_model "
                f"({self.d_model}), got {src.shape[-1]} and {tgt.shape[-1]}"
            )
        memory = self.encoder(
            src,
            mask=src_mask,
            src_key_padding_mask=src_key_padding_mask,
            is_causal=src_is_causal,
        )
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )
