"""torch.nn.functional's normalisations as pure functions: batch_norm, layer_norm, ...

Each normalisation is implemented once here; the modules of ``nn/normalization.py``
hold the parameters and the running statistics and call these functions with
``channels_last=True`` (jtoolkit's NHWC / NLC activations). Without it the channel
is dim 1, torch's layout, so the same array gives torch's answer.

Arrays are immutable: ``batch_norm`` and ``instance_norm`` in training mode
normalise with the batch statistics but cannot update ``running_mean`` /
``running_var`` in place as torch's do (the modules keep and update them; the
update rule is :func:`running_update`).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core import arrays
from jtoolkit._src.core.checks import shape_str
from jtoolkit._src.core.eager_jit import eager_jit

__all__ = [
    "batch_norm",
    "batch_stats",
    "group_norm",
    "instance_norm",
    "instance_stats",
    "layer_norm",
    "local_response_norm",
    "rms_norm",
    "running_update",
]


def _channel_axis(ndim: int, channels_last: bool) -> int:
    return ndim - 1 if channels_last else min(1, ndim - 1)


def _per_channel(v: Any, ndim: int, axis: int) -> jax.Array:
    """A ``[C]`` vector shaped to broadcast along ``axis`` of an ``ndim`` array."""
    return jnp.reshape(arrays.to_array(v), (-1,) + (1,) * (ndim - 1 - axis))


def _affine(y: jax.Array, weight: Any, bias: Any, axis: int) -> jax.Array:
    if weight is not None:
        y = y * _per_channel(weight, y.ndim, axis)
    return y if bias is None else y + _per_channel(bias, y.ndim, axis)


def batch_stats(
    x: jax.Array, axis: int, mask: Any = None
) -> tuple[jax.Array, jax.Array, Any]:
    """Per-channel mean, biased variance (exact two-pass) and element count.

    ``mask`` (``[N]``, 1 real row, 0 padding) restricts the statistics to the real
    rows; the count is then traced (a Python int otherwise).
    """
    axes = tuple(d for d in range(x.ndim) if d != axis)
    shape = [1 if d != axis else -1 for d in range(x.ndim)]
    if mask is None:
        mean = x.mean(axis=axes)
        var = jnp.square(x - mean.reshape(shape)).mean(axis=axes)
        return mean, var, math.prod(x.shape[d] for d in axes)
    w = jnp.asarray(mask, x.dtype).reshape((-1,) + (1,) * (x.ndim - 1))
    count = jnp.sum(w) * math.prod(x.shape[d] for d in axes[1:])
    denom = jnp.maximum(count, 1)
    mean = jnp.sum(x * w, axis=axes) / denom
    var = jnp.sum(jnp.square(x - mean.reshape(shape)) * w, axis=axes) / denom
    return mean, var, count


def instance_stats(x: jax.Array, axis: int) -> tuple[jax.Array, jax.Array, int]:
    """Mean and biased variance per (sample, channel), kept broadcastable."""
    axes = tuple(d for d in range(1, x.ndim) if d != axis)
    mean = x.mean(axis=axes, keepdims=True)
    var = jnp.square(x - mean).mean(axis=axes, keepdims=True)
    return mean, var, math.prod(x.shape[d] for d in axes)


def running_update(
    running: jax.Array, batch: jax.Array, factor: Any, count: Any = None
) -> jax.Array:
    """torch's running-statistics rule: ``(1 - factor) * running + factor * batch``;
    with ``count`` the batch variance is first made unbiased (``* n / (n - 1)``)."""
    if count is not None:
        if isinstance(count, int):  # a static batch: the exact host ratio
            batch = batch * (count / max(count - 1, 1))
        else:
            batch = batch * (count / jnp.maximum(count - 1, 1))
    return (1.0 - factor) * running + factor * batch


def _normalize(x, mean, var, weight, bias, eps, axis) -> jax.Array:
    """``(x - mean) * (rsqrt(var + eps) * weight) + bias`` along channel ``axis``."""
    scale = jax.lax.rsqrt(var + eps)
    if weight is not None:
        scale = scale * _per_channel(weight, x.ndim, axis)
    y = (x - mean) * scale
    return y if bias is None else y + _per_channel(bias, x.ndim, axis)


@eager_jit
def batch_norm(
    input: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
    *,
    channels_last: bool = False,
) -> jax.Array:
    """Batch normalisation: per channel, with the batch's or the running statistics.

    torch counterpart: ``torch.nn.functional.batch_norm(input, running_mean,
    running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5)``.
    Training mode normalises with the batch mean and biased variance; torch then
    updates ``running_mean``/``running_var`` in place, which immutable arrays
    cannot do: use ``models.BatchNorm*`` (or :func:`running_update`) for them.

    Args:
        input: ``[N, C, *]`` (``[N, *, C]`` with ``channels_last=True``).
        running_mean, running_var: ``[C]`` (used when not ``training``).
        weight, bias: ``[C]`` or None. training: use the batch statistics.
        momentum: unused (torch's running-statistics update). eps: added to the
            variance. channels_last: keyword-only, the channel is the last dim.

    Returns:
        Array of ``input``'s shape.

    Raises:
        ValueError: one value per channel in training (torch's message).
        RuntimeError: no running statistics in evaluation mode.

    Example:
        >>> from jtoolkit.functional import batch_norm
        >>> x = jnp.array([[1.0, 2.0], [3.0, 6.0]])
        >>> batch_norm(x, None, None, training=True).round(3).tolist()
        [[-1.0, -1.0], [1.0, 1.0]]
    """
    del momentum
    x = arrays.to_array(input)
    axis = _channel_axis(x.ndim, channels_last)
    if training:
        if x.size and x.size // max(x.shape[axis], 1) == 1:
            raise ValueError(
                "Expected more than 1 value per channel when training, got input "
                f"size {shape_str(x.shape)}"
            )
        mean, var, _ = batch_stats(x, axis)
    else:
        if running_mean is None or running_var is None:
            which = "running_mean" if running_mean is None else "running_var"
            raise RuntimeError(f"{which} must be defined in evaluation mode")
        mean, var = arrays.to_array(running_mean), arrays.to_array(running_var)
    shape = [1 if d != axis else -1 for d in range(x.ndim)]
    mean, var = mean.reshape(shape), var.reshape(shape)
    return _normalize(x, mean, var, weight, bias, eps, axis)


@eager_jit
def instance_norm(
    input: Any,
    running_mean: Any = None,
    running_var: Any = None,
    weight: Any = None,
    bias: Any = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
    *,
    channels_last: bool = False,
) -> jax.Array:
    """Instance normalisation: each (sample, channel) over its spatial positions.

    torch counterpart: ``torch.nn.functional.instance_norm(input,
    running_mean=None, running_var=None, weight=None, bias=None,
    use_input_stats=True, momentum=0.1, eps=1e-5)`` (running statistics are not
    updated in place: see :func:`batch_norm`).

    Args:
        input: ``[N, C, *]`` (``[N, *, C]`` with ``channels_last=True``).
        running_mean, running_var: ``[C]``, used when not ``use_input_stats``.
        weight, bias: ``[C]`` or None. use_input_stats: normalise with each
        instance's statistics. momentum: unused. eps: added to the variance.
        channels_last: keyword-only, the channel is the last dim.

    Returns:
        Array of ``input``'s shape.

    Raises:
        ValueError: a single spatial element with ``use_input_stats`` (torch's).

    Example:
        >>> from jtoolkit.functional import instance_norm
        >>> instance_norm(jnp.array([[[1.0, 3.0]]])).round(3).tolist()
        [[[-1.0, 1.0]]]
    """
    del momentum
    x = arrays.to_array(input)
    axis = _channel_axis(x.ndim, channels_last)
    if use_input_stats:
        if x.size and x.size // max(x.shape[0] * x.shape[axis], 1) == 1:
            raise ValueError(
                "Expected more than 1 spatial element when training, got input "
                f"size {shape_str(x.shape)}"
            )
        mean, var, _ = instance_stats(x, axis)
    else:
        shape = [1 if d != axis else -1 for d in range(x.ndim)]
        mean = arrays.to_array(running_mean).reshape(shape)
        var = arrays.to_array(running_var).reshape(shape)
    return _normalize(x, mean, var, weight, bias, eps, axis)


def _check_trailing(x: jax.Array, normalized_shape: tuple[int, ...]) -> None:
    k = len(normalized_shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k :]) != normalized_shape:
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with "
            f"shape [*, {', '.join(map(str, normalized_shape))}], but got input of "
            f"size{list(x.shape)}"
        )


def _shape_tuple(normalized_shape: Any) -> tuple[int, ...]:
    if isinstance(normalized_shape, int | np.integer):
        return (int(normalized_shape),)
    return tuple(int(d) for d in normalized_shape)


@eager_jit
def layer_norm(
    input: Any,
    normalized_shape: Any,
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
) -> jax.Array:
    """Normalise over the trailing ``normalized_shape`` dims (biased variance).

    torch counterpart: ``torch.nn.functional.layer_norm(input, normalized_shape,
    weight=None, bias=None, eps=1e-5)``.

    Args:
        input: ``[*, *normalized_shape]``. normalized_shape: int or sequence.
        weight, bias: arrays of ``normalized_shape`` or None. eps: added to the
            variance.

    Returns:
        Array of ``input``'s shape.

    Raises:
        RuntimeError: trailing dims that are not ``normalized_shape`` (torch's).

    Example:
        >>> from jtoolkit.functional import layer_norm
        >>> layer_norm(jnp.array([[1.0, 3.0]]), [2]).round(3).tolist()
        [[-1.0, 1.0]]
    """
    x = arrays.to_array(input)
    shape = _shape_tuple(normalized_shape)
    _check_trailing(x, shape)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    var = jnp.square(centered).mean(axis=axes, keepdims=True)
    y = centered * jax.lax.rsqrt(var + eps)
    if weight is not None:
        y = y * arrays.to_array(weight)
    return y if bias is None else y + arrays.to_array(bias)


@eager_jit
def rms_norm(
    input: Any,
    normalized_shape: Any,
    weight: Any = None,
    eps: float | None = None,
) -> jax.Array:
    """``x / sqrt(mean(x**2) + eps) * weight`` over the trailing dims.

    torch counterpart: ``torch.nn.functional.rms_norm(input, normalized_shape,
    weight=None, eps=None)``; ``eps=None`` is the input dtype's machine epsilon.

    Args:
        input: ``[*, *normalized_shape]``. normalized_shape: int or sequence.
        weight: array of ``normalized_shape`` or None. eps: added to the mean
            square (None: ``finfo(input.dtype).eps``).

    Returns:
        Array of ``input``'s shape.

    Raises:
        RuntimeError: trailing dims that are not ``normalized_shape`` (torch's).

    Example:
        >>> from jtoolkit.functional import rms_norm
        >>> y = rms_norm(jnp.array([[3.0, 4.0]]), [2], eps=0.0)
        >>> np.round(np.asarray(y, float), 4).tolist()
        [[0.8485, 1.1314]]
    """
    x = arrays.to_array(input)
    shape = _shape_tuple(normalized_shape)
    _check_trailing(x, shape)
    if eps is None:
        eps = float(jnp.finfo(x.dtype).eps)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    y = x * jax.lax.rsqrt(jnp.square(x).mean(axis=axes, keepdims=True) + eps)
    return y if weight is None else y * arrays.to_array(weight)


@eager_jit
def group_norm(
    input: Any,
    num_groups: int,
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
    *,
    channels_last: bool = False,
) -> jax.Array:
    """Normalise each (sample, group of consecutive channels) over its elements.

    torch counterpart: ``torch.nn.functional.group_norm(input, num_groups,
    weight=None, bias=None, eps=1e-5)``.

    Args:
        input: ``[N, C, *]`` (``[N, *, C]`` with ``channels_last=True``).
        num_groups: divides C. weight, bias: ``[C]`` or None. eps: added to the
            variance. channels_last: keyword-only, the channel is the last dim.

    Returns:
        Array of ``input``'s shape.

    Raises:
        RuntimeError: C not divisible by ``num_groups`` (torch's message).

    Example:
        >>> from jtoolkit.functional import group_norm
        >>> group_norm(jnp.array([[1.0, 3.0, 0.0, 2.0]]), 2).round(3).tolist()
        [[-1.0, 1.0, -1.0, 1.0]]
    """
    x = arrays.to_array(input)
    axis = _channel_axis(x.ndim, channels_last)
    channels = x.shape[axis] if x.ndim > 1 else 0
    if x.ndim < 2 or channels % num_groups:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, "
            f"but got input of shape {shape_str(x.shape)} and num_groups="
            f"{num_groups}"
        )
    grouped = x.reshape(
        *x.shape[:axis], num_groups, channels // num_groups, *x.shape[axis + 1 :]
    )
    axes = tuple(d for d in range(1, grouped.ndim) if d != axis)
    mean = grouped.mean(axis=axes, keepdims=True)
    centered = grouped - mean
    var = jnp.square(centered).mean(axis=axes, keepdims=True)
    y = (centered * jax.lax.rsqrt(var + eps)).reshape(x.shape)
    return _affine(y, weight, bias, axis)


@eager_jit
def local_response_norm(
    input: Any,
    size: int,
    alpha: float = 1e-4,
    beta: float = 0.75,
    k: float = 1.0,
    *,
    channels_last: bool = False,
) -> jax.Array:
    """``x / (k + alpha * mean of x**2 over size neighbouring channels) ** beta``.

    torch counterpart: ``torch.nn.functional.local_response_norm(input, size,
    alpha=1e-4, beta=0.75, k=1.0)``: the window over channels is zero-padded
    (``size // 2`` before, ``(size - 1) // 2`` after) and divided by ``size``.

    Args:
        input: ``[N, C, *]`` of 3 or more dims (``[N, *, C]`` with
            ``channels_last=True``). size: channels in the window.
        alpha, beta, k: the formula's constants.
        channels_last: keyword-only, the channel is the last dim.

    Returns:
        Array of ``input``'s shape.

    Raises:
        ValueError: input of fewer than 3 dims (torch's message).

    Example:
        >>> from jtoolkit.functional import local_response_norm
        >>> y = local_response_norm(jnp.ones((1, 3, 2)), 2, alpha=1.0, beta=1.0)
        >>> y[0, :, 0].tolist()
        [0.6666666865348816, 0.5, 0.5]
    """
    x = arrays.to_array(input)
    if x.ndim < 3:
        raise ValueError(
            f"Expected 3D or higher dimensionality input (got {x.ndim} dimensions)"
        )
    if x.size == 0:
        return x
    axis = _channel_axis(x.ndim, channels_last)
    sq = jnp.moveaxis(jnp.square(x), axis, -1)
    pad = [(0, 0)] * (sq.ndim - 1) + [(size // 2, (size - 1) // 2)]
    padded = jnp.pad(sq, pad)
    window = sum(padded[..., i : i + x.shape[axis]] for i in range(size)) / size
    div = jnp.moveaxis(window, -1, axis) * alpha + k
    return x / div**beta
