"""``Embedding`` (torch.nn.Embedding)."""

from __future__ import annotations

import jax
import jax.core
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.core.checks import check_int
from jtoolkit._src.nn.init import normal_param

__all__ = ["Embedding"]


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
