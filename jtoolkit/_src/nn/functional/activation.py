"""torch.nn.functional's activations as pure functions: relu, gelu, softmax, ...

Gradients at the kinks follow torch: ``relu``'s is 0 at 0, ``leaky_relu``'s is
``negative_slope`` at 0 (``jax.nn.leaky_relu`` gives 1 there). ``inplace=`` is
accepted and ignored (JAX arrays are immutable).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core import arrays, dtypes
from jtoolkit._src.core.checks import wrap_dim
from jtoolkit._src.core.eager_jit import eager_jit
from jtoolkit._src.tensor import softmax as _softmax

__all__ = [
    "celu",
    "elu",
    "gelu",
    "glu",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "log_softmax",
    "logsigmoid",
    "mish",
    "prelu",
    "relu",
    "relu6",
    "rrelu",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "tanh",
    "tanhshrink",
    "threshold",
]


@eager_jit
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


@eager_jit
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


@eager_jit
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
    x = arrays.to_array(input)
    if approximate == "tanh":
        return x * _half_one_plus_tanh(_GELU_BETA * (x + _GELU_KAPPA * x * x * x))
    return jax.nn.gelu(x, approximate=False)


_GELU_BETA = math.sqrt(2.0 / math.pi)  # Python floats, as torch's kBeta and kKappa
_GELU_KAPPA = 0.044715


def _half_one_plus_tanh(u: jax.Array) -> jax.Array:
    """``(1 + tanh(u)) / 2``, written ``sigmoid(2u)`` from ``exp(-2|u|)``.

    The tanh form's tail needs this: ``1 + tanh(u)`` cancels for ``u << 0``, and
    XLA's float32 tanh does not round to -1 there on every ISA (capped at SSE4.2 it
    left a gradient of -8.5e-6 at x = -7 where torch's is 0). ``exp(-2|u|) <= 1``
    keeps both branches and their gradients finite; torch's float64 is the truth
    (tests/nn/test_functional_activations.py, the tails).
    """
    e = jnp.exp(-2.0 * jnp.abs(u))
    return jnp.where(u >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@eager_jit
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


@eager_jit
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


@eager_jit
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


@eager_jit
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


@eager_jit
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


# ------------------------------------------------ the rest of torch's activations
# Each is torch's formula; where an unused branch would overflow (exp of a large
# x) its input is replaced first, so a gradient never picks up 0 * inf = NaN.

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _float(input: Any) -> jax.Array:
    return arrays.to_array(input)


def _elu(x: jax.Array, alpha: float, scale: float, input_scale: float) -> jax.Array:
    """torch's ELU kernel: ``x <= 0 ? alpha*scale*expm1(x*input_scale) : scale*x``
    (NaN takes the linear branch, so its gradient is ``scale``, as torch's)."""
    neg = jnp.where(x <= 0, x, 0.0) * input_scale
    return jnp.where(x <= 0, jnp.expm1(neg) * (alpha * scale), x * scale)


def _nan_frozen(x: jax.Array) -> jax.Array:
    """``x`` with gradient 0 where it is NaN (torch's clamp-like backward kernels
    test ``lo < x < hi``, which NaN fails)."""
    return jnp.where(jnp.isnan(x), jax.lax.stop_gradient(x), x)


@eager_jit
def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> jax.Array:
    """``x if x > 0 else alpha * (exp(x) - 1)`` (gradient ``alpha`` at 0, as torch).

    torch counterpart: ``torch.nn.functional.elu(input, alpha=1.0, inplace=False)``.

    Args:
        input: floating array. alpha: the negative saturation. inplace: ignored.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import elu
        >>> [round(v, 4) for v in elu([-1.0, 2.0]).tolist()]
        [-0.6321, 2.0]
    """
    return _elu(_float(input), alpha, 1.0, 1.0)


@eager_jit
def celu(input: Any, alpha: float = 1.0, inplace: bool = False) -> jax.Array:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`` (gradient 1 at 0).

    torch counterpart: ``torch.nn.functional.celu(input, alpha=1.0, inplace=False)``.

    Args:
        input: floating array. alpha: the negative saturation (not 0).
        inplace: ignored.

    Returns:
        Array of ``input``'s shape and dtype.

    Raises:
        RuntimeError: ``alpha == 0`` (torch's "ZeroDivisionError" message).

    Example:
        >>> from jtoolkit.functional import celu
        >>> [round(v, 4) for v in celu([-1.0, 2.0], 2.0).tolist()]
        [-0.7869, 2.0]
    """
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _elu(_float(input), alpha, 1.0, 1.0 / alpha)


@eager_jit
def selu(input: Any, inplace: bool = False) -> jax.Array:
    """``scale * elu(x, alpha)`` with torch's self-normalising constants.

    torch counterpart: ``torch.nn.functional.selu(input, inplace=False)``
    (alpha = 1.6732632..., scale = 1.0507009...).

    Args:
        input: floating array. inplace: ignored.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import selu
        >>> [round(v, 4) for v in selu([-1.0, 1.0]).tolist()]
        [-1.1113, 1.0507]
    """
    return _elu(_float(input), _SELU_ALPHA, _SELU_SCALE, 1.0)


@eager_jit
def glu(input: Any, dim: int = -1) -> jax.Array:
    """Gated linear unit: ``a * sigmoid(b)`` for the two halves ``a, b`` of ``dim``.

    torch counterpart: ``torch.nn.functional.glu(input, dim=-1)``.

    Args:
        input: floating array whose ``dim`` has an even size. dim: the split dim.

    Returns:
        Array with ``dim`` halved.

    Raises:
        RuntimeError: a 0-d input or an odd ``dim`` (torch's messages).
        IndexError: ``dim`` out of range.

    Example:
        >>> from jtoolkit.functional import glu
        >>> glu([[2.0, 0.0]]).tolist()
        [[1.0]]
    """
    x = _float(input)
    if x.ndim == 0:
        raise RuntimeError(
            "glu does not support scalars because halving size must be even"
        )
    axis = wrap_dim(dim, x.ndim)
    if x.shape[axis] % 2:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {axis} is size "
            f"{x.shape[axis]}"
        )
    a, b = jnp.split(x, 2, axis=axis)
    return a * jax.nn.sigmoid(b)


@eager_jit
def hardshrink(input: Any, lambd: float = 0.5) -> jax.Array:
    """``x if |x| > lambd else 0`` (gradient 0 at ``±lambd``, as torch).

    torch counterpart: ``torch.nn.functional.hardshrink(input, lambd=0.5)``.

    Args:
        input: floating array. lambd: the threshold.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import hardshrink
        >>> hardshrink([-1.0, 0.25, 0.5, 2.0]).tolist()
        [-1.0, 0.0, 0.0, 2.0]
    """
    x = _float(input)
    inside = (x >= -lambd) & (x <= lambd)
    return jnp.where(inside, jnp.zeros_like(x), _nan_frozen(x))


@eager_jit
def softshrink(input: Any, lambd: float = 0.5) -> jax.Array:
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0.

    torch counterpart: ``torch.nn.functional.softshrink(input, lambd=0.5)``.

    Args:
        input: floating array. lambd: the threshold, >= 0.

    Returns:
        Array of ``input``'s shape and dtype.

    Raises:
        RuntimeError: ``lambd < 0`` (torch's message).

    Example:
        >>> from jtoolkit.functional import softshrink
        >>> softshrink([-1.0, 0.25, 2.0]).tolist()
        [-0.5, 0.0, 1.5]
    """
    x = _float(input)
    if lambd < 0:
        raise RuntimeError(
            f"lambda must be in range [0, 3.40282e+38] for input dtype "
            f"{dtypes.scalar_name(x.dtype)}, but found {lambd:g}"
        )
    return jnp.where(x > lambd, x - lambd, jnp.where(x < -lambd, x + lambd, x * 0))


@eager_jit
def hardtanh(
    input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> jax.Array:
    """Clamp to ``[min_val, max_val]`` (gradient 0 at both ends, NaN kept, as torch).

    torch counterpart: ``torch.nn.functional.hardtanh(input, min_val=-1.0,
    max_val=1.0, inplace=False)``.

    Args:
        input: floating array. min_val, max_val: the bounds. inplace: ignored.

    Returns:
        Array of ``input``'s shape and dtype.

    Raises:
        ValueError: ``min_val > max_val`` (torch's message).

    Example:
        >>> from jtoolkit.functional import hardtanh
        >>> hardtanh([-3.0, 0.5, 3.0]).tolist()
        [-1.0, 0.5, 1.0]
    """
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    x = _float(input)
    low = jnp.full_like(x, min_val)
    high = jnp.full_like(x, max_val)
    middle = _nan_frozen(x)
    return jnp.where(x <= min_val, low, jnp.where(x >= max_val, high, middle))


@eager_jit
def relu6(input: Any, inplace: bool = False) -> jax.Array:
    """``min(max(x, 0), 6)``: ``hardtanh(x, 0, 6)`` (gradient 0 at 0 and 6).

    torch counterpart: ``torch.nn.functional.relu6(input, inplace=False)``.

    Args:
        input: floating array. inplace: ignored.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import relu6
        >>> relu6([-1.0, 3.0, 9.0]).tolist()
        [0.0, 3.0, 6.0]
    """
    return hardtanh(input, 0.0, 6.0)


@eager_jit
def hardsigmoid(input: Any, inplace: bool = False) -> jax.Array:
    """``relu6(x + 3) / 6`` (gradient 1/6 strictly inside (-3, 3), else 0).

    torch counterpart: ``torch.nn.functional.hardsigmoid(input, inplace=False)``.

    Args:
        input: floating array. inplace: ignored.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import hardsigmoid
        >>> hardsigmoid([-4.0, 0.0, 4.0]).tolist()
        [0.0, 0.5, 1.0]
    """
    return relu6(_float(input) + 3.0) / 6.0


@eager_jit
def hardswish(input: Any, inplace: bool = False) -> jax.Array:
    """``x * relu6(x + 3) / 6`` with torch's gradient (``x/3 + 1/2`` on (-3, 3)).

    torch counterpart: ``torch.nn.functional.hardswish(input, inplace=False)``
    (``hardswish(-inf)`` is NaN there too: ``-inf * 0``).

    Args:
        input: floating array. inplace: ignored.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import hardswish
        >>> hardswish([-4.0, 0.0, 1.5, 4.0]).tolist()
        [-0.0, 0.0, 1.125, 4.0]
    """
    x = _float(input)
    nan = jnp.isnan(x)
    finite = jnp.where(nan, 0.0, x)  # NaN: value NaN, gradient 1 (torch's)
    gate = jnp.where(finite <= -3.0, 0.0, jnp.where(finite >= 3.0, 6.0, finite + 3.0))
    return jnp.where(nan, x, x * gate / 6.0)


@eager_jit
def logsigmoid(input: Any) -> jax.Array:
    """``log(sigmoid(x))``, computed stably (``-softplus(-x)``).

    torch counterpart: ``torch.nn.functional.logsigmoid(input)``.

    Args:
        input: floating array.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import logsigmoid
        >>> round(logsigmoid([0.0]).item(), 6)
        -0.693147
    """
    return jax.nn.log_sigmoid(_float(input))


@eager_jit
def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> jax.Array:
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``.

    torch counterpart: ``torch.nn.functional.softplus(input, beta=1, threshold=20)``.

    Args:
        input: floating array. beta: the sharpness. threshold: above it (in
            ``beta * x``) the result is ``x``.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import softplus
        >>> [round(v, 4) for v in softplus([0.0, 30.0]).tolist()]
        [0.6931, 30.0]
    """
    x = _float(input)
    scaled = x * beta
    linear = scaled > threshold
    safe = jnp.where(linear, 0.0, scaled)
    return jnp.where(linear, x, jnp.log1p(jnp.exp(safe)) / beta)


@eager_jit
def mish(input: Any, inplace: bool = False) -> jax.Array:
    """``x * tanh(softplus(x))``.

    torch counterpart: ``torch.nn.functional.mish(input, inplace=False)``.

    Args:
        input: floating array. inplace: ignored.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import mish
        >>> round(mish([1.0]).item(), 4)
        0.8651
    """
    x = _float(input)
    return x * jnp.tanh(softplus(x))


@eager_jit
def softsign(input: Any) -> jax.Array:
    """``x / (1 + |x|)``.

    torch counterpart: ``torch.nn.functional.softsign(input)``.

    Args:
        input: floating array.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import softsign
        >>> softsign([-1.0, 3.0]).tolist()
        [-0.5, 0.75]
    """
    x = _float(input)
    return x / (jnp.abs(x) + 1)


@eager_jit
def tanhshrink(input: Any) -> jax.Array:
    """``x - tanh(x)``.

    torch counterpart: ``torch.nn.functional.tanhshrink(input)``.

    Args:
        input: floating array.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import tanhshrink
        >>> tanhshrink([0.0]).tolist()
        [0.0]
    """
    x = _float(input)
    return x - jnp.tanh(x)


@eager_jit
def threshold(
    input: Any, threshold: float, value: float, inplace: bool = False
) -> jax.Array:
    """``x if x > threshold else value`` (gradient 0 at ``threshold``; NaN kept).

    torch counterpart: ``torch.nn.functional.threshold(input, threshold, value,
    inplace=False)``.

    Args:
        input: floating array. threshold: the cut. value: the replacement.
        inplace: ignored.

    Returns:
        Array of ``input``'s shape and dtype.

    Example:
        >>> from jtoolkit.functional import threshold
        >>> threshold([0.5, 1.0, 2.0], 1.0, -1.0).tolist()
        [-1.0, -1.0, 2.0]
    """
    x = _float(input)
    return jnp.where(x <= threshold, jnp.full_like(x, value), x)


@eager_jit
def softmin(
    input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> jax.Array:
    """``softmax(-x)`` along ``dim`` (implicit dim as :func:`softmax`).

    torch counterpart: ``torch.nn.functional.softmin(input, dim=None,
    _stacklevel=3, dtype=None)``.

    Args:
        input: floating array. dim: the dim that sums to 1.
        _stacklevel: ignored. dtype: cast the input first.

    Returns:
        Array of ``input``'s shape.

    Raises:
        As :func:`softmax`.

    Example:
        >>> from jtoolkit.functional import softmin
        >>> [round(v, 4) for v in softmin([[0.0, 1.0]], dim=1)[0].tolist()]
        [0.7311, 0.2689]
    """
    if dim is None:
        dim = _implicit_dim(input, "softmin")
    x = arrays.to_array(input)
    if dtype is not None:
        x = x.astype(dtype)
    return _softmax.softmax(-x, dim)


@eager_jit
def prelu(input: Any, weight: Any, *, channels_last: bool = False) -> jax.Array:
    """``x if x > 0 else weight * x`` with one learned slope per channel.

    torch counterpart: ``torch.nn.functional.prelu(input, weight)``: the channel
    dim is 1 (torch's layout) for input of 2 or more dims, none for 0-/1-D
    input; ``channels_last=True`` takes the channel as the LAST dim instead
    (jtoolkit's NHWC / NLC activations, what ``models.PReLU`` uses).

    Args:
        input: floating array. weight: ``[1]`` or ``[C]`` slopes (or a scalar).
        channels_last: keyword-only, the channel is the last dim.

    Returns:
        Array of ``input``'s shape.

    Raises:
        RuntimeError: ``weight`` of 2 or more dims, or of a size that is neither
            1 nor the channel size (torch's messages).

    Example:
        >>> from jtoolkit.functional import prelu
        >>> prelu([[-2.0, -2.0]], jnp.array([0.5, 0.25])).tolist()
        [[-1.0, -0.5]]
    """
    x, w = _float(input), _float(weight)
    if w.ndim > 1:
        raise RuntimeError(
            f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
            f"ndim = {w.ndim}"
        )
    axis = (x.ndim - 1 if channels_last else 1) if x.ndim >= 2 else None
    channels = 1 if axis is None else x.shape[axis]
    if w.size != 1 and w.size != channels:
        raise RuntimeError(
            f"Mismatch of parameter numbers and input channel size. Found parameter "
            f"numbers = {w.size} and channel size = {channels}."
        )
    if w.size != 1 and axis is not None:
        w = w.reshape((-1,) + (1,) * (x.ndim - 1 - axis))
    else:
        w = w.reshape(())
    return jnp.where(x > 0, x, w * x)


@eager_jit
def rrelu(
    input: Any,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
    *,
    key: Any = None,
) -> jax.Array:
    """Randomized leaky ReLU: a random slope in ``[lower, upper]`` per element.

    torch counterpart: ``torch.nn.functional.rrelu(input, lower=1/8, upper=1/3,
    training=False, inplace=False)``. In evaluation it is exactly torch's:
    ``leaky_relu(x, (lower + upper) / 2)``. In training every ``x <= 0`` is
    multiplied by its own slope drawn from U(lower, upper) with ``key`` (JAX has
    no global RNG: the slopes follow the same distribution as torch's, not its
    numbers); the gradient there is that slope.

    Args:
        input: floating array. lower, upper: the slope range.
        training: draw random slopes. inplace: ignored.
        key: keyword-only PRNG key, needed when ``training``.

    Returns:
        Array of ``input``'s shape and dtype.

    Raises:
        RuntimeError: ``lower > upper`` in training (torch's message).
        ValueError: ``training`` without ``key``.

    Example:
        >>> from jtoolkit.functional import rrelu
        >>> rrelu([-3.0, 1.0], 0.1, 0.3).tolist()
        [-0.6000000238418579, 1.0]
        >>> y = rrelu(-jnp.ones(1000), training=True, key=jax.random.key(0))
        >>> bool((-y >= 1 / 8).all() and (-y <= 1 / 3).all())
        True
    """
    x = _float(input)
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    if lower > upper:
        raise RuntimeError(
            "Lower bound should be less than or equal to the upper bound"
        )
    if key is None:
        raise ValueError(
            "rrelu: training=True draws random slopes and needs a PRNG key: pass "
            "key=jax.random.key(seed), or training=False"
        )
    slopes = jax.random.uniform(key, x.shape, x.dtype, lower, upper)
    return jnp.where(x > 0, x, x * slopes)
