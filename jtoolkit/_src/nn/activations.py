"""Activation modules (torch.nn ReLU ... LogSoftmax).

torch.nn.ReLU, Tanh, Sigmoid, SiLU, GELU, LeakyReLU, Softmax and LogSoftmax.
Each takes torch's constructor arguments (``inplace=`` is accepted and ignored: JAX
arrays are immutable), prints torch's ``extra_repr`` through ``summary`` and calls
its function in ``nn/functional/activation.py`` (one implementation per op: the
same values, gradients at the kinks and errors as ``jtoolkit.functional``).
"""

from __future__ import annotations

import jax
from flax import nnx

from jtoolkit._src.core.checks import check_bool
from jtoolkit._src.nn.functional.activation import (
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    silu,
    softmax,
    tanh,
)

__all__ = [
    "GELU",
    "LeakyReLU",
    "LogSoftmax",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
]


class _Activation(nnx.Module):
    """An element-wise function as a module (no state), for torch-style Sequentials."""

    def _torch_repr(self) -> str:
        return ""


class _InplaceActivation(_Activation):
    """An activation whose torch twin takes ``inplace=False`` (accepted, ignored)."""

    def __init__(self, inplace: bool = False) -> None:
        self.inplace = check_bool("inplace", inplace, fn=type(self).__name__)

    def _torch_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_InplaceActivation):
    """torch's ``nn.ReLU(inplace=False)`` (gradient 0 at 0, as torch).

    ``inplace`` is accepted and ignored (JAX arrays are immutable); it shows in
    ``summary`` as in torch's repr.

    Example:
      >>> from jtoolkit.models import ReLU
      >>> ReLU(inplace=True)(jnp.array([-1.0, 2.0])).tolist()
      [0.0, 2.0]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return relu(x)


class Tanh(_Activation):
    """torch's ``nn.Tanh()``.

    Example:
      >>> from jtoolkit.models import Tanh
      >>> Tanh()(jnp.zeros(2)).tolist()
      [0.0, 0.0]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return tanh(x)


class Sigmoid(_Activation):
    """torch's ``nn.Sigmoid()``.

    Example:
      >>> from jtoolkit.models import Sigmoid
      >>> Sigmoid()(jnp.zeros(2)).tolist()
      [0.5, 0.5]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return sigmoid(x)


class SiLU(_InplaceActivation):
    """torch's ``nn.SiLU(inplace=False)``: x * sigmoid(x) (``inplace`` ignored).

    Example:
      >>> from jtoolkit.models import SiLU
      >>> SiLU()(jnp.zeros(1)).tolist()
      [0.0]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return silu(x)


class GELU(_Activation):
    """torch's ``nn.GELU(approximate='none')`` (exact erf form by default).

    Args:
      approximate: "none" (erf) or "tanh".

    Raises:
      RuntimeError: another ``approximate`` (at construction; torch raises it at
        the call, with the same type and message as ``F.gelu``).

    Example:
      >>> from jtoolkit.models import GELU
      >>> GELU()(jnp.zeros(1)).tolist()
      [0.0]
    """

    def __init__(self, approximate: str = "none") -> None:
        gelu(0.0, approximate)  # F.gelu's check: RuntimeError, torch's message
        self.approximate = approximate

    def __call__(self, x: jax.Array) -> jax.Array:
        return gelu(x, self.approximate)

    def _torch_repr(self) -> str:
        return f"approximate='{self.approximate}'"


class LeakyReLU(_Activation):
    """torch's ``nn.LeakyReLU(negative_slope=0.01, inplace=False)``: ``F.leaky_relu``
    (gradient ``negative_slope`` at 0, as torch).

    Example:
      >>> from jtoolkit.models import LeakyReLU
      >>> LeakyReLU(0.5)(jnp.array([-2.0, 2.0])).tolist()
      [-1.0, 2.0]
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        self.negative_slope = negative_slope
        self.inplace = check_bool("inplace", inplace, fn="LeakyReLU")

    def __call__(self, x: jax.Array) -> jax.Array:
        return leaky_relu(x, self.negative_slope)

    def _torch_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"negative_slope={self.negative_slope}{inplace}"


class Softmax(_Activation):
    """torch's ``nn.Softmax(dim=None)``: exp(x) / sum(exp(x)) along ``dim``.

    ``dim`` indexes the array as given (channels are the LAST axis of NHWC
    activations, so torch's ``Softmax(dim=1)`` on NCHW is ``Softmax(dim=-1)`` here).
    ``dim=None`` keeps torch's deprecated implicit choice (0 for 0-, 1- and 3-D
    input, else 1) and its UserWarning.

    Raises:
      IndexError: ``dim`` out of range (torch's message).

    Example:
      >>> from jtoolkit.models import Softmax
      >>> Softmax(dim=-1)(jnp.zeros((1, 4))).tolist()
      [[0.25, 0.25, 0.25, 0.25]]
    """

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim

    def __call__(self, x: jax.Array) -> jax.Array:
        return softmax(x, self.dim)

    def _torch_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(_Activation):
    """torch's ``nn.LogSoftmax(dim=None)``: log of ``Softmax`` (same ``dim`` rules).

    Example:
      >>> from jtoolkit.models import LogSoftmax
      >>> np.round(np.asarray(LogSoftmax(dim=1)(jnp.zeros((1, 2))), float), 4).tolist()
      [[-0.6931, -0.6931]]
    """

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim

    def __call__(self, x: jax.Array) -> jax.Array:
        return log_softmax(x, self.dim)

    def _torch_repr(self) -> str:
        return f"dim={self.dim}"
