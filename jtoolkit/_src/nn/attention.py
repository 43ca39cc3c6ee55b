"""torch's ``nn.MultiheadAttention`` as an NNX module: torch's names, init and masks.

``in_proj_weight`` [3E, E] and ``in_proj_bias`` [3E] hold the q, k, v projections in
that order and ``out_proj`` is a Linear, so torch state_dicts load one to one. Masks
follow torch's ``F.multi_head_attention_forward``: a bool mask marks positions that may
NOT be attended (True = masked, turned into -inf), a float mask is added to the scores;
``key_padding_mask`` [N, S] and ``attn_mask`` [L, S] or [N*num_heads, L, S] are summed.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.core.checks import check_bool
from jtoolkit._src.nn.eager_call import compiled_forward
from jtoolkit._src.nn.functional.dropout import dropout
from jtoolkit._src.nn.init import (
    const_array,
    const_param,
    normal_param,
    place,
    uniform_param,
)
from jtoolkit._src.nn.linear import Linear

__all__ = [
    "MultiheadAttention",
    "NonDynamicallyQuantizableLinear",
    "square_subsequent_mask",
]


class NonDynamicallyQuantizableLinear(Linear):
    """torch's name for ``MultiheadAttention.out_proj`` (a plain Linear)."""


def _float_mask(mask, name: str, dtype) -> jax.Array | None:
    """torch's ``_canonical_mask``: bool (True = masked) -> 0/-inf, float kept."""
    if mask is None:
        return None
    mask = jnp.asarray(mask)
    if mask.dtype == jnp.bool_:
        return jnp.where(mask, -jnp.inf, 0.0).astype(dtype)
    if not jnp.issubdtype(mask.dtype, jnp.floating):
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask.astype(dtype)


def square_subsequent_mask(length: int, dtype=None) -> jax.Array:
    """[length, length]: -inf above the diagonal, 0 elsewhere (a causal attention
    mask): torch's ``Transformer.generate_square_subsequent_mask``; ``dtype`` None is
    float32."""
    dtype = jnp.float32 if dtype is None else dtype
    upper = jnp.triu(jnp.ones((length, length), jnp.bool_), k=1)
    return jnp.where(upper, -jnp.inf, 0.0).astype(dtype)


class MultiheadAttention(nnx.Module):
    """Multi-head scaled dot-product attention, torch's ``nn.MultiheadAttention``.

    torch: ``torch.nn.MultiheadAttention(embed_dim, num_heads, dropout=0.0,
    bias=True, add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None,
    batch_first=False, device=None, dtype=None)``. Init and state_dict keys as
    torch: ``in_proj_weight`` xavier-uniform (``q_proj_weight`` [E, E],
    ``k_proj_weight`` [E, kdim], ``v_proj_weight`` [E, vdim] instead when
    ``kdim``/``vdim`` differ from E), ``in_proj_bias`` and ``out_proj.bias`` zero,
    ``out_proj.weight`` U(+-1/sqrt(E)), ``bias_k``/``bias_v`` [1, 1, E]
    xavier-normal (``add_bias_kv``: one more key/value position after the
    projections; ``add_zero_attn``: one more zero key/value per head; masks get
    unmasked columns for them and the weights cover them, as torch).
    ``dropout`` drops attention weights in training mode only (``.eval()`` turns it
    off) with masks from the ``dropout`` stream of ``rngs`` (not torch's masks).

    Args:
      embed_dim: E. num_heads: h (E must divide by h). dropout: on the weights.
      bias: learn the projection biases. add_bias_kv, add_zero_attn: as torch.
      kdim, vdim: key and value widths (None: E). batch_first: [N, L, E] instead
      of torch's default [L, N, E]. device, dtype: where the parameters are
      placed and their dtype (None: defaults). rngs: ``nnx.Rngs``.

    Returns:
      Called as ``mha(query, key, value, key_padding_mask=None, need_weights=True,
      attn_mask=None, average_attn_weights=True, is_causal=False)`` with query
      [L, N, E] (or [N, L, E] with ``batch_first``, or unbatched [L, E]) and key,
      value [S, N, E]: ``(attn_output [L, N, E], attn_weights)``, the weights
      [N, L, S] averaged over heads ([N, h, L, S] with
      ``average_attn_weights=False``), ``None`` when ``need_weights=False``.
      ``is_causal=True`` is torch's hint that ``attn_mask`` is the causal mask
      (required, as in torch); where torch then ignores the mask and applies the
      causal one (``need_weights=False`` and no ``key_padding_mask``), so does this.

    Raises:
      AssertionError: E not divisible by h, or inputs whose last dim is not E (torch's
        type and words). RuntimeError: a mask of the wrong shape, ``is_causal``
        without ``attn_mask``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import MultiheadAttention
      >>> mha = MultiheadAttention(8, 2, rngs=nnx.Rngs(0))
      >>> x = jnp.ones((5, 3, 8))  # [L, N, E]
      >>> out, weights = mha(x, x, x)
      >>> out.shape, weights.shape
      ((5, 3, 8), (3, 5, 5))
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"embed_dim and num_heads must be greater than 0, got "
                    f"{name}={value!r}"
                )
        if embed_dim % num_heads != 0:
            raise AssertionError("embed_dim must be divisible by num_heads")
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, int | float)
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                f"dropout probability has to be between 0 and 1, but got {dropout}"
            )
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = float(dropout)
        self.batch_first = check_bool(
            "batch_first", batch_first, fn="MultiheadAttention"
        )
        self.deterministic = False
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.add_zero_attn = check_bool(
            "add_zero_attn", add_zero_attn, fn="MultiheadAttention"
        )
        same = self.kdim == embed_dim and self.vdim == embed_dim
        self._init_projections(rngs, embed_dim, same, bias)
        if add_bias_kv:  # xavier_normal_ of [1, 1, E]: std sqrt(2 / (E + E))
            std = math.sqrt(1.0 / embed_dim)
            self.bias_k = nnx.Param(normal_param(rngs, (1, 1, embed_dim))[...] * std)
            self.bias_v = nnx.Param(normal_param(rngs, (1, 1, embed_dim))[...] * std)
        else:
            self.bias_k = self.bias_v = None
        self.out_proj = NonDynamicallyQuantizableLinear(
            embed_dim, embed_dim, bias=bias, rngs=rngs
        )
        if self.out_proj.bias is not None:
            self.out_proj.bias[...] = const_array((embed_dim,), 0.0)
        if self.dropout > 0:
            self.dropout_rngs = rngs["dropout"].fork()
        place(self, device, dtype)

    def _init_projections(self, rngs, embed: int, same: bool, bias: bool) -> None:
        """torch's packed ``in_proj_weight``, or q/k/v weights for other kdim/vdim."""
        if same:
            bound = math.sqrt(6.0 / (embed + 3 * embed))  # xavier_uniform_
            self.in_proj_weight = uniform_param(rngs, (3 * embed, embed), bound)
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.in_proj_weight = None
            for name, width in (("q", embed), ("k", self.kdim), ("v", self.vdim)):
                bound = math.sqrt(6.0 / (embed + width))
                param = uniform_param(rngs, (embed, width), bound)
                setattr(self, f"{name}_proj_weight", param)
        self.in_proj_bias = const_param((3 * embed,), 0.0) if bias else None

    @compiled_forward
    def __call__(
        self,
        query: jax.Array,
        key: jax.Array,
        value: jax.Array,
        key_padding_mask: jax.Array | None = None,
        need_weights: bool = True,
        attn_mask: jax.Array | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[jax.Array, jax.Array | None]:
        query, key, value = (jnp.asarray(a) for a in (query, key, value))
        batched = query.ndim == 3
        if self.batch_first and batched:
            query, key, value = (a.swapaxes(0, 1) for a in (query, key, value))
        if not batched:
            query, key, value = (a[:, None] for a in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = jnp.asarray(key_padding_mask)[None]
        self._check_inputs(query, key, value)
        if is_causal and attn_mask is None:
            raise RuntimeError(
                "Need attn_mask if specifying the is_causal hint. You may use the "
                "Transformer module method `generate_square_subsequent_mask` to "
                "create this mask."
            )
        tgt_len, bsz, _ = query.shape
        src_len = key.shape[0]
        if is_causal and key_padding_mask is None and not need_weights:
            # torch's SDPA is_causal
            attn_mask = square_subsequent_mask(tgt_len, query.dtype)
        mask = self._merged_mask(
            attn_mask, key_padding_mask, bsz, tgt_len, src_len, query.dtype
        )
        extra = int(self.bias_k is not None) + int(self.add_zero_attn)
        if mask is not None and extra:  # the added keys are never masked
            mask = jnp.pad(mask, [(0, 0), (0, 0), (0, extra)])
        out, weights = self._attend(query, key, value, mask)
        src_len += extra
        if weights is not None and (not need_weights):
            weights = None
        if weights is not None:
            weights = weights.reshape(bsz, self.num_heads, tgt_len, src_len)
            if average_attn_weights:
                weights = weights.mean(axis=1)
            if not batched:
                weights = weights[0]
        if not batched:
            out = out[:, 0]
        elif self.batch_first:
            out = out.swapaxes(0, 1)
        return out, weights

    def _check_inputs(self, query, key, value) -> None:
        if query.ndim != 3 or key.ndim != 3 or value.ndim != 3:
            raise AssertionError(
                "query, key and value must all be 3-D (batched) or 2-D (unbatched), "
                f"got {query.ndim}-D, {key.ndim}-D and {value.ndim}-D"
            )
        if query.shape[-1] != self.embed_dim:
            raise AssertionError(
                f"was expecting embedding dimension of {self.embed_dim}, but got "
                f"{query.shape[-1]}"
            )
        if key.shape[:-1] != value.shape[:-1]:
            raise AssertionError(
                f"key shape {key.shape} does not match value shape {value.shape}"
            )
        if key.shape[-1] != self.kdim or key.shape[1] != query.shape[1]:
            raise AssertionError(
                f"key of shape {key.shape} does not fit query of shape {query.shape}: "
                f"expected [S, {query.shape[1]}, {self.kdim}]"
            )
        if value.shape[-1] != self.vdim:
            raise AssertionError(
                f"value of shape {value.shape}: expected [S, {query.shape[1]}, "
                f"{self.vdim}]"
            )

    def _merged_mask(self, attn_mask, key_padding_mask, bsz, tgt_len, src_len, dtype):
        """attn_mask + key_padding_mask as one float mask [1 or N*h, L, S] (or None)."""
        attn_mask = _float_mask(attn_mask, "attn_mask", dtype)
        if attn_mask is not None:
            if attn_mask.ndim == 2:
                if attn_mask.shape != (tgt_len, src_len):
                    raise RuntimeError(
                        f"The shape of the 2D attn_mask is {attn_mask.shape}, but "
                        f"should be {(tgt_len, src_len)}."
                    )
                attn_mask = attn_mask[None]
            elif attn_mask.ndim == 3:
                want = (bsz * self.num_heads, tgt_len, src_len)
                if attn_mask.shape != want:
                    raise RuntimeError(
                        f"The shape of the 3D attn_mask is {attn_mask.shape}, but "
                        f"should be {want}."
                    )
            else:
                raise RuntimeError(
                    f"attn_mask's dimension {attn_mask.ndim} is not supported"
                )
        kpm = _float_mask(key_padding_mask, "key_padding_mask", dtype)
        if kpm is None:
            return attn_mask
        if kpm.shape != (bsz, src_len):
            raise AssertionError(
                f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                f"{kpm.shape}"
            )
        kpm = jnp.broadcast_to(kpm[:, None, None, :], (bsz, self.num_heads, 1, src_len))
        kpm = kpm.reshape(bsz * self.num_heads, 1, src_len)
        return kpm if attn_mask is None else attn_mask + kpm

    def _weights(self) -> tuple[jax.Array, jax.Array, jax.Array]:
        """The q, k and v projection weights ([E, E], [E, kdim], [E, vdim])."""
        if self.in_proj_weight is not None:
            w_q, w_k, w_v = jnp.split(self.in_proj_weight[...], 3)
            return w_q, w_k, w_v
        q, k, v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        if q is None or k is None or v is None:  # __init__ sets one form or the other
            raise RuntimeError("MultiheadAttention has no projection weights")
        return q[...], k[...], v[...]

    def _attend(self, query, key, value, mask):
        """Projections, softmax(q k^T / sqrt(d) + mask) v, out_proj; [L, N, E]."""
        tgt_len, bsz, embed = query.shape
        w_q, w_k, w_v = self._weights()
        b = None if self.in_proj_bias is None else self.in_proj_bias[...]
        b_q, b_k, b_v = (None,) * 3 if b is None else jnp.split(b, 3)

        def project(x, w, b):
            y = x @ w.T
            return y if b is None else y + b

        def heads(x):  # [S, N, E] -> [N*h, S, d]
            return x.reshape(x.shape[0], bsz * self.num_heads, self.head_dim).swapaxes(
                0, 1
            )

        q = heads(project(query, w_q, b_q))
        k, v = project(key, w_k, b_k), project(value, w_v, b_v)
        if self.bias_k is not None and self.bias_v is not None:
            k = jnp.concatenate([k, jnp.tile(self.bias_k[...], (1, bsz, 1))])
            v = jnp.concatenate([v, jnp.tile(self.bias_v[...], (1, bsz, 1))])
        k, v = heads(k), heads(v)
        if self.add_zero_attn:
            zeros = jnp.zeros((k.shape[0], 1, self.head_dim), k.dtype)
            k = jnp.concatenate([k, zeros], axis=1)
            v = jnp.concatenate([v, zeros], axis=1)
        scores = (q * math.sqrt(1.0 / self.head_dim)) @ k.swapaxes(1, 2)
        if mask is not None:
            scores = scores + mask
        weights = jax.nn.softmax(scores, axis=-1)
        if self.dropout > 0 and not self.deterministic:
            weights = dropout(weights, self.dropout, True, self.dropout_rngs())
        out = (weights @ v).swapaxes(0, 1).reshape(tgt_len * bsz, embed)
        out = self.out_proj(out).reshape(tgt_len, bsz, embed)
        return out, weights
