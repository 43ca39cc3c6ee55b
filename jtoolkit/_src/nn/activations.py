"""Activation modules (torch.nn ReLU ... LogSoftmax).

torch.nn.ReLU, Tanh, Sigmoid, SiLU, GELU, LeakyReLU, Softmax and LogSoftmax.
Each takes torch's constructor arguments (``inplace=`` is accepted and ignored: JAX
arrays are immutable), prints torch's ``extra_repr`` through ``summary`` and calls
its function in ``nn/functional/activation.py`` (one implementation per op: the
same values, gradients at the kinks and errors as ``jtoolkit.functional``).
"""

from __future__ import annotations

import warnings
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.core.checks import check_bool, check_int
from jtoolkit._src.nn.functional.activation import (
    celu,
    elu,
    gelu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    logsigmoid,
    mish,
    prelu,
    relu,
    relu6,
    rrelu,
    selu,
    sigmoid,
    silu,
    softmax,
    softmin,
    softplus,
    softshrink,
    softsign,
    tanh,
    tanhshrink,
    threshold,
)
from jtoolkit._src.nn.init import const_param, place

__all__ = [
    "CELU",
    "ELU",
    "GELU",
    "GLU",
    "SELU",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftmax",
    "Mish",
    "PReLU",
    "RReLU",
    "ReLU",
    "ReLU6",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softmax2d",
    "Softmin",
    "Softplus",
    "Softshrink",
    "Softsign",
    "Tanh",
    "Tanhshrink",
    "Threshold",
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


# ------------------------------------------------ the rest of torch's activations


class ELU(_InplaceActivation):
    """torch's ``nn.ELU(alpha=1.0, inplace=False)``: ``F.elu``.

    Example:
      >>> from jtoolkit.models import ELU
      >>> [round(v, 4) for v in ELU()(jnp.array([-1.0, 1.0])).tolist()]
      [-0.6321, 1.0]
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.alpha = alpha

    def __call__(self, x: jax.Array) -> jax.Array:
        return elu(x, self.alpha)

    def _torch_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """torch's ``nn.CELU(alpha=1.0, inplace=False)``: ``F.celu``.

    Raises:
      RuntimeError (at call): ``alpha == 0``, as torch.

    Example:
      >>> from jtoolkit.models import CELU
      >>> [round(v, 4) for v in CELU(2.0)(jnp.array([-1.0, 1.0])).tolist()]
      [-0.7869, 1.0]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return celu(x, self.alpha)


class SELU(_InplaceActivation):
    """torch's ``nn.SELU(inplace=False)``: ``F.selu``.

    Example:
      >>> from jtoolkit.models import SELU
      >>> [round(v, 4) for v in SELU()(jnp.array([1.0])).tolist()]
      [1.0507]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return selu(x)


class GLU(_Activation):
    """torch's ``nn.GLU(dim=-1)``: ``F.glu`` (halves ``dim``).

    Example:
      >>> from jtoolkit.models import GLU
      >>> GLU()(jnp.ones((2, 4))).shape
      (2, 2)
    """

    def __init__(self, dim: int = -1) -> None:
        self.dim = dim

    def __call__(self, x: jax.Array) -> jax.Array:
        return glu(x, self.dim)

    def _torch_repr(self) -> str:
        return f"dim={self.dim}"


class Hardshrink(_Activation):
    """torch's ``nn.Hardshrink(lambd=0.5)``: ``F.hardshrink``.

    Example:
      >>> from jtoolkit.models import Hardshrink
      >>> Hardshrink()(jnp.array([0.2, 1.0])).tolist()
      [0.0, 1.0]
    """

    def __init__(self, lambd: float = 0.5) -> None:
        self.lambd = lambd

    def __call__(self, x: jax.Array) -> jax.Array:
        return hardshrink(x, self.lambd)

    def _torch_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """torch's ``nn.Softshrink(lambd=0.5)``: ``F.softshrink``.

    Raises:
      RuntimeError (at call): ``lambd < 0``, as torch.

    Example:
      >>> from jtoolkit.models import Softshrink
      >>> Softshrink()(jnp.array([0.2, 1.0])).tolist()
      [0.0, 0.5]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return softshrink(x, self.lambd)

    def _torch_repr(self) -> str:
        return f"{self.lambd}"


class Hardsigmoid(_InplaceActivation):
    """torch's ``nn.Hardsigmoid(inplace=False)``: ``F.hardsigmoid``.

    Example:
      >>> from jtoolkit.models import Hardsigmoid
      >>> Hardsigmoid()(jnp.array([0.0])).tolist()
      [0.5]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return hardsigmoid(x)

    def _torch_repr(self) -> str:
        return ""  # torch's repr leaves inplace out here


class Hardswish(_InplaceActivation):
    """torch's ``nn.Hardswish(inplace=False)``: ``F.hardswish``.

    Example:
      >>> from jtoolkit.models import Hardswish
      >>> Hardswish()(jnp.array([4.0])).tolist()
      [4.0]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return hardswish(x)

    def _torch_repr(self) -> str:
        return ""  # torch's repr leaves inplace out here


class Mish(_InplaceActivation):
    """torch's ``nn.Mish(inplace=False)``: ``F.mish``.

    Example:
      >>> from jtoolkit.models import Mish
      >>> Mish()(jnp.array([0.0])).tolist()
      [0.0]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return mish(x)


class ReLU6(_InplaceActivation):
    """torch's ``nn.ReLU6(inplace=False)``: ``F.relu6`` (gradient 0 at 0 and 6).

    Example:
      >>> from jtoolkit.models import ReLU6
      >>> ReLU6()(jnp.array([-1.0, 7.0])).tolist()
      [0.0, 6.0]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return relu6(x)


class Hardtanh(_Activation):
    """torch's ``nn.Hardtanh(min_val=-1.0, max_val=1.0, inplace=False,
    min_value=None, max_value=None)``: ``F.hardtanh``.

    ``min_value``/``max_value`` are torch's deprecated spellings (FutureWarning).

    Raises:
      AssertionError: ``max_val <= min_val`` (torch's type and message).

    Example:
      >>> from jtoolkit.models import Hardtanh
      >>> Hardtanh(-2.0, 2.0)(jnp.array([-3.0, 1.0])).tolist()
      [-2.0, 1.0]
    """

    def __init__(
        self,
        min_val: float = -1.0,
        max_val: float = 1.0,
        inplace: bool = False,
        min_value: float | None = None,
        max_value: float | None = None,
    ) -> None:
        for old, new, given in (
            ("min_value", "min_val", min_value),
            ("max_value", "max_val", max_value),
        ):
            if given is not None:
                warnings.warn(
                    f"keyword argument `{old}` is deprecated and renamed to `{new}`",
                    FutureWarning,
                    stacklevel=2,
                )
        min_val = min_val if min_value is None else min_value
        max_val = max_val if max_value is None else max_value
        if max_val <= min_val:
            raise AssertionError(
                f"max_val ({max_val}) must be greater than min_val ({min_val})"
            )
        self.min_val, self.max_val = min_val, max_val
        self.inplace = check_bool("inplace", inplace, fn=type(self).__name__)

    def __call__(self, x: jax.Array) -> jax.Array:
        return hardtanh(x, self.min_val, self.max_val)

    def _torch_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"min_val={self.min_val}, max_val={self.max_val}{inplace}"


class LogSigmoid(_Activation):
    """torch's ``nn.LogSigmoid()``: ``F.logsigmoid``.

    Example:
      >>> from jtoolkit.models import LogSigmoid
      >>> round(LogSigmoid()(jnp.array([0.0])).item(), 4)
      -0.6931
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return logsigmoid(x)


class Softsign(_Activation):
    """torch's ``nn.Softsign()``: ``F.softsign``.

    Example:
      >>> from jtoolkit.models import Softsign
      >>> Softsign()(jnp.array([1.0])).tolist()
      [0.5]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return softsign(x)


class Tanhshrink(_Activation):
    """torch's ``nn.Tanhshrink()``: ``F.tanhshrink``.

    Example:
      >>> from jtoolkit.models import Tanhshrink
      >>> Tanhshrink()(jnp.array([0.0])).tolist()
      [0.0]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return tanhshrink(x)


class Softplus(_Activation):
    """torch's ``nn.Softplus(beta=1.0, threshold=20.0)``: ``F.softplus``.

    Example:
      >>> from jtoolkit.models import Softplus
      >>> round(Softplus(2.0)(jnp.array([0.0])).item(), 4)
      0.3466
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        self.beta, self.threshold = beta, threshold

    def __call__(self, x: jax.Array) -> jax.Array:
        return softplus(x, self.beta, self.threshold)

    def _torch_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Threshold(_Activation):
    """torch's ``nn.Threshold(threshold, value, inplace=False)``: ``F.threshold``.

    Example:
      >>> from jtoolkit.models import Threshold
      >>> Threshold(0.5, -1.0)(jnp.array([0.0, 1.0])).tolist()
      [-1.0, 1.0]
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        self.threshold, self.value = threshold, value
        self.inplace = check_bool("inplace", inplace, fn="Threshold")

    def __call__(self, x: jax.Array) -> jax.Array:
        return threshold(x, self.threshold, self.value)

    def _torch_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"threshold={self.threshold}, value={self.value}{inplace}"


class Softmin(Softmax):
    """torch's ``nn.Softmin(dim=None)``: ``F.softmin`` (``dim`` rules of ``Softmax``).

    Example:
      >>> from jtoolkit.models import Softmin
      >>> Softmin(dim=-1)(jnp.zeros((1, 2))).tolist()
      [[0.5, 0.5]]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return softmin(x, self.dim)


class Softmax2d(_Activation):
    """torch's ``nn.Softmax2d()``: softmax over the channels of 3-D/4-D images.

    torch takes [N, C, H, W] or [C, H, W] and normalises over dim -3; jtoolkit's
    images are channels-last ([N, H, W, C] or [H, W, C]), so the channel is dim -1.

    Raises:
      ValueError (at call): input that is not 3-D or 4-D (torch's message).

    Example:
      >>> from jtoolkit.models import Softmax2d
      >>> Softmax2d()(jnp.zeros((1, 2, 2, 4)))[0, 0, 0].tolist()
      [0.25, 0.25, 0.25, 0.25]
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        ndim = jnp.ndim(x)
        if ndim not in (3, 4):
            raise ValueError(
                f"Softmax2d: expected input to be 3D or 4D, got {ndim}D instead"
            )
        return softmax(x, -1)


class PReLU(nnx.Module):
    """torch's ``nn.PReLU(num_parameters=1, init=0.25, device=None, dtype=None)``.

    One learned slope (``weight``, shape ``[num_parameters]``, filled with
    ``init``; torch's state_dict key) per channel, or one for all. The channel is
    the LAST dim of input with 2 or more dims (jtoolkit's channels-last layout;
    torch's dim 1, the same for ``[N, C]``); 0-/1-D input has one channel.
    ``F.prelu(x, weight, channels_last=True)`` is the computation.

    Args:
      num_parameters: 1 or the number of channels. init: the initial slope.
      device: where the weight is placed (``jax.device_put``; None: default).
      dtype: the weight's dtype (None: the default float).
      rngs: accepted and ignored (the init is constant).

    Raises:
      ValueError: ``num_parameters`` not a positive integer. RuntimeError (at
        call): a channel count that is neither 1 nor ``num_parameters``.

    Example:
      >>> from jtoolkit.models import PReLU
      >>> prelu = PReLU(2, init=0.5)
      >>> prelu(jnp.array([[-2.0, -4.0]])).tolist(), prelu.weight.shape
      ([[-1.0, -2.0]], (2,))
    """

    def __init__(
        self,
        num_parameters: int = 1,
        init: float = 0.25,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        del rngs
        self.num_parameters = check_int(
            "num_parameters", num_parameters, fn="PReLU", minimum=1
        )
        self.init = init
        self.weight = const_param((self.num_parameters,), init)
        place(self, device, dtype)

    def __call__(self, x: jax.Array) -> jax.Array:
        return prelu(x, self.weight[...], channels_last=True)

    def _torch_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class RReLU(_Activation):
    """torch's ``nn.RReLU(lower=1/8, upper=1/3, inplace=False)``: ``F.rrelu``.

    In training mode each ``x <= 0`` gets a random slope from U(lower, upper),
    drawn from the layer's ``dropout`` RNG stream (torch's distribution, not its
    numbers: JAX has no global RNG); ``.eval()`` uses the mean slope
    ``(lower + upper) / 2``, exactly torch's numbers.

    Args:
      lower, upper: the slope range. inplace: accepted and ignored.
      rngs: ``nnx.Rngs`` with a ``dropout`` (or ``default``) stream, needed in
        training mode.

    Raises:
      ValueError (at call): training mode without ``rngs``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import RReLU
      >>> layer = RReLU(0.1, 0.3, rngs=nnx.Rngs(0))
      >>> bool((layer(-jnp.ones(100)) < -0.09).all())
      True
      >>> layer.eval(); layer(jnp.array([-1.0])).tolist()
      [-0.20000000298023224]
    """

    def __init__(
        self,
        lower: float = 1.0 / 8,
        upper: float = 1.0 / 3,
        inplace: bool = False,
        *,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        self.lower, self.upper = lower, upper
        self.inplace = check_bool("inplace", inplace, fn="RReLU")
        self.deterministic = False
        self.rngs = rngs["dropout"].fork() if rngs is not None else None

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.deterministic:
            return rrelu(x, self.lower, self.upper, False)
        if self.rngs is None:
            raise ValueError(
                "RReLU: training mode draws random slopes but the layer has no rngs; "
                "build it with rngs=nnx.Rngs(0) or call .eval()"
            )
        return rrelu(x, self.lower, self.upper, True, key=self.rngs())

    def _torch_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"lower={self.lower}, upper={self.upper}{inplace}"
