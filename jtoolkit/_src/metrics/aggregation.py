"""MeanMetric (weighted running mean) and Perplexity: sums and counts.

torch: ``torchmetrics.MeanMetric(nan_strategy="warn")`` and
``torchmetrics.text.Perplexity(ignore_index=None)``.

Example:
    >>> from jtoolkit.metrics import MeanMetric
    >>> m = MeanMetric()
    >>> s = m.update(m.init(), jnp.array([1.0, 2.0, 3.0]))
    >>> float(m.compute(m.update(s, 7.0)))
    3.25
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import shape_str
from jtoolkit._src.metrics.protocol import merge_sum, row_weights

__all__ = ["MeanMetric", "Perplexity", "WeightedSum"]


class WeightedSum(NamedTuple):
    """A weighted sum and the sum of its weights."""

    total: jax.Array
    weight: jax.Array


@dataclasses.dataclass(frozen=True)
class MeanMetric:
    """Weighted mean of every value seen: ``sum(value * weight) / sum(weight)``.

    torch: ``torchmetrics.MeanMetric(nan_strategy="warn")``; ``update(value,
    weight=1.0)``. NaN values (and their weights) are dropped for "warn" and
    "ignore" (a jitted update cannot warn), kept for "disable", replaced for a float.
    ``mask`` (one flag per element of the leading axis) drops padded entries.

    Args:
      nan_strategy: "warn", "ignore", "disable" or a float replacement.

    Example:
      >>> from jtoolkit.metrics import MeanMetric
      >>> m = MeanMetric()
      >>> s = m.update(m.init(), jnp.array([1.0, 3.0]), jnp.array([1.0, 3.0]))
      >>> float(m.compute(s))
      2.5
    """

    nan_strategy: str | float = "warn"

    def __post_init__(self) -> None:
        ok = isinstance(self.nan_strategy, float) or self.nan_strategy in (
            "warn",
            "ignore",
            "disable",
        )
        if not ok:
            raise ValueError(
                "MeanMetric: nan_strategy must be 'warn', 'ignore', 'disable' or a "
                f"float, got {self.nan_strategy!r}"
            )

    def init(self) -> WeightedSum:
        """Zero sums."""
        return WeightedSum(jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32))

    def update(
        self,
        state: WeightedSum,
        value: ArrayLike,
        weight: ArrayLike = 1.0,
        mask: ArrayLike | None = None,
    ) -> WeightedSum:
        """``state`` plus ``value`` (any shape) with ``weight`` broadcast to it."""
        value = jnp.asarray(value, jnp.float32)
        weight = jnp.broadcast_to(jnp.asarray(weight, jnp.float32), value.shape)
        if mask is not None:
            w = row_weights(mask, value.shape[0] if value.ndim else 1)
            weight = weight * w.reshape((-1,) + (1,) * (value.ndim - 1))
        if isinstance(self.nan_strategy, float):
            value = jnp.where(jnp.isnan(value), self.nan_strategy, value)
            weight = jnp.where(jnp.isnan(weight), self.nan_strategy, weight)
        elif self.nan_strategy != "disable":
            keep = ~(jnp.isnan(value) | jnp.isnan(weight))
            value, weight = jnp.where(keep, value, 0.0), jnp.where(keep, weight, 0.0)
        return merge_sum(state, WeightedSum(jnp.sum(value * weight), jnp.sum(weight)))

    def merge(self, a: WeightedSum, b: WeightedSum) -> WeightedSum:
        """The sums of both states."""
        return merge_sum(a, b)

    def compute(self, state: WeightedSum) -> jax.Array:
        """The weighted mean."""
        return state.total / state.weight


@dataclasses.dataclass(frozen=True)
class Perplexity:
    """``exp(mean negative log-likelihood)`` of target tokens under softmax(preds).

    torch: ``torchmetrics.text.Perplexity(ignore_index=None)``; preds are logits
    ``[N, T, V]``, target ``[N, T]``; tokens equal to ``ignore_index`` and rows with
    ``mask`` False count nowhere.

    Example:
      >>> from jtoolkit.metrics import Perplexity
      >>> p = Perplexity()
      >>> s = p.update(p.init(), jnp.zeros((1, 2, 4)), jnp.array([[0, 3]]))
      >>> round(float(p.compute(s)), 4)
      4.0
    """

    ignore_index: int | None = None

    def init(self) -> WeightedSum:
        """Zero sums."""
        return WeightedSum(jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32))

    def update(
        self,
        state: WeightedSum,
        preds: ArrayLike,
        target: ArrayLike,
        mask: ArrayLike | None = None,
    ) -> WeightedSum:
        """``state`` plus this batch's summed NLL and token count."""
        preds, target = jnp.asarray(preds, jnp.float32), jnp.asarray(target)
        if preds.ndim != 3 or target.shape != preds.shape[:2]:
            raise ValueError(
                "Perplexity: preds must be [N, T, V] and target [N, T], got preds "
                f"{shape_str(preds.shape)} and target {shape_str(target.shape)}"
            )
        w = row_weights(mask, target.shape[0])[:, None] * jnp.ones_like(target)
        if self.ignore_index is not None:
            w = w * (target != self.ignore_index)
            target = jnp.where(target == self.ignore_index, 0, target)
        logp = jax.nn.log_softmax(preds, -1)
        picked = jnp.take_along_axis(logp, target[..., None], -1)[..., 0]
        w = w.astype(jnp.float32)
        return merge_sum(state, WeightedSum(-jnp.sum(picked * w), jnp.sum(w)))

    def merge(self, a: WeightedSum, b: WeightedSum) -> WeightedSum:
        """The sums of both states."""
        return merge_sum(a, b)

    def compute(self, state: WeightedSum) -> jax.Array:
        """The perplexity."""
        return jnp.exp(state.total / state.weight)
