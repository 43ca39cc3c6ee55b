"""Reshaping modules: torch.nn.Flatten and Unflatten, row-major as torch.

The layout rule (the one place it is written, with README's "What differs from torch"):
``Flatten`` flattens the array it is given in row-major order, exactly as torch does,
whatever its rank. It never guesses a layout. An MLP fed torch-style NCHW batches
therefore gives torch's numbers; a network whose activations are NHWC (jtoolkit's
convolutions) must put them in torch's (C, H, W) order itself before flattening if
torch weights are to load: ``models.CNN`` does (``x.transpose(0, 3, 1, 2)`` before its
classifier), and so must a hand-written one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.core.checks import wrap_dim
from jtoolkit._src.nn.functional.flatten import flatten

__all__ = ["Flatten", "Unflatten"]


class Flatten(nnx.Module):
    """Merge dims ``start_dim..end_dim`` in row-major order, torch's ``nn.Flatten``.

    torch: ``torch.nn.Flatten(start_dim=1, end_dim=-1)``; the same element order as
    torch for the same array. It does not reorder an NHWC activation into torch's
    (C, H, W) order: to load a torch ``Linear`` that follows a torch ``Flatten`` of
    NCHW conv features, transpose first (``x.transpose(0, 3, 1, 2)``), as
    ``models.CNN`` does. An NCHW batch (a torch-style dataset) flattens exactly as in
    torch.

    Args:
      start_dim: first dim to merge.
      end_dim: last dim to merge (inclusive).

    Raises:
      IndexError: a dim out of range (torch's message). RuntimeError: start_dim
        after end_dim.

    Example:
      >>> from jtoolkit.models import Flatten
      >>> Flatten()(jnp.arange(4.0).reshape(1, 1, 2, 2)).tolist()
      [[0.0, 1.0, 2.0, 3.0]]
      >>> Flatten(0, 1)(jnp.ones((2, 3, 4))).shape
      (6, 4)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        self.start_dim = start_dim
        self.end_dim = end_dim

    def __call__(self, x: jax.Array) -> jax.Array:
        return flatten(x, self.start_dim, self.end_dim)

    def _torch_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(nnx.Module):
    """Split dim ``dim`` into ``unflattened_size``, torch's ``nn.Unflatten``.

    torch: ``torch.nn.Unflatten(dim, unflattened_size)`` (row-major; one entry may be
    -1). Named-tensor (str ``dim``) forms are not supported.

    Raises:
      IndexError: ``dim`` out of range. RuntimeError: the sizes' product is not the
        size of ``dim`` (torch's message).

    Example:
      >>> from jtoolkit.models import Unflatten
      >>> Unflatten(1, (2, 3))(jnp.ones((4, 6))).shape
      (4, 2, 3)
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        if isinstance(dim, str) or not isinstance(unflattened_size, list | tuple):
            raise TypeError(
                "Unflatten: dim must be an int and unflattened_size a tuple or list "
                f"of ints, got dim={dim!r}, unflattened_size={unflattened_size!r}"
            )
        self.dim = dim
        self.unflattened_size = unflattened_size  # as given: torch's repr shows it

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        dim = wrap_dim(self.dim, x.ndim)
        sizes = tuple(self.unflattened_size)
        known = math.prod(s for s in sizes if s != -1)
        ok = sizes.count(-1) <= 1 and (
            known == x.shape[dim] if -1 not in sizes else x.shape[dim] % known == 0
        )
        if not ok:
            raise RuntimeError(
                "unflatten: Provided sizes "
                f"[{', '.join(map(str, sizes))}] don't multiply up to the size of dim "
                f"{self.dim} ({x.shape[dim]}) in the input tensor"
            )
        return x.reshape(*x.shape[:dim], *sizes, *x.shape[dim + 1 :])

    def _torch_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
