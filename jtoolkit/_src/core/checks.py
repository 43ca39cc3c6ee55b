"""Argument checks (one message grammar) and torch's shape and dim errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from jtoolkit._src.core.dtypes import is_tracer

__all__: list[str] = []


def shape_str(shape: Sequence[int]) -> str:
    """torch's list spelling of a shape: ``[2, 3]``."""
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def wrap_dim(dim: Any, ndim: int, name: str = "dim") -> int:
    """Map a possibly negative ``dim`` into ``[0, ndim)`` (torch's ``maybe_wrap_dim``).

    A 0-d tensor accepts dims -1 and 0, as in torch.

    Raises:
        TypeError: ``dim`` is not an integer.
        IndexError: ``dim`` is outside ``[-ndim, ndim - 1]``.
    """
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"argument '{name}' must be int, not {type(dim).__name__}")
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(
            f"Dimension out of range (expected to be in range of "
            f"[{-rank}, {rank - 1}], but got {int(dim)})"
        )
    return int(dim) % rank


def check_int(value: Any, name: str, fname: str) -> int:
    """A Python/numpy integer argument as ``int``, else torch's TypeError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(
            f"{fname}(): argument '{name}' must be int, not {type(value).__name__}"
        )
    return int(value)


def check_broadcast(a_shape: Sequence[int], b_shape: Sequence[int]) -> None:
    """Raise torch's RuntimeError when two shapes do not broadcast."""
    for i in range(1, min(len(a_shape), len(b_shape)) + 1):
        m, n = a_shape[-i], b_shape[-i]
        if m != n and m != 1 and n != 1:
            dim = max(len(a_shape), len(b_shape)) - i
            raise RuntimeError(
                f"The size of tensor a ({m}) must match the size of tensor b ({n}) "
                f"at non-singleton dimension {dim}"
            )


def ensure_concrete(x: Any, what: str) -> None:
    """Raise a clear error when a host value is asked of a traced array."""
    if is_tracer(x):
        raise RuntimeError(
            f"{what} needs a concrete value, but it was called on a traced array "
            "inside jax.jit/grad/vmap; call it outside the transformed function "
            "(return the array and convert it afterwards)"
        )
