"""Argument checks shared by the autodiff wrappers (torch's errors)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from jtoolkit._src.core import arrays, checks, dtypes

__all__: list[str] = []


_SCALAR_ONLY = "grad can be implicitly created only for scalar outputs"


def check_scalar(value: Any, numel_one: bool) -> None:
    """torch's error for a non-scalar output (``numel_one``: shape [1] passes)."""
    shape = tuple(np.shape(value))
    if shape == () or (numel_one and int(np.prod(shape)) == 1):
        return
    raise RuntimeError(
        f"{_SCALAR_ONLY} (the function returned shape {checks.shape_str(shape)}; "
        "reduce it first, e.g. with .sum() or .mean(), or use vjp/jacobian)"
    )


def as_input(x: Any) -> Any:
    """numpy arrays and nested lists of numbers become arrays; pytrees stay."""
    if isinstance(x, np.ndarray | np.generic):
        return arrays.to_array(x)
    if (
        isinstance(x, list | tuple)
        and x
        and all(isinstance(leaf, bool | int | float) for leaf in jax.tree.leaves(x))
    ):
        return arrays.to_array(x)
    return x


def check_differentiable(args: tuple[Any, ...], nums: tuple[int, ...]) -> None:
    """torch's error for integer/bool arguments asked to carry gradients."""
    for n in nums:
        for leaf in jax.tree.leaves(args[n]):
            dtype = getattr(leaf, "dtype", None)
            if isinstance(leaf, bool | int) or (
                dtype is not None and not dtypes.is_float(dtype)
            ):
                raise RuntimeError(
                    "Only Tensors of floating point and complex dtype can require "
                    f"gradients (argument {n} holds {dtype or type(leaf).__name__}; "
                    "pass floats, e.g. tensor([1.0, 2.0]))"
                )


def argnums_tuple(argnums: int | Sequence[int], nargs: int) -> tuple[int, ...]:
    """``argnums`` as a tuple of non-negative positions, checked against ``nargs``."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not -nargs <= n < nargs:
            raise IndexError(
                f"argnums={argnums} is out of range for {nargs} positional argument(s)"
            )
    return tuple(n % nargs for n in nums)
