"""StableHLO export through ``jax.export``: bytes any JAX process can run.

torch: ``torch.export.export(model, (x,))`` then saving the program;
``torch.jit.trace`` for deployment. Weights are baked in as constants.

Example:
    >>> from flax import nnx
    >>> from jtoolkit.models import SimpleNN
    >>> from jtoolkit.export import stablehlo
    >>> model = SimpleNN(rngs=nnx.Rngs(0))
    >>> x = jnp.ones((2, 1024))
    >>> exported = jax.export.deserialize(stablehlo(model, x))
    >>> bool(jnp.allclose(exported.call(x), model(x)))
    True
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_bool
from jtoolkit._src.export.forward import forward_fn

__all__ = ["stablehlo"]


def stablehlo(
    model: nnx.Module,
    example_input: ArrayLike,
    *,
    dynamic_batch: bool = False,
    training: bool = False,
    platforms: tuple[str, ...] | None = None,
) -> bytearray:
    """Serialize ``model``'s forward pass on inputs like ``example_input``.

    Args:
      model: any jtoolkit/NNX module taking one array.
      example_input: an array (or ``jax.ShapeDtypeStruct``) giving shape and dtype.
      dynamic_batch: export the leading dimension as symbolic (any batch size).
      training: export train mode (Dropout on, BatchNorm on batch statistics, its
        running statistics not updated); default eval mode.
      platforms: target platforms (e.g. ``("cpu", "cuda")``); default the
        current backend.

    Returns:
      ``jax.export`` bytes: ``jax.export.deserialize(blob).call(x)`` runs it in any
      process with a compatible jax, without jtoolkit or the model's code.
    """
    check_bool("dynamic_batch", dynamic_batch, fn="stablehlo")
    shape, dtype = jnp.shape(example_input), jnp.result_type(example_input)
    if dynamic_batch:
        if not shape:
            raise ValueError("stablehlo: dynamic_batch needs an input with a batch dim")
        (batch,) = jax.export.symbolic_shape("batch")
        shape = (batch, *shape[1:])
    spec = jax.ShapeDtypeStruct(shape, dtype)
    fn = jax.jit(forward_fn(model, training))
    exported = jax.export.export(fn, platforms=platforms)(spec)
    return exported.serialize()
