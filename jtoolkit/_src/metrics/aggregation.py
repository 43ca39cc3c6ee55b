"""MeanMetric (weighted running mean) and Perplexity: sums and counts.

torch: ``torchmetrics.MeanMetric(nan_strategy="warn")`` and
``torchmetrics.text.Perplexity(ignore_index=None)``. ``update`` and ``compute``
are one program each per (input shapes, NaN rule); ``ignore_index`` and a NaN
replacement value are traced.

Example:
    >>> from jtoolkit.metrics import MeanMetric
    >>> m = MeanMetric()
    >>> s = m.update(m.init(), jnp.array([1.0, 2.0, 3.0]))
    >>> float(m.compute(m.update(s, 7.0)))
    3.25
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import shape_str
from jtoolkit._src.metrics.protocol import (
    as_operand,
    filled,
    ignore_spec,
    ignored,
    merge_states,
    merge_sum,
    row_weights,
)

__all__ = ["MeanMetric", "Perplexity", "WeightedSum"]


class WeightedSum(NamedTuple):
    """A weighted sum and the sum of its weights."""

    total: jax.Array
    weight: jax.Array


def _zero_sums() -> WeightedSum:
    return WeightedSum(*filled(((), "float32", 0), ((), "float32", 0)))


@functools.partial(jax.jit, static_argnames="nan_rule")
def _mean_update(state, value, weight, mask, replacement, *, nan_rule: str):
    """``state`` plus ``value * weight`` summed; ``nan_rule``: "drop" (value and
    weight), "keep" or "replace" (by the traced ``replacement``)."""
    value = jnp.asarray(value, jnp.float32)
    weight = jnp.broadcast_to(jnp.asarray(weight, jnp.float32), value.shape)
    if mask is not None:
        w = row_weights(mask, value.shape[0] if value.ndim else 1)
        weight = weight * w.reshape((-1,) + (1,) * (value.ndim - 1))
    if nan_rule == "replace":
        value = jnp.where(jnp.isnan(value), replacement, value)
        weight = jnp.where(jnp.isnan(weight), replacement, weight)
    elif nan_rule == "drop":
        keep = ~(jnp.isnan(value) | jnp.isnan(weight))
        value, weight = jnp.where(keep, value, 0.0), jnp.where(keep, weight, 0.0)
    return merge_sum(state, WeightedSum(jnp.sum(value * weight), jnp.sum(weight)))


@jax.jit
def _mean(state: WeightedSum) -> jax.Array:
    return state.total / state.weight


@jax.jit
def _perplexity_update(state, preds, target, mask, ignore) -> WeightedSum:
    """``state`` plus one batch's summed NLL and token count."""
    preds, target = jnp.asarray(preds, jnp.float32), jnp.asarray(target)
    w = row_weights(mask, target.shape[0])[:, None] * ~ignored(target, ignore)
    target = jnp.where(ignored(target, ignore), 0, target)
    logp = jax.nn.log_softmax(preds, -1)
    picked = jnp.take_along_axis(logp, target[..., None], -1)[..., 0]
    w = w.astype(jnp.float32)
    return merge_sum(state, WeightedSum(-jnp.sum(picked * w), jnp.sum(w)))


@jax.jit
def _perplexity(state: WeightedSum) -> jax.Array:
    return jnp.exp(state.total / state.weight)


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
        return _zero_sums()

    def update(
        self,
        state: WeightedSum,
        value: ArrayLike,
        weight: ArrayLike = 1.0,
        mask: ArrayLike | None = None,
    ) -> WeightedSum:
        """``state`` plus ``value`` (any shape) with ``weight`` broadcast to it."""
        strategy = self.nan_strategy
        replace = isinstance(strategy, float)
        rule = "replace" if replace else "keep" if strategy == "disable" else "drop"
        value, weight, mask = as_operand(value), as_operand(weight), as_operand(mask)
        return _mean_update(
            state,
            value,
            weight,
            mask,
            strategy if replace else 0.0,
            nan_rule=rule,
        )

    def merge(self, a: WeightedSum, b: WeightedSum) -> WeightedSum:
        """The sums of both states."""
        return merge_states(a, b)

    def compute(self, state: WeightedSum) -> jax.Array:
        """The weighted mean."""
        return _mean(state)


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
        return _zero_sums()

    def update(
        self,
        state: WeightedSum,
        preds: ArrayLike,
        target: ArrayLike,
        mask: ArrayLike | None = None,
    ) -> WeightedSum:
        """``state`` plus this batch's summed NLL and token count."""
        preds, target = as_operand(preds), as_operand(target)
        p, t = np.shape(preds), np.shape(target)
        if len(p) != 3 or t != p[:2]:
            raise ValueError(
                "Perplexity: preds must be [N, T, V] and target [N, T], got preds "
                f"{shape_str(p)} and target {shape_str(t)}"
            )
        mask = as_operand(mask)
        return _perplexity_update(
            state, preds, target, mask, ignore_spec(self.ignore_index)
        )

    def merge(self, a: WeightedSum, b: WeightedSum) -> WeightedSum:
        """The sums of both states."""
        return merge_states(a, b)

    def compute(self, state: WeightedSum) -> jax.Array:
        """The perplexity."""
        return _perplexity(state)
