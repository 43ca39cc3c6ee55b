"""``pad`` with torch's argument order (last dim first) and its four modes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jtoolkit._src.core import arrays, checks, dtypes
from jtoolkit._src.core.eager_jit import eager_jit

__all__ = ["pad"]


_MODES = {
    "constant": None,
    "reflect": "reflect",
    "replicate": "edge",
    "circular": "wrap",
}


def _pairs(pad: Sequence[Any], ndim: int) -> list[tuple[int, int]]:
    """torch's flat ``(left, right, top, bottom, ...)`` as pairs in dim order."""
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) > 2 * ndim:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input "
            f"dimension but got padding length {len(pad)} and input of dimension "
            f"{ndim}"
        )
    sizes = [checks.torch_int_arg("pad", p, "pad") for p in pad]
    tail = [(sizes[2 * i], sizes[2 * i + 1]) for i in range(len(sizes) // 2)]
    return [(0, 0)] * (ndim - len(tail)) + tail[::-1]


def _check_mode(mode: str, x: jax.Array, pairs: list[tuple[int, int]], n_pad: int):
    if x.ndim - n_pad // 2 not in (1, 2):
        raise NotImplementedError(
            f"Padding size {n_pad} is not supported for {x.ndim}D input tensor."
        )
    for d, (lo, hi) in enumerate(pairs):
        size = x.shape[d]
        if mode == "reflect" and (lo >= size or hi >= size):
            raise RuntimeError(
                "Argument #4: Padding size should be less than the corresponding "
                f"input dimension, but got: padding ({lo}, {hi}) at dimension {d} of "
                f"input {checks.shape_str(x.shape)}"
            )
        if mode == "circular" and (lo > size or hi > size):
            raise RuntimeError("Padding value causes wrapping around more than once.")


@eager_jit
def pad(
    input: Any, pad: Sequence[int], mode: str = "constant", value: Any = None
) -> jax.Array:
    """Pad (or crop, with negative sizes) the last dims, last dim first.

    torch counterpart: ``torch.nn.functional.pad(input, pad, mode='constant',
    value=None)``: ``pad = (left, right)`` pads the last dim, ``(left, right, top,
    bottom)`` the last two, and so on. Modes: "constant" (``value``, default 0, cast
    to the input's dtype), "reflect" (mirror without the edge), "replicate" (repeat
    the edge), "circular" (wrap around). Non-constant modes pad the last 1-3 dims
    of a 2-4-D (batched or not) input, as torch; negative sizes crop first.

    Args:
        input: array.
        pad: even-length tuple of ints, last dim's pair first.
        mode: one of the four modes.
        value: the fill value of "constant" mode.

    Returns:
        The padded array.

    Raises:
        RuntimeError: an odd-length ``pad``, more pairs than dims, a value with a
            non-constant mode, reflect padding >= the dim's size, or circular
            padding larger than it. NotImplementedError: an unknown mode, or a
            non-constant mode on unsupported ranks.

    Example:
        >>> from jtoolkit.functional import pad
        >>> x = jnp.array([[1.0, 2.0, 3.0]])
        >>> pad(x, (1, 2)).tolist(), pad(x, (2, 1), mode="reflect").tolist()
        ([[0.0, 1.0, 2.0, 3.0, 0.0, 0.0]], [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]])
    """
    if mode not in _MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    x = arrays.to_array(input)
    pairs = _pairs(pad, x.ndim)
    if mode == "constant":
        for d, (lo, hi) in enumerate(pairs):
            if x.shape[d] + lo + hi < 0:
                raise RuntimeError(
                    f"pad: dim {d} of size {x.shape[d]} padded by ({lo}, {hi}) "
                    "would have a negative size; crop at most the dim's size"
                )
        fill = jnp.asarray(0 if value is None else value)
        if dtypes.is_integral(x.dtype, include_bool=False) and dtypes.is_float(
            fill.dtype
        ):
            fill = jnp.trunc(fill)
        return lax.pad(x, fill.astype(x.dtype), [(lo, hi, 0) for lo, hi in pairs])
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
    if mode == "circular":  # torch crops first, then wraps what is left
        x = _crop(x, pairs)
        _check_mode(mode, x, grow, len(pad))
        return jnp.pad(x, grow, mode="wrap")
    _check_mode(mode, x, grow, len(pad))  # reflect/replicate: pad, then crop
    grown = jnp.pad(x, grow, mode=_MODES[mode])
    return _crop(grown, pairs)


def _crop(x: jax.Array, pairs: list[tuple[int, int]]) -> jax.Array:
    """Drop ``-lo``/``-hi`` elements where a pad size is negative."""
    index = tuple(
        slice(max(-lo, 0), x.shape[d] - max(-hi, 0)) for d, (lo, hi) in enumerate(pairs)
    )
    return x[index]
