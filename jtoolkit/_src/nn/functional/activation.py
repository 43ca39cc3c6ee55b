"""torch.nn.functional's activations as pure functions: relu, gelu, softmax, ...

Gradients at the kinks follow torch: ``relu``'s is 0 at 0, ``leaky_relu``'s is
``negative_slope`` at 0 (``jax.nn.leaky_relu`` gives 1 there). ``inplace=`` is
accepted and ignored (JAX arrays are immutable).
"""

from __future__ import annotations

import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core import arrays
from jtoolkit._src.tensor import softmax as _softmax

__all__ = [
    "gelu",
    "leaky_relu",
    "log_softmax",
    "relu",
    "sigmoid",
    "silu",
    "softmax",
    "tanh",
]


def relu(input: Any, inplace: bool = False) -> jax.Array:
    """``max(x, 0)``, gradient 0 at 0.

    torch counterpart: ``torch.nn.functional.relu(input, inplace=False)``.

    Args:
        input: array. inplace: ignored.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import relu
        >>> relu([-1.0, 0.0, 2.0]).tolist()
        [0.0, 0.0, 2.0]
    """
    return jax.nn.relu(arrays.to_array(input))


def leaky_relu(
    input: Any, negative_slope: float = 0.01, inplace: bool = False
) -> jax.Array:
    """``x if x > 0 else negative_slope * x`` (gradient ``negative_slope`` at 0).

    torch counterpart: ``torch.nn.functional.leaky_relu(input, negative_slope=0.01,
    inplace=False)``.

    Args:
        input: floating array. negative_slope: slope for ``x <= 0``.
        inplace: ignored.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import leaky_relu
        >>> leaky_relu([-2.0, 3.0], 0.5).tolist()
        [-1.0, 3.0]
    """
    x = arrays.to_array(input)
    return jnp.where(x > 0, x, x * negative_slope)


def gelu(input: Any, approximate: str = "none") -> jax.Array:
    """Gaussian error linear unit: ``x * Phi(x)`` (erf form, or torch's tanh form).

    torch counterpart: ``torch.nn.functional.gelu(input, approximate='none')``.

    Args:
        input: floating array.
        approximate: "none" (exact, erf) or "tanh".

    Returns:
        Array of ``input``'s shape and dtype.

    Raises:
        RuntimeError: another ``approximate`` ("approximate argument must be either
            none or tanh.").

    Example:
        >>> from jtoolkit.functional import gelu
        >>> exact, tanh_form = gelu([1.0]), gelu([1.0], approximate="tanh")
        >>> round(exact.item(), 6), round(tanh_form.item(), 6)
        (0.841345, 0.841192)
    """
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return jax.nn.gelu(arrays.to_array(input), approximate=approximate == "tanh")


def silu(input: Any, inplace: bool = False) -> jax.Array:
    """``x * sigmoid(x)`` (swish).

    torch counterpart: ``torch.nn.functional.silu(input, inplace=False)``.

    Args:
        input: floating array. inplace: ignored.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import silu
        >>> round(silu([1.0]).item(), 6)
        0.731059
    """
    return jax.nn.silu(arrays.to_array(input))


def sigmoid(input: Any) -> jax.Array:
    """``1 / (1 + exp(-x))``.

    torch counterpart: ``torch.nn.functional.sigmoid(input)``.

    Args:
        input: floating array.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import sigmoid
        >>> sigmoid([0.0]).tolist()
        [0.5]
    """
    return jax.nn.sigmoid(arrays.to_array(input))


def tanh(input: Any) -> jax.Array:
    """Hyperbolic tangent.

    torch counterpart: ``torch.nn.functional.tanh(input)``.

    Args:
        input: floating array.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import tanh
        >>> tanh([0.0]).tolist()
        [0.0]
    """
    return jnp.tanh(arrays.to_array(input))


def _implicit_dim(input: Any, name: str) -> int:
    """torch's deprecated implicit softmax dim: 0 for 0-D, 1-D and 3-D, else 1."""
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the "
        "call to include dim=X as an argument.",
        UserWarning,
        stacklevel=3,
    )
    return 0 if np.ndim(input) in (0, 1, 3) else 1


def softmax(
    input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> jax.Array:
    """Softmax along ``dim``: ``tensor_ops.softmax`` with F's signature.

    torch counterpart: ``torch.nn.functional.softmax(input, dim=None,
    _stacklevel=3, dtype=None)``; ``dim=None`` picks torch's deprecated implicit
    dim (0 for 0-D, 1-D and 3-D input, else 1) with torch's UserWarning.

    Args:
        input: floating array. dim: the dim that sums to 1.
        _stacklevel: ignored. dtype: cast the input first.

    Returns:
        Array of ``input``'s shape.

    Raises:
        NotImplementedError: integer input. IndexError: ``dim`` out of range.

    Example:
        >>> from jtoolkit.functional import softmax
        >>> softmax([[0.0, 0.0]], dim=1).tolist()
        [[0.5, 0.5]]
    """
    if dim is None:
        dim = _implicit_dim(input, "softmax")
    return _softmax.softmax(input, dim, dtype)


def log_softmax(
    input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> jax.Array:
    """Log-softmax along ``dim``, with F's signature (implicit dim as :func:`softmax`).

    torch counterpart: ``torch.nn.functional.log_softmax(input, dim=None,
    _stacklevel=3, dtype=None)``.

    Args:
        input: floating array. dim: the dim to normalise over.
        _stacklevel: ignored. dtype: cast the input first.

    Returns:
        Array of ``input``'s shape.

    Raises:
        As :func:`softmax`.

    Example:
        >>> from jtoolkit.functional import log_softmax
        >>> [round(v, 4) for v in log_softmax([[1.0, 2.0]], dim=1)[0].tolist()]
        [-1.3133, -0.3133]
    """
    if dim is None:
        dim = _implicit_dim(input, "log_softmax")
    return _softmax.log_softmax(input, dim, dtype)
