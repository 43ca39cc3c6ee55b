"""Parameter-free torch blocks: Sequential, activations, pooling, Flatten.

Each has torch's constructor arguments and ``_torch_repr()`` (torch's ``extra_repr``),
so ``summary`` prints what torch prints. Activations are NHWC.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
from flax import nnx

__all__ = ["Sequential"]


class Sequential(nnx.List):
    """Calls its layers in order; torch's ``nn.Sequential`` (children named 0, 1, ...).

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Linear, ReLU, Sequential
      >>> net = Sequential(Linear(2, 3, rngs=nnx.Rngs(0)), ReLU())
      >>> net(jnp.ones((1, 2))).shape
      (1, 3)
    """

    def __init__(self, *layers: Callable) -> None:
        super().__init__(layers)

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self:
            x = layer(x)
        return x
