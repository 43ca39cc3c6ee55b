"""BatchNorm, LayerNorm and GroupNorm with torch's numbers.

``model.train()`` / ``model.eval()`` on any enclosing ``nnx.Module`` flips
BatchNorm's ``use_running_average`` (as it flips Dropout's ``deterministic``, in
``dropout.py``). Running statistics
are ``nnx.BatchStat`` variables updated in ``__call__``; in the functional core
(``nnx.split`` -> ``jax.jit`` step -> ``nnx.merge`` -> call -> ``nnx.state``) the new
statistics come back with the returned state.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.nn.init import const_array, const_param

__all__ = ["BatchNorm1d", "BatchNorm2d", "GroupNorm", "LayerNorm", "batch_mask"]

_BATCH_MASK: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "jtoolkit_batch_mask", default=None
)


@contextlib.contextmanager
def batch_mask(mask: Any) -> Iterator[None]:
    """Within the block, BatchNorm's batch statistics use only rows where ``mask``.

    The train step announces the padding mask of a padded batch this way (while it
    traces ``loss_fn``), so ``loss_fn(model, batch)`` stays as it is and BatchNorm
    computes torch's statistics over the real rows only. ``mask`` is ``(batch,)``
    (1 real, 0 padding) or None; a BatchNorm input whose leading dim is not the
    mask's length ignores it.

    Example:
        >>> from jtoolkit.models import BatchNorm1d
        >>> bn = BatchNorm1d(1)
        >>> x = jnp.array([[1.0], [3.0], [100.0]])
        >>> with batch_mask(jnp.array([1.0, 1.0, 0.0])):
        ...     y = bn(x)
        >>> y[:2, 0].round(3).tolist(), round(float(bn.running_mean[...][0]), 4)
        ([-1.0, 1.0], 0.2)
    """
    token = _BATCH_MASK.set(mask)
    try:
        yield
    finally:
        _BATCH_MASK.reset(token)


class _BatchNorm(nnx.Module):
    """Shared body of BatchNorm1d/2d over channels-last input."""

    _valid_ndims: tuple[int, ...] = ()
    _layout = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        *,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        del (
            rngs
        )  # accepted for uniformity with the other layers; BatchNorm is not random
        if not isinstance(num_features, int) or num_features <= 0:
            raise ValueError(
                f"num_features must be a positive integer, got {num_features!r}"
            )
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1] or None, got {momentum}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.use_running_average = False
        shape, f32 = (num_features,), jnp.float32
        self.weight = const_param(shape, 1.0, f32)
        self.bias = const_param(shape, 0.0, f32)
        self.running_mean = nnx.BatchStat(const_array(shape, 0.0, f32))
        self.running_var = nnx.BatchStat(const_array(shape, 1.0, f32))
        self.num_batches_tracked = nnx.BatchStat(const_array((), 0, jnp.int32))

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        self._check_input(x.shape)
        axes = tuple(range(x.ndim - 1))
        mask = _BATCH_MASK.get()
        if self.use_running_average:
            mean, var = self.running_mean[...], self.running_var[...]
        elif mask is not None and jnp.shape(mask)[0] == x.shape[0]:
            mean, var = self._masked_stats(x, jnp.asarray(mask, x.dtype))
        else:
            mean = x.mean(axis=axes)
            var = jnp.square(x - mean).mean(axis=axes)  # exact two-pass variance
            self._update_running(mean, var, math.prod(x.shape[:-1]))
        inv_std = jax.lax.rsqrt(var + self.eps)
        return (x - mean) * (inv_std * self.weight[...]) + self.bias[...]

    def _masked_stats(self, x: jax.Array, mask: jax.Array) -> tuple:
        """Mean and biased variance over the rows ``mask`` keeps (torch on those
        rows alone); an all-padding batch leaves the running statistics alone."""
        w = mask.reshape((-1,) + (1,) * (x.ndim - 1))
        per_row = math.prod(x.shape[1:-1])
        count = jnp.sum(mask) * per_row
        axes = tuple(range(x.ndim - 1))
        mean = jnp.sum(x * w, axis=axes) / jnp.maximum(count, 1)
        var = jnp.sum(jnp.square(x - mean) * w, axis=axes) / jnp.maximum(count, 1)
        self._update_running(mean, var, count, any_rows=count > 0)
        return mean, var

    def _update_running(
        self, mean: jax.Array, var: jax.Array, count: Any, any_rows: Any = True
    ) -> None:
        old = self.num_batches_tracked[...]
        tracked = jnp.where(any_rows, old + 1, old)
        self.num_batches_tracked[...] = tracked
        if self.momentum is None:  # cumulative moving average, as torch
            factor = 1.0 / jnp.maximum(tracked, 1).astype(jnp.float32)
        else:
            factor = self.momentum
        if isinstance(count, int):  # a static batch: the exact host ratio
            unbiased = var * (count / (count - 1))
        else:
            unbiased = var * (count / jnp.maximum(count - 1, 1))
        stats = ((self.running_mean, mean), (self.running_var, unbiased))
        for stat, batch in stats:
            new = (1.0 - factor) * stat[...] + factor * batch
            stat[...] = jnp.where(any_rows, new, stat[...])

    def _check_input(self, shape: tuple[int, ...]) -> None:
        name = type(self).__name__
        if len(shape) not in self._valid_ndims:
            dims = " or ".join(f"{d}D" for d in self._valid_ndims)
            raise ValueError(
                f"expected {dims} input (got {len(shape)}D input); {name} takes "
                f"channels-last {self._layout}"
            )
        if shape[-1] != self.num_features:
            raise ValueError(
                f"{name}(num_features={self.num_features}) expects the last (channel) "
                f"dimension to be {self.num_features}, but got input shape {shape}"
            )
        if not self.use_running_average and math.prod(shape[:-1]) == 1:
            raise ValueError(
                "Expected more than 1 value per channel when training, got input "
                f"size {shape}; use a batch > 1 or call .eval()"
            )

    def _torch_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            "affine=True, bias=True, track_running_stats=True"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over [N, C] or [N, L, C] input, torch's ``nn.BatchNorm1d``.

    torch: ``torch.nn.BatchNorm1d(num_features, eps=1e-5, momentum=0.1)`` on [N, C] or
    [N, C, L]; here channels are last. Training mode normalises with the biased batch
    variance (exact two-pass) and updates ``running_mean``/``running_var`` with torch's
    momentum (new = (1 - momentum) * old + momentum * batch, the UNBIASED batch
    variance; ``momentum=None`` is the cumulative average over
    ``num_batches_tracked``). ``.eval()`` switches to the running statistics.

    Args:
      num_features: C.
      eps: added to the variance.
      momentum: torch's convention (flax's momentum is 1 - this), or None.
      rngs: accepted and ignored.

    Raises:
      ValueError: bad input rank or channels, or a single value per channel in
        training mode (as torch).

    Example:
      >>> from jtoolkit.models import BatchNorm1d
      >>> bn = BatchNorm1d(2)
      >>> y = bn(jnp.array([[1.0, 2.0], [3.0, 6.0]]))
      >>> np.asarray(bn.running_mean[...], float).round(4).tolist()
      [0.2, 0.4]
      >>> np.asarray(bn.running_var[...], float).round(4).tolist()
      [1.1, 1.7]
    """

    _valid_ndims = (2, 3)
    _layout = "[N, C] or [N, L, C]"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over NHWC input, torch's ``nn.BatchNorm2d`` (NCHW there).

    Same statistics, momentum and modes as ``BatchNorm1d``; input [N, H, W, C].

    Example:
      >>> from jtoolkit.models import BatchNorm2d
      >>> bn = BatchNorm2d(3)
      >>> bn(jnp.ones((2, 4, 4, 3))).shape, int(bn.num_batches_tracked[...])
      ((2, 4, 4, 3), 1)
    """

    _valid_ndims = (4,)
    _layout = "[N, H, W, C]"


def _normalize(x: jax.Array, axes: tuple[int, ...], eps: float) -> jax.Array:
    """(x - mean) / sqrt(biased var + eps) over ``axes`` (exact two-pass variance)."""
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    var = jnp.square(centered).mean(axis=axes, keepdims=True)
    return centered * jax.lax.rsqrt(var + eps)


class LayerNorm(nnx.Module):
    """Normalise over the last dims ``normalized_shape``, torch's ``nn.LayerNorm``.

    torch: ``torch.nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True,
    bias=True)``: biased variance, then ``* weight + bias`` (ones and zeros, shape
    ``normalized_shape``). Same in train and eval mode; same state_dict names.

    Args:
      normalized_shape: int or tuple: the trailing dims of the input.
      eps: added to the variance.
      elementwise_affine: learn ``weight`` (and ``bias`` if ``bias``).
      bias: learn ``bias`` (only with ``elementwise_affine``).
      rngs: accepted and ignored (the init is constant).

    Raises:
      RuntimeError (at call): the input's trailing dims are not ``normalized_shape``.

    Example:
      >>> from jtoolkit.models import LayerNorm
      >>> LayerNorm(2)(jnp.array([[1.0, 3.0]])).round(3).tolist()
      [[-1.0, 1.0]]
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        *,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        del rngs
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(d) for d in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        shape = self.normalized_shape
        self.weight = const_param(shape, 1.0) if elementwise_affine else None
        has_bias = elementwise_affine and bias
        self.bias = const_param(shape, 0.0) if has_bias else None

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        k = len(self.normalized_shape)
        if x.ndim < k or tuple(x.shape[x.ndim - k :]) != self.normalized_shape:
            raise RuntimeError(
                "Given normalized_shape="
                f"{list(self.normalized_shape)}, expected input with shape "
                f"[*, {', '.join(map(str, self.normalized_shape))}], but got input of "
                f"size{list(x.shape)}"
            )
        y = _normalize(x, tuple(range(x.ndim - k, x.ndim)), self.eps)
        if self.weight is not None:
            y = y * self.weight[...]
        return y if self.bias is None else y + self.bias[...]

    def _torch_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(nnx.Module):
    """Group normalisation over channels-last input, torch's ``nn.GroupNorm``.

    torch: ``torch.nn.GroupNorm(num_groups, num_channels, eps=1e-5, affine=True)`` on
    [N, C, *]; here the input is [N, *, C] (NHWC for images): channels are split into
    ``num_groups`` consecutive groups (torch's grouping) and each (sample, group) is
    normalised over its spatial positions and channels (biased variance), then
    ``* weight + bias`` per channel (ones and zeros).

    Args:
      num_groups: groups; must divide ``num_channels``.
      num_channels: C, the LAST input dim.
      eps: added to the variance.
      affine: learn per-channel ``weight`` and ``bias``.
      bias: learn ``bias`` (torch 2.13's keyword; only with ``affine``).
      rngs: accepted and ignored.

    Raises:
      ValueError: ``num_channels`` not divisible by ``num_groups`` (torch's message).
      RuntimeError (at call): the last dim is not ``num_channels``.

    Example:
      >>> from jtoolkit.models import GroupNorm
      >>> GroupNorm(2, 4)(jnp.ones((2, 3, 3, 4))).shape
      (2, 3, 3, 4)
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        *,
        bias: bool = True,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        del rngs
        if num_channels % num_groups != 0:
            raise ValueError(
                f"num_channels ({num_channels}) must be divisible by num_groups "
                f"({num_groups})"
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        shape = (num_channels,)
        self.weight = const_param(shape, 1.0) if affine else None
        self.bias = const_param(shape, 0.0) if affine and bias else None

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim < 2 or x.shape[-1] != self.num_channels:
            raise RuntimeError(
                f"GroupNorm expects channels-last input [N, *, {self.num_channels}] "
                f"(NHWC for images; torch's NCHW is x.transpose(0, 2, 3, 1)), but got "
                f"input of shape {list(x.shape)}"
            )
        grouped = x.reshape(*x.shape[:-1], self.num_groups, -1)
        axes = (*range(1, x.ndim - 1), x.ndim)  # spatial dims and channels in group
        y = _normalize(grouped, axes, self.eps).reshape(x.shape)
        if self.weight is not None:
            y = y * self.weight[...]
        return y if self.bias is None else y + self.bias[...]

    def _torch_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
            f"affine={self.affine}, bias={self.bias is not None}"
        )
