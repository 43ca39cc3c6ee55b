"""``Linear`` and ``Embedding`` (torch.nn): torch's arguments, init, repr and
state_dict names (flax keeps Linear..Embed together in ``nnx/nn/linear.py``).

Its ``_torch_repr()`` is torch's ``extra_repr()`` text and ``_torch_layout`` maps
torch state_dict names to attributes (the other layers do the same in their own
files: ``conv.py``, ``normalization.py``, ``recurrent.py``, ...).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import jax
import jax.core
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.core.checks import check_int
from jtoolkit._src.nn.functional.linear import bilinear, linear_kernel
from jtoolkit._src.nn.functional.sparse import embedding, embedding_bag
from jtoolkit._src.nn.init import normal_param, place, uniform_param

__all__ = ["Bilinear", "Embedding", "EmbeddingBag", "Linear"]


class Linear(nnx.Module):
    """y = x @ kernel + bias, torch's ``nn.Linear`` with a [in, out] kernel.

    torch: ``torch.nn.Linear(in_features, out_features, bias=True)``. The kernel is the
    transpose of torch's ``weight`` ([out, in]); both are drawn from torch's
    kaiming-uniform(a=sqrt(5)) init, U(-1/sqrt(in_features), 1/sqrt(in_features)).

    Args:
      in_features: size of the last input dimension.
      out_features: size of the last output dimension.
      bias: whether to add a learned bias.
      rngs: ``nnx.Rngs`` with a ``params`` stream.

    Returns:
      A module mapping float32 [..., in_features] to [..., out_features].

    Raises:
      ValueError: for non-positive sizes. RuntimeError (at call) when the input's
        last dimension is not ``in_features``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Linear
      >>> layer = Linear(3, 2, rngs=nnx.Rngs(0))
      >>> layer.kernel.shape, layer(jnp.ones((4, 3))).shape
      ((3, 2), (4, 2))
    """

    _torch_layout: ClassVar = {"weight": ("kernel", "linear"), "bias": ("bias", "same")}

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, *, rngs: nnx.Rngs
    ) -> None:
        in_features = check_int("in_features", in_features, fn="Linear", minimum=1)
        out_features = check_int("out_features", out_features, fn="Linear", minimum=1)
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / math.sqrt(in_features)
        self.kernel = uniform_param(rngs, (in_features, out_features), bound)
        self.bias = uniform_param(rngs, (out_features,), bound) if bias else None

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            rows = math.prod(x.shape[:-1]) if x.ndim else 1
            cols = x.shape[-1] if x.ndim else 1
            raise RuntimeError(
                f"mat1 and mat2 shapes cannot be multiplied ({rows}x{cols} and "
                f"{self.in_features}x{self.out_features}); Linear expects the last "
                f"input dimension to be in_features={self.in_features}"
            )
        bias = None if self.bias is None else self.bias[...]
        return linear_kernel(x, self.kernel[...], bias)

    def _torch_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Bilinear(nnx.Module):
    """``y = x1 @ weight @ x2 + bias`` per output, torch's ``nn.Bilinear``.

    torch: ``torch.nn.Bilinear(in1_features, in2_features, out_features,
    bias=True, device=None, dtype=None)``: ``weight`` ``[out, in1, in2]`` and
    ``bias`` ``[out]`` (torch's layout and state_dict names), both from
    U(-1/sqrt(in1_features), 1/sqrt(in1_features)). ``F.bilinear`` is the
    computation.

    Args:
      in1_features, in2_features: the two inputs' last dims.
      out_features: the output's last dim. bias: learn ``bias``.
      device: where the parameters are placed (``jax.device_put``).
      dtype: the parameters' dtype (None: the default float).
      rngs: ``nnx.Rngs`` with a ``params`` stream.

    Raises:
      ValueError: non-positive sizes. RuntimeError (at call): mismatched inputs.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Bilinear
      >>> layer = Bilinear(2, 3, 4, rngs=nnx.Rngs(0))
      >>> layer(jnp.ones((5, 2)), jnp.ones((5, 3))).shape, layer.weight.shape
      ((5, 4), (4, 2, 3))
    """

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        sizes = {
            "in1_features": in1_features,
            "in2_features": in2_features,
            "out_features": out_features,
        }
        for name, value in sizes.items():
            check_int(name, value, fn="Bilinear", minimum=1)
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        bound = 1.0 / math.sqrt(in1_features)
        shape = (out_features, in1_features, in2_features)
        self.weight = uniform_param(rngs, shape, bound)
        self.bias = uniform_param(rngs, (out_features,), bound) if bias else None
        place(self, device, dtype)

    def __call__(self, input1: jax.Array, input2: jax.Array) -> jax.Array:
        bias = None if self.bias is None else self.bias[...]
        return bilinear(input1, input2, self.weight[...], bias)

    def _torch_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


def _table(rngs, num_embeddings, embedding_dim, padding_idx, _weight, fname):
    """torch's N(0, 1) table (or ``_weight``), the ``padding_idx`` row zeroed."""
    num_embeddings = check_int("num_embeddings", num_embeddings, fn=fname, minimum=1)
    embedding_dim = check_int("embedding_dim", embedding_dim, fn=fname, minimum=1)
    shape = (num_embeddings, embedding_dim)
    if _weight is not None:
        table = jnp.asarray(_weight)
        if table.shape != shape:
            raise AssertionError(
                "Shape of weight does not match num_embeddings and embedding_dim"
            )
        weight = nnx.Param(table)
    else:
        weight = normal_param(rngs, shape)
    if padding_idx is not None:
        if not -num_embeddings <= padding_idx < num_embeddings:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = int(padding_idx) % num_embeddings
        if _weight is None:
            weight.set_value(weight[...].at[padding_idx].set(0))
    return weight, padding_idx


class Embedding(nnx.Module):
    """A lookup table ``weight[num_embeddings, embedding_dim]``, torch's N(0, 1) init.

    torch: ``torch.nn.Embedding(num_embeddings, embedding_dim, padding_idx=None,
    max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False,
    _weight=None, _freeze=False, device=None, dtype=None)``; same weight layout.
    ``F.embedding`` is the lookup.

    Args:
      num_embeddings: number of rows (valid ids are 0 .. num_embeddings - 1).
      embedding_dim: width of each row.
      padding_idx: a row initialised to zeros that gets no gradient.
      max_norm, norm_type, scale_grad_by_freq: unsupported (keep the defaults).
      sparse: accepted; the gradient is dense (JAX has no sparse gradients).
      _weight: an initial ``[num_embeddings, embedding_dim]`` table.
      _freeze: unsupported (use an optimizer mask to freeze the table).
      device, dtype: where the table is placed and its dtype (None: defaults).
      rngs: ``nnx.Rngs`` with a ``params`` stream.

    Raises:
      IndexError (at call, on concrete input): an id outside [0, num_embeddings).
      NotImplementedError: ``max_norm``, ``scale_grad_by_freq`` or ``_freeze``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Embedding
      >>> Embedding(10, 3, rngs=nnx.Rngs(0))(jnp.array([[1, 2]])).shape
      (1, 2, 3)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Any = None,
        _freeze: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        embedding(  # F's argument checks, at construction
            jnp.zeros(0, jnp.int32),
            jnp.zeros((1, 1)),
            None,
            max_norm,
            2.0,
            scale_grad_by_freq,
        )
        if _freeze:
            raise NotImplementedError(
                "Embedding: _freeze=True is not supported; freeze the table with "
                "an optimizer mask (or jax.lax.stop_gradient)"
            )
        self.weight, self.padding_idx = _table(
            rngs, num_embeddings, embedding_dim, padding_idx, _weight, "Embedding"
        )
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.norm_type, self.sparse = norm_type, sparse
        place(self, device, dtype)

    def __call__(self, ids: jax.Array) -> jax.Array:
        return embedding(ids, self.weight[...], self.padding_idx)

    def _torch_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text + (", sparse=True" if self.sparse else "")


class EmbeddingBag(nnx.Module):
    """Sums, means or maxima of bags of embedding rows, torch's ``nn.EmbeddingBag``.

    torch: ``torch.nn.EmbeddingBag(num_embeddings, embedding_dim, max_norm=None,
    norm_type=2.0, scale_grad_by_freq=False, mode='mean', sparse=False,
    _weight=None, include_last_offset=False, padding_idx=None, device=None,
    dtype=None)``: ``weight`` as ``Embedding`` (torch's key and N(0, 1) init);
    the call ``(input, offsets=None, per_sample_weights=None)`` is
    ``F.embedding_bag``.

    Args:
      num_embeddings, embedding_dim: the table's shape.
      mode: "sum", "mean" or "max". include_last_offset: ``offsets`` has B + 1
        entries. padding_idx: ids left out of every bag (row zeroed).
      max_norm, norm_type, scale_grad_by_freq: unsupported (keep the defaults).
      sparse: accepted (dense gradient). _weight: an initial table.
      device, dtype: as ``Embedding``. rngs: ``nnx.Rngs`` with a ``params`` stream.

    Raises:
      ValueError: a bad ``mode``. NotImplementedError: as ``Embedding``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import EmbeddingBag
      >>> bag = EmbeddingBag(10, 3, mode="sum", rngs=nnx.Rngs(0))
      >>> bag(jnp.array([1, 2, 3]), jnp.array([0, 1])).shape
      (2, 3)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        _weight: Any = None,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        embedding_bag(
            jnp.zeros((0, 1), jnp.int32),
            jnp.zeros((1, 1)),
            None,
            max_norm,
            2,
            scale_grad_by_freq,
            mode,
        )  # F's argument checks, at construction
        self.weight, self.padding_idx = _table(
            rngs, num_embeddings, embedding_dim, padding_idx, _weight, "EmbeddingBag"
        )
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.mode, self.sparse = mode, sparse
        self.norm_type, self.include_last_offset = norm_type, include_last_offset
        place(self, device, dtype)

    def __call__(
        self, input: jax.Array, offsets: Any = None, per_sample_weights: Any = None
    ) -> jax.Array:
        return embedding_bag(
            input,
            self.weight[...],
            offsets,
            mode=self.mode,
            per_sample_weights=per_sample_weights,
            include_last_offset=self.include_last_offset,
            padding_idx=self.padding_idx,
        )

    def _torch_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}, mode='{self.mode}'"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text
