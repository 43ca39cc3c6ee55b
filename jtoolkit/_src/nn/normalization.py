"""BatchNorm and Dropout with torch's numbers, mode kept in NNX's own attributes.

``model.train()`` / ``model.eval()`` on any enclosing ``nnx.Module`` flips
``use_running_average`` (BatchNorm) and ``deterministic`` (Dropout). Running statistics
are ``nnx.BatchStat`` variables updated in ``__call__``; in the functional core
(``nnx.split`` -> ``jax.jit`` step -> ``nnx.merge`` -> call -> ``nnx.state``) the new
statistics come back with the returned state.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["BatchNorm1d", "BatchNorm2d"]


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
        self.weight = nnx.Param(jnp.ones((num_features,), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((num_features,), jnp.float32))
        self.running_mean = nnx.BatchStat(jnp.zeros((num_features,), jnp.float32))
        self.running_var = nnx.BatchStat(jnp.ones((num_features,), jnp.float32))
        self.num_batches_tracked = nnx.BatchStat(jnp.zeros((), jnp.int32))

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        self._check_input(x.shape)
        axes = tuple(range(x.ndim - 1))
        if self.use_running_average:
            mean, var = self.running_mean[...], self.running_var[...]
        else:
            mean = x.mean(axis=axes)
            var = jnp.square(x - mean).mean(axis=axes)  # exact two-pass variance
            self._update_running(mean, var, math.prod(x.shape[:-1]))
        inv_std = jax.lax.rsqrt(var + self.eps)
        return (x - mean) * (inv_std * self.weight[...]) + self.bias[...]

    def _update_running(self, mean: jax.Array, var: jax.Array, count: int) -> None:
        tracked = self.num_batches_tracked[...] + 1
        self.num_batches_tracked[...] = tracked
        if self.momentum is None:  # cumulative moving average, as torch
            factor = 1.0 / tracked.astype(jnp.float32)
        else:
            factor = self.momentum
        unbiased = var * (count / (count - 1))
        stats = ((self.running_mean, mean), (self.running_var, unbiased))
        for stat, batch in stats:
            stat[...] = (1.0 - factor) * stat[...] + factor * batch

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
