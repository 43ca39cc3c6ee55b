"""``PairwiseDistance`` and ``CosineSimilarity`` (torch.nn): configuration only,
calling ``F.pairwise_distance`` / ``F.cosine_similarity``
(``nn/functional/distance.py``)."""

from __future__ import annotations

import jax
from flax import nnx

from jtoolkit._src.nn.functional.distance import cosine_similarity, pairwise_distance

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class PairwiseDistance(nnx.Module):
    """torch's ``nn.PairwiseDistance(p=2.0, eps=1e-6, keepdim=False)``.

    Example:
      >>> from jtoolkit.models import PairwiseDistance
      >>> PairwiseDistance(eps=0.0)(jnp.zeros((1, 2)), jnp.array([[3.0, 4.0]])).tolist()
      [5.0]
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def __call__(self, x1: jax.Array, x2: jax.Array) -> jax.Array:
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

    def _torch_repr(self) -> str:
        return ""


class CosineSimilarity(nnx.Module):
    """torch's ``nn.CosineSimilarity(dim=1, eps=1e-8)``.

    Example:
      >>> from jtoolkit.models import CosineSimilarity
      >>> CosineSimilarity()(jnp.ones((2, 3)), jnp.ones((2, 3))).round(5).tolist()
      [1.0, 1.0]
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        self.dim, self.eps = dim, eps

    def __call__(self, x1: jax.Array, x2: jax.Array) -> jax.Array:
        return cosine_similarity(x1, x2, self.dim, self.eps)

    def _torch_repr(self) -> str:
        return ""
