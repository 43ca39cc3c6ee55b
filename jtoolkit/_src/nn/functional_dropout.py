"""Functional dropout with an explicit PRNG key (torch.nn.functional.dropout)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jtoolkit._src.core import arrays

__all__ = ["dropout"]


def dropout(
    input: Any,
    p: float = 0.5,
    training: bool = True,
    key: Any = None,
    *,
    inplace: bool = False,
) -> jax.Array:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)``.

    torch counterpart: ``torch.nn.functional.dropout(input, p=0.5, training=True,
    inplace=False)``. JAX has no global generator, so training with ``p > 0``
    takes a PRNG ``key`` (the fourth argument, where torch has ``inplace``, which
    is keyword-only here and ignored). Masks differ from torch's (another RNG);
    the scaling and the ``p = 1`` case (``x * 0``) are torch's.

    Args:
        input: floating array.
        p: drop probability in [0, 1].
        training: False (or ``p == 0``) returns ``input`` unchanged.
        key: PRNG key (``jax.random.key``/``tensor_ops.manual_seed``).
        inplace: ignored (JAX arrays are immutable).

    Returns:
        Array of ``input``'s shape and dtype.

    Raises:
        ValueError: ``p`` outside [0, 1]. TypeError: training with ``p > 0`` and
            no key, or a bool in the ``key`` position (torch's positional
            ``inplace``: pass it as ``inplace=``).

    Example:
        >>> from jtoolkit.functional import dropout
        >>> y = dropout(jnp.ones(1000), 0.5, True, jax.random.key(0))
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
        >>> dropout(jnp.ones(2), 0.5, training=False).tolist()
        [1.0, 1.0]
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if isinstance(key, bool):
        raise TypeError(
            "dropout(): the fourth argument is the PRNG key here (torch's inplace is "
            "keyword-only and ignored): write dropout(x, p, training, key)"
        )
    x = arrays.to_array(input)
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    if key is None:
        raise TypeError(
            "dropout(): training=True with p > 0 needs a PRNG key: write "
            "dropout(x, p, training=True, key=jax.random.key(0)) (or pass "
            "training=False at evaluation)"
        )
    keep = jax.random.bernoulli(key, 1.0 - p, x.shape)
    return x * (keep.astype(x.dtype) / jnp.asarray(1.0 - p, x.dtype))
