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
from jtoolkit._src.nn.init import normal_param, place, uniform_param

__all__ = ["Bilinear", "Embedding", "Linear"]


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


class Embedding(nnx.Module):
    """A lookup table ``weight[num_embeddings, embedding_dim]``, torch's N(0, 1) init.

    torch: ``torch.nn.Embedding(num_embeddings, embedding_dim)``; same weight layout.

    Args:
      num_embeddings: number of rows (valid ids are 0 .. num_embeddings - 1).
      embedding_dim: width of each row.
      rngs: ``nnx.Rngs`` with a ``params`` stream.

    Raises:
      IndexError (at call, on concrete input): an id outside [0, num_embeddings).

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Embedding
      >>> Embedding(10, 3, rngs=nnx.Rngs(0))(jnp.array([[1, 2]])).shape
      (1, 2, 3)
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, *, rngs: nnx.Rngs
    ) -> None:
        num_embeddings = check_int(
            "num_embeddings", num_embeddings, fn="Embedding", minimum=1
        )
        embedding_dim = check_int(
            "embedding_dim", embedding_dim, fn="Embedding", minimum=1
        )
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        shape = (num_embeddings, embedding_dim)
        self.weight = normal_param(rngs, shape)

    def __call__(self, ids: jax.Array) -> jax.Array:
        ids = jnp.asarray(ids)
        if not jnp.issubdtype(ids.dtype, jnp.integer):
            raise RuntimeError(
                f"Embedding expects integer ids, but got dtype {ids.dtype}; cast with "
                ".astype(jnp.int32)"
            )
        if not isinstance(ids, jax.core.Tracer) and ids.size:
            low, high = int(ids.min()), int(ids.max())
            if low < 0 or high >= self.num_embeddings:
                raise IndexError(
                    f"index out of range in self: ids span [{low}, {high}] but "
                    f"num_embeddings={self.num_embeddings}"
                )
        return jnp.take(self.weight[...], ids, axis=0)

    def _torch_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
