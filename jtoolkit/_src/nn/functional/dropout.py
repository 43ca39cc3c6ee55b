"""``dropout`` and ``dropout2d`` (torch.nn.functional) with an explicit PRNG key.

The one implementation of dropout: ``models.Dropout``/``Dropout2d``, the recurrent
layers and attention call these (torch's multiply-by-mask semantics: a dropped inf
or NaN gives NaN, ``p = 1`` gives ``x * 0``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jtoolkit._src.core import arrays
from jtoolkit._src.core.eager_jit import eager_jit

__all__ = ["dropout", "dropout2d"]


@eager_jit
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
    x = arrays.to_array(input)
    return _masked(x, p, training, key, x.shape, "dropout")


def _check_p(p) -> None:
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _masked(x, p, training, key, mask_shape, fname: str) -> jax.Array:
    """``x * mask / (1 - p)`` with one Bernoulli draw per element of ``mask_shape``
    (broadcast against ``x``); the checks every dropout shares."""
    _check_p(p)
    if isinstance(key, bool):
        raise TypeError(
            f"{fname}(): the fourth argument is the PRNG key here (torch's inplace "
            f"is keyword-only and ignored): write {fname}(x, p, training, key)"
        )
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    if key is None:
        raise TypeError(
            f"{fname}(): training=True with p > 0 needs a PRNG key: write "
            f"{fname}(x, p, training=True, key=jax.random.key(0)) (or pass "
            "training=False at evaluation)"
        )
    keep = jax.random.bernoulli(key, 1.0 - p, mask_shape)
    return x * (keep.astype(x.dtype) / jnp.asarray(1.0 - p, x.dtype))


@eager_jit
def dropout2d(
    input: Any,
    p: float = 0.5,
    training: bool = True,
    key: Any = None,
    *,
    inplace: bool = False,
    data_format: str = "NCHW",
) -> jax.Array:
    """Zero whole channels with probability ``p`` and scale the rest by ``1/(1-p)``.

    torch counterpart: ``torch.nn.functional.dropout2d(input, p=0.5,
    training=True, inplace=False)``: one draw per (sample, channel) shared by
    every H x W position; the key as in :func:`dropout`.

    Args:
        input: ``[N, C, H, W]`` or unbatched ``[C, H, W]`` (``[N, H, W, C]`` or
            ``[H, W, C]`` with ``data_format="NHWC"``).
        p: drop probability in [0, 1]. training: False returns ``input``.
        key: PRNG key. inplace: ignored. data_format: "NCHW" or "NHWC".

    Returns:
        Array of ``input``'s shape and dtype.

    Raises:
        RuntimeError: input that is not 3-D/4-D. ValueError, TypeError: as
            :func:`dropout`.

    Example:
        >>> from jtoolkit.functional import dropout2d
        >>> y = dropout2d(jnp.ones((2, 8, 3, 3)), 0.5, True, jax.random.key(0))
        >>> bool((y.min(axis=(2, 3)) == y.max(axis=(2, 3))).all())
        True
    """
    del inplace
    _check_p(p)  # first, as torch
    x = arrays.to_array(input)
    if data_format not in ("NCHW", "NHWC"):
        raise ValueError(
            f"dropout2d: data_format must be NCHW or NHWC, got {data_format!r}"
        )
    if x.ndim not in (3, 4):
        layout = (
            "[N, C, H, W] or [C, H, W]"
            if data_format == "NCHW"
            else ("[N, H, W, C] or [H, W, C]")
        )
        raise RuntimeError(
            f"dropout2d expects 4-D input {layout} ({data_format}), but got input "
            f"of shape {list(x.shape)}"
        )
    if data_format == "NCHW":
        shape = (*x.shape[:-2], 1, 1)
    else:
        shape = (*x.shape[:-3], 1, 1, x.shape[-1])
    return _masked(x, p, training, key, shape, "dropout2d")
