"""A model's forward pass as a pure function of its input, weights as constants.

Example:
    >>> from flax import nnx
    >>> from jtoolkit.models import Linear
    >>> fwd = forward_fn(Linear(3, 2, rngs=nnx.Rngs(0)))
    >>> fwd(jnp.ones((4, 3))).shape
    (4, 2)
"""

from __future__ import annotations

from collections.abc import Callable

import jax
from flax import nnx

__all__ = ["forward_fn"]


def forward_fn(model: nnx.Module, training: bool = False) -> Callable:
    """``x -> model(x)`` on a frozen copy of ``model`` in eval mode (``training``
    False: Dropout off, BatchNorm on running statistics) or train mode.

    The copy is taken now: later changes to ``model`` do not reach the function.
    """
    graphdef, state = nnx.split(model)
    state = jax.tree.map(lambda a: a, state)  # a snapshot of the leaves

    def forward(x: jax.Array) -> jax.Array:
        copy = nnx.merge(graphdef, state)
        copy.train() if training else copy.eval()
        return copy(x)

    return forward
