"""BatchNorm, InstanceNorm, LayerNorm, GroupNorm, RMSNorm and LocalResponseNorm.

Each module holds torch's parameters and running statistics (torch's state_dict
names) and calls its function in ``nn/functional/normalization.py`` with
``channels_last=True`` (one implementation per op).

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
import warnings
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtoolkit._src.core.checks import check_int
from jtoolkit._src.nn.functional.normalization import (
    batch_norm,
    batch_stats,
    group_norm,
    instance_norm,
    instance_stats,
    layer_norm,
    local_response_norm,
    rms_norm,
    running_update,
)
from jtoolkit._src.nn.init import const_array, const_param, place

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LayerNorm",
    "LocalResponseNorm",
    "RMSNorm",
    "batch_mask",
]

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


def _where(keep: Any, new: Any, old: Any) -> Any:
    """``new`` where ``keep``; no select traced when ``keep`` is the Python True
    (no padding mask announced)."""
    return new if keep is True else jnp.where(keep, new, old)


class _NormBase(nnx.Module):
    """Shared state of BatchNorm and InstanceNorm: torch's ``_NormBase``.

    ``weight``/``bias`` (ones/zeros, ``[C]``) when ``affine`` (``bias=False`` drops
    the bias), ``running_mean``/``running_var``/``num_batches_tracked`` when
    ``track_running_stats`` (None otherwise, so the state_dict has torch's keys).
    """

    _valid_ndims: tuple[int, ...] = ()
    _layout = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        del rngs  # accepted for uniformity with the other layers; not random
        if not isinstance(num_features, int) or num_features <= 0:
            raise ValueError(
                f"num_features must be a positive integer, got {num_features!r}"
            )
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1] or None, got {momentum}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.use_running_average = False
        shape, f32 = (num_features,), jnp.float32
        self.weight = const_param(shape, 1.0, f32) if affine else None
        self.bias = const_param(shape, 0.0, f32) if affine and bias else None
        if track_running_stats:
            self.running_mean = nnx.BatchStat(const_array(shape, 0.0, f32))
            self.running_var = nnx.BatchStat(const_array(shape, 1.0, f32))
            self.num_batches_tracked = nnx.BatchStat(const_array((), 0, jnp.int32))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        place(self, device, dtype)

    def _check_rank(self, ndim: int) -> None:
        if ndim not in self._valid_ndims:
            dims = " or ".join(f"{d}D" for d in self._valid_ndims)
            raise ValueError(
                f"expected {dims} input (got {ndim}D input); {type(self).__name__} "
                f"takes channels-last {self._layout}"
            )

    def _params(self) -> tuple[Any, Any]:
        weight = None if self.weight is None else self.weight[...]
        return weight, None if self.bias is None else self.bias[...]

    def _updates(self) -> bool:
        """Training mode with running statistics: this call updates them."""
        return not self.use_running_average and self.running_mean is not None

    def _factor(self, tracked: Any) -> Any:
        if self.momentum is None:  # cumulative moving average, as torch
            return 1.0 / jnp.maximum(tracked, 1).astype(jnp.float32)
        return self.momentum

    def _running(self) -> tuple[nnx.BatchStat, nnx.BatchStat] | None:
        """``(running_mean, running_var)``, or None without running statistics."""
        if self.running_mean is None or self.running_var is None:
            return None
        return self.running_mean, self.running_var

    def _update(self, mean: Any, var: Any, count: Any, any_rows: Any = True) -> None:
        """Fold one batch's statistics into the running ones (torch's rule)."""
        running, tracked = self._running(), self.num_batches_tracked
        if running is None or tracked is None:
            return
        if self._counts_batches:
            tracked.set_value(_where(any_rows, tracked[...] + 1, tracked[...]))
        if mean is None:  # an empty batch: counted, statistics unchanged (torch)
            return
        factor = self._factor(tracked[...])
        for stat, batch, n in zip(running, (mean, var), (None, count), strict=True):
            new = running_update(stat[...], batch, factor, n).astype(stat.dtype)
            stat.set_value(_where(any_rows, new, stat[...]))

    _counts_batches = True

    def _torch_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    """Shared body of BatchNorm1d/2d/3d over channels-last input."""

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        self._check_input(x.shape)
        weight, bias = self._params()
        running = self._running()
        if self.use_running_average and running is not None:
            mean, var = running[0][...], running[1][...]
        elif x.size == 0:  # torch: an empty batch counts, the statistics stay
            if self._updates():
                self._update(None, None, None)
            return x
        else:
            mean, var = self._batch_stats(x)
        return batch_norm(
            x, mean, var, weight, bias, False, eps=self.eps, channels_last=True
        )

    def _batch_stats(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Batch mean and biased variance (over the rows ``batch_mask`` keeps, if
        one is announced for this batch size); updates the running statistics in
        training mode. An all-padding batch leaves them alone."""
        mask = _BATCH_MASK.get()
        if mask is not None and np.shape(mask)[0] != x.shape[0]:
            mask = None
        mean, var, count = batch_stats(x, x.ndim - 1, mask)
        if self._updates():
            any_rows = True if mask is None else count > 0
            self._update(mean, var, count, any_rows)
        return mean, var

    def _check_input(self, shape: tuple[int, ...]) -> None:
        name = type(self).__name__
        self._check_rank(len(shape))
        if shape[-1] != self.num_features:
            raise ValueError(
                f"{name}(num_features={self.num_features}) expects the last (channel) "
                f"dimension to be {self.num_features}, but got input shape {shape}"
            )
        training = not self.use_running_average or self.running_mean is None
        if training and math.prod(shape[:-1]) == 1:
            raise ValueError(
                "Expected more than 1 value per channel when training, got input "
                f"size {shape}; use a batch > 1 or call .eval()"
            )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over [N, C] or [N, L, C] input, torch's ``nn.BatchNorm1d``.

    torch: ``torch.nn.BatchNorm1d(num_features, eps=1e-5, momentum=0.1,
    affine=True, track_running_stats=True, device=None, dtype=None, *,
    bias=True)`` on [N, C] or [N, C, L]; here channels are last. Training mode
    normalises with the biased batch variance (exact two-pass) and updates
    ``running_mean``/``running_var`` with torch's momentum (new = (1 - momentum)
    * old + momentum * batch, the UNBIASED batch variance; ``momentum=None`` is
    the cumulative average over ``num_batches_tracked``). ``.eval()`` switches
    to the running statistics. The normalisation is ``F.batch_norm``.

    Args:
      num_features: C, the LAST input dim.
      eps: added to the variance.
      momentum: torch's convention (flax's momentum is 1 - this), or None for
        the cumulative average over ``num_batches_tracked``.
      affine: learn ``weight`` and ``bias`` (ones and zeros).
      track_running_stats: keep ``running_mean``/``running_var``/
        ``num_batches_tracked``; False normalises with the batch statistics in
        both modes (torch's state_dict then has no such keys).
      device: where the arrays are placed (``jax.device_put``; None: default).
      dtype: the parameters' and statistics' dtype (None: float32).
      bias: keyword-only, torch 2.13's: learn ``bias`` (with ``affine``).
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

    Same arguments, statistics, momentum and modes as ``BatchNorm1d``; input
    [N, H, W, C].

    Example:
      >>> from jtoolkit.models import BatchNorm2d
      >>> bn = BatchNorm2d(3)
      >>> bn(jnp.ones((2, 4, 4, 3))).shape, int(bn.num_batches_tracked[...])
      ((2, 4, 4, 3), 1)
    """

    _valid_ndims = (4,)
    _layout = "[N, H, W, C]"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation over NDHWC input, torch's ``nn.BatchNorm3d`` (NCDHW there).

    Same arguments, statistics, momentum and modes as ``BatchNorm1d``; input
    [N, D, H, W, C].

    Example:
      >>> from jtoolkit.models import BatchNorm3d
      >>> BatchNorm3d(3, affine=False)(jnp.ones((2, 2, 2, 2, 3))).shape
      (2, 2, 2, 2, 3)
    """

    _valid_ndims = (5,)
    _layout = "[N, D, H, W, C]"


class _InstanceNorm(_NormBase):
    """Shared body of InstanceNorm1d/2d/3d over channels-last input."""

    _counts_batches = False  # torch's _InstanceNorm leaves num_batches_tracked

    def _factor(self, tracked: Any) -> Any:
        return 0.0 if self.momentum is None else self.momentum  # torch's rule

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        super().__init__(
            num_features,
            eps,
            momentum,
            affine,
            track_running_stats,
            device,
            dtype,
            bias=bias,
            rngs=rngs,
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        self._check_rank(x.ndim)
        unbatched = x.ndim == self._valid_ndims[0]
        if unbatched:
            x = x[None]
        self._check_channels(x.shape)
        weight, bias = self._params()
        running = self._running() if self.use_running_average else None
        stats = (None, None) if running is None else (running[0][...], running[1][...])
        args = (weight, bias, running is None)
        y = instance_norm(x, *stats, *args, eps=self.eps, channels_last=True)
        if running is None and self._updates():
            mean, var, count = instance_stats(x, x.ndim - 1)
            per = (x.shape[0], x.shape[-1])
            mean = mean.reshape(per).mean(axis=0)
            self._update(mean, var.reshape(per).mean(axis=0), count)
        return y[0] if unbatched else y

    def _check_channels(self, shape: tuple[int, ...]) -> None:
        if shape[-1] == self.num_features:
            return
        if self.affine:
            raise ValueError(
                f"expected input's size at dim={len(shape) - 1} to match "
                f"num_features ({self.num_features}), but got: {shape[-1]}."
            )
        warnings.warn(
            f"input's size at dim={len(shape) - 1} does not match num_features. "
            "You can silence this warning by not passing in num_features, which "
            "is not used because affine=False",
            UserWarning,
            stacklevel=3,
        )


class InstanceNorm1d(_InstanceNorm):
    """torch's ``nn.InstanceNorm1d(num_features, eps=1e-5, momentum=0.1,
    affine=False, track_running_stats=False, device=None, dtype=None, *,
    bias=True)`` on [N, L, C] or unbatched [L, C] (torch's [N, C, L] / [C, L]).

    Normalises each (sample, channel) over its positions (biased variance), then
    ``* weight + bias`` per channel when ``affine``. With ``track_running_stats``
    training mode also updates ``running_mean``/``running_var`` (the batch means
    of the per-instance mean and unbiased variance, torch's rule) and ``.eval()``
    normalises with them. The computation is ``F.instance_norm``.

    Args:
      num_features: C, the LAST input dim. eps: added to the variance.
      momentum: torch's convention (None: 0, the running statistics stay, as
        torch's ``_InstanceNorm``).
      affine: learn ``weight``/``bias`` (default False, as torch).
      track_running_stats: keep running statistics (default False, as torch).
      device, dtype: as ``BatchNorm1d``. bias: keyword-only (with ``affine``).
      rngs: accepted and ignored.

    Raises:
      ValueError: bad input rank; a channel count other than ``num_features``
        with ``affine`` (without it torch's UserWarning); a single position per
        instance.

    Example:
      >>> from jtoolkit.models import InstanceNorm1d
      >>> InstanceNorm1d(1)(jnp.array([[1.0], [3.0]])).round(3).tolist()
      [[-1.0], [1.0]]
    """

    _valid_ndims = (2, 3)
    _layout = "[N, L, C] or [L, C]"


class InstanceNorm2d(_InstanceNorm):
    """torch's ``nn.InstanceNorm2d`` (arguments as ``InstanceNorm1d``) on
    [N, H, W, C] or unbatched [H, W, C] (torch's NCHW / CHW).

    The statistics, modes and checks of ``InstanceNorm1d``.

    Args:
      num_features, eps, momentum, affine, track_running_stats: as
        ``InstanceNorm1d``.
      device, dtype, bias, rngs: as ``InstanceNorm1d``.

    Raises:
      ValueError: as ``InstanceNorm1d``.

    Example:
      >>> from jtoolkit.models import InstanceNorm2d
      >>> InstanceNorm2d(3, affine=True)(jnp.ones((2, 4, 4, 3))).shape
      (2, 4, 4, 3)
    """

    _valid_ndims = (3, 4)
    _layout = "[N, H, W, C] or [H, W, C]"


class InstanceNorm3d(_InstanceNorm):
    """torch's ``nn.InstanceNorm3d`` (arguments as ``InstanceNorm1d``) on
    [N, D, H, W, C] or unbatched [D, H, W, C] (torch's NCDHW / CDHW).

    The statistics, modes and checks of ``InstanceNorm1d``.

    Args:
      num_features, eps, momentum, affine, track_running_stats: as
        ``InstanceNorm1d``.
      device, dtype, bias, rngs: as ``InstanceNorm1d``.

    Raises:
      ValueError: as ``InstanceNorm1d``.

    Example:
      >>> from jtoolkit.models import InstanceNorm3d
      >>> InstanceNorm3d(2)(jnp.ones((2, 2, 2, 2))).shape
      (2, 2, 2, 2)
    """

    _valid_ndims = (4, 5)
    _layout = "[N, D, H, W, C] or [D, H, W, C]"


def _shape_of(normalized_shape: Any) -> tuple[int, ...]:
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(int(d) for d in normalized_shape)


class LayerNorm(nnx.Module):
    """Normalise over the last dims ``normalized_shape``, torch's ``nn.LayerNorm``.

    torch: ``torch.nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True,
    bias=True, device=None, dtype=None)``: biased variance, then ``* weight + bias``
    (ones and zeros, shape ``normalized_shape``). Same in train and eval mode;
    same state_dict names. The computation is ``F.layer_norm``.

    Args:
      normalized_shape: int or tuple: the trailing dims of the input.
      eps: added to the variance.
      elementwise_affine: learn ``weight`` (and ``bias`` if ``bias``).
      bias: learn ``bias`` (only with ``elementwise_affine``).
      device, dtype: where the parameters are placed and their dtype (None:
        the default placement and float).
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
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        del rngs
        self.normalized_shape = _shape_of(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        shape = self.normalized_shape
        self.weight = const_param(shape, 1.0) if elementwise_affine else None
        has_bias = elementwise_affine and bias
        self.bias = const_param(shape, 0.0) if has_bias else None
        place(self, device, dtype)

    def __call__(self, x: jax.Array) -> jax.Array:
        weight = None if self.weight is None else self.weight[...]
        bias = None if self.bias is None else self.bias[...]
        return layer_norm(x, self.normalized_shape, weight, bias, self.eps)

    def _torch_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(nnx.Module):
    """Group normalisation over channels-last input, torch's ``nn.GroupNorm``.

    torch: ``torch.nn.GroupNorm(num_groups, num_channels, eps=1e-5, affine=True,
    device=None, dtype=None, *, bias=True)`` on [N, C, *]; here the input is
    [N, *, C] (NHWC for images): channels are split into ``num_groups``
    consecutive groups (torch's grouping) and each (sample, group) is normalised
    over its spatial positions and channels (biased variance), then ``* weight +
    bias`` per channel (ones and zeros). The computation is ``F.group_norm``.

    Args:
      num_groups: groups; must divide ``num_channels``.
      num_channels: C, the LAST input dim.
      eps: added to the variance.
      affine: learn per-channel ``weight`` and ``bias``.
      device, dtype: as ``LayerNorm``.
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
        device: Any = None,
        dtype: Any = None,
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
        place(self, device, dtype)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim < 2 or x.shape[-1] != self.num_channels:
            raise RuntimeError(
                f"GroupNorm expects channels-last input [N, *, {self.num_channels}] "
                f"(NHWC for images; torch's NCHW is x.transpose(0, 2, 3, 1)), but got "
                f"input of shape {list(x.shape)}"
            )
        weight = None if self.weight is None else self.weight[...]
        bias = None if self.bias is None else self.bias[...]
        return group_norm(
            x, self.num_groups, weight, bias, self.eps, channels_last=True
        )

    def _torch_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
            f"affine={self.affine}, bias={self.bias is not None}"
        )


class RMSNorm(nnx.Module):
    """Root-mean-square normalisation over the last dims, torch's ``nn.RMSNorm``.

    torch: ``torch.nn.RMSNorm(normalized_shape, eps=None, elementwise_affine=True,
    device=None, dtype=None)``: ``x / sqrt(mean(x**2) + eps) * weight`` (ones);
    ``eps=None`` is the input dtype's machine epsilon. The computation is
    ``F.rms_norm``.

    Args:
      normalized_shape: int or tuple: the trailing dims of the input.
      eps: added to the mean square (None: ``finfo(dtype).eps``).
      elementwise_affine: learn ``weight``.
      device, dtype: as ``LayerNorm``. rngs: accepted and ignored.

    Raises:
      RuntimeError (at call): the input's trailing dims are not ``normalized_shape``.

    Example:
      >>> from jtoolkit.models import RMSNorm
      >>> y = RMSNorm(2, eps=0.0)(jnp.array([[3.0, 4.0]]))
      >>> np.round(np.asarray(y, float), 4).tolist()
      [[0.8485, 1.1314]]
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        del rngs
        self.normalized_shape = _shape_of(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        shape = self.normalized_shape
        self.weight = const_param(shape, 1.0) if elementwise_affine else None
        place(self, device, dtype)

    def __call__(self, x: jax.Array) -> jax.Array:
        weight = None if self.weight is None else self.weight[...]
        return rms_norm(x, self.normalized_shape, weight, self.eps)

    def _torch_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}"
        )


class LocalResponseNorm(nnx.Module):
    """torch's ``nn.LocalResponseNorm(size, alpha=1e-4, beta=0.75, k=1.0)`` over
    the channels (the LAST dim here, dim 1 in torch) of input of 3 or more dims.

    ``F.local_response_norm(x, ..., channels_last=True)`` is the computation.

    Raises:
      ValueError (at call): input of fewer than 3 dims (torch's message).

    Example:
      >>> from jtoolkit.models import LocalResponseNorm
      >>> LocalResponseNorm(2)(jnp.ones((1, 2, 3))).shape
      (1, 2, 3)
    """

    def __init__(
        self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
    ) -> None:
        self.size = check_int("size", size, fn="LocalResponseNorm", minimum=1)
        self.alpha, self.beta, self.k = alpha, beta, k

    def __call__(self, x: jax.Array) -> jax.Array:
        return local_response_norm(
            x, self.size, self.alpha, self.beta, self.k, channels_last=True
        )

    def _torch_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
