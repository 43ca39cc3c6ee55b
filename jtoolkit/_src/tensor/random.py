"""Random arrays with explicit PRNG keys: torch's ``randn``/``rand``/``randint``/...

torch draws from a hidden global generator; JAX passes a key. ``manual_seed(seed)``
returns that key, and every sampler takes it first: ``randn(key, 2, 3)`` is
torch's ``randn(2, 3)``. Split keys (``jax.random.split``) for independent draws.
Values differ from torch's (a different generator); distributions are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core import dtypes
from jtoolkit._src.tensor.create import parse_size, place

__all__ = [
    "manual_seed",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "randperm",
]


_U64 = 1 << 64


def manual_seed(seed: int) -> jax.Array:
    """A PRNG key made from an integer seed (torch's seed range).

    torch counterpart: ``torch.manual_seed(seed)``, which reseeds a global
    generator; here the key is returned and passed to samplers explicitly.

    Args:
        seed: int in ``[-2**63, 2**64)``; negative seeds wrap as torch's do. Seeds
            below ``2**32`` give exactly ``jax.random.key(seed)``; higher bits are
            folded in, so all 64 bits count even without ``jax_enable_x64``.

    Returns:
        A typed PRNG key (``jax.random.key``).

    Raises:
        TypeError: a non-integer seed. ValueError: a seed outside torch's range.

    Example:
        >>> from jtoolkit.tensor_ops import manual_seed, randn
        >>> bool((randn(manual_seed(0), 3) == randn(manual_seed(0), 3)).all())
        True
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"manual_seed() expects an int seed, got {type(seed).__name__}")
    seed = int(seed)
    if not -(1 << 63) <= seed < _U64:
        raise ValueError(
            f"Overflow when unpacking long long: seed={seed} is outside [-2**63, 2**64)"
        )
    seed %= _U64
    key = jax.random.key(seed & 0xFFFFFFFF)
    return key if seed >> 32 == 0 else jax.random.fold_in(key, seed >> 32)


def _check_key(key: Any, fname: str) -> None:
    is_typed = isinstance(key, jax.Array) and jnp.issubdtype(
        key.dtype, jax.dtypes.prng_key
    )
    is_raw = (
        isinstance(key, jax.Array | np.ndarray)
        and key.dtype == np.uint32
        and key.shape == (2,)
    )
    if not (is_typed or is_raw):
        raise TypeError(
            f"{fname}() takes an explicit PRNG key first, got {type(key).__name__} "
            f"{key!r}; JAX has no global generator: write "
            f"{fname}(manual_seed(0), ...) or split a key with jax.random.split"
        )


def _float_dtype(dtype: Any, fname: str) -> np.dtype:
    dtype = dtypes.resolve_dtype(dtype) or dtypes.default_float()
    if not jnp.issubdtype(dtype, jnp.floating):
        raise NotImplementedError(
            f"\"{fname}\" not implemented for '{dtypes.scalar_name(dtype)}': it draws "
            "floating-point samples; pass a float dtype (or use randint)"
        )
    return dtype


def randn(
    key: ArrayLike, *size: Any, dtype: Any = None, device: Any = None
) -> jax.Array:
    """Standard normal samples.

    torch counterpart: ``torch.randn(*size, dtype=None, device=None)``.

    Args:
        key: PRNG key (:func:`manual_seed`, ``jax.random.key``).
        *size: ints or one list/tuple.
        dtype: a floating dtype (default float32; float64 needs ``jax_enable_x64``,
            else it is float32).
        device: anything :func:`device` accepts.

    Returns:
        Array of shape ``size``.

    Raises:
        TypeError: no key first, or non-int sizes. RuntimeError: a negative size.
        NotImplementedError: a non-float dtype.

    Example:
        >>> from jtoolkit.tensor_ops import manual_seed, randn
        >>> randn(manual_seed(0), [2, 3]).shape
        (2, 3)
    """
    _check_key(key, "randn")
    shape = parse_size(size, "randn")
    out = jax.random.normal(key, shape, _float_dtype(dtype, "normal_kernel_cpu"))
    return place(out, device)


def rand(
    key: ArrayLike, *size: Any, dtype: Any = None, device: Any = None
) -> jax.Array:
    """Uniform samples in ``[0, 1)``.

    torch counterpart: ``torch.rand(*size, dtype=None, device=None)``.

    Args:
        key: PRNG key.
        *size: ints or one list/tuple.
        dtype: a floating dtype (default float32).
        device: anything :func:`device` accepts.

    Returns:
        Array of shape ``size``.

    Raises:
        As :func:`randn`.

    Example:
        >>> from jtoolkit.tensor_ops import manual_seed, rand
        >>> x = rand(manual_seed(0), 4)
        >>> bool(((x >= 0) & (x < 1)).all())
        True
    """
    _check_key(key, "rand")
    shape = parse_size(size, "rand")
    out = jax.random.uniform(key, shape, _float_dtype(dtype, "uniform"))
    return place(out, device)


def randint(
    key: ArrayLike,
    low: int = 0,
    high: Any = None,
    size: Any = None,
    dtype: Any = None,
    device: Any = None,
) -> jax.Array:
    """Uniform integers in ``[low, high)``.

    torch counterpart: ``torch.randint(low=0, high, size, dtype=None,
    device=None)``; both ``randint(key, low, high, size)`` and torch's short form
    ``randint(key, high, size)`` work.

    Args:
        key: PRNG key.
        low, high: bounds, ``low < high``.
        size: an int or a list/tuple of ints.
        dtype: default: int64 with ``jax_enable_x64``, else int32 (torch: int64); a
            float dtype gives integer values in floats, as torch.

    Returns:
        Array of shape ``size``.

    Raises:
        TypeError: no key, or no size. RuntimeError: ``low >= high``.

    Example:
        >>> from jtoolkit.tensor_ops import manual_seed, randint
        >>> x = randint(manual_seed(0), 0, 10, (2, 3))
        >>> x.shape, x.dtype, bool(((x >= 0) & (x < 10)).all())
        ((2, 3), dtype('int32'), True)
    """
    _check_key(key, "randint")
    if size is None:
        if not isinstance(high, Sequence):
            raise TypeError(
                "randint() missing required argument 'size': write "
                "randint(key, low, high, size) or randint(key, high, size)"
            )
        low, high, size = 0, low, high
    if high is None:
        raise TypeError("randint() missing required argument 'high'")
    shape = parse_size(size if isinstance(size, Sequence) else (size,), "randint")
    if low >= high:
        raise RuntimeError(
            "random_ expects 'from' to be less than 'to', but got "
            f"from={low} >= to={high}"
        )
    dtype = dtypes.resolve_dtype(dtype) or dtypes.default_int()
    draw_dtype = dtype if jnp.issubdtype(dtype, jnp.integer) else dtypes.default_int()
    out = jax.random.randint(key, shape, low, high, dtype=draw_dtype).astype(dtype)
    return place(out, device)


def randperm(
    key: ArrayLike, n: int, dtype: Any = None, device: Any = None
) -> jax.Array:
    """A random permutation of ``0 .. n-1``.

    torch counterpart: ``torch.randperm(n, dtype=torch.int64, device=None)``.

    Args:
        key: PRNG key.
        n: length, ``n >= 0``.
        dtype: default int64 with ``jax_enable_x64``, else int32.
        device: anything :func:`device` accepts.

    Returns:
        ``[n]`` array holding each of ``0 .. n-1`` once.

    Raises:
        RuntimeError: ``n < 0``.

    Example:
        >>> from jtoolkit.tensor_ops import manual_seed, randperm
        >>> sorted(randperm(manual_seed(0), 5).tolist())
        [0, 1, 2, 3, 4]
    """
    _check_key(key, "randperm")
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"randperm(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError(
            f"Trying to create tensor with negative dimension {int(n)}: [{int(n)}]"
        )
    dtype = dtypes.resolve_dtype(dtype) or dtypes.default_int()
    out = jax.random.permutation(key, int(n)).astype(dtype)
    return place(out, device)


def _like_dtype(input: Any, dtype: Any, fname: str) -> tuple[tuple[int, ...], Any]:
    x = jnp.asarray(input)
    return x.shape, _float_dtype(x.dtype if dtype is None else dtype, fname)


def randn_like(
    key: ArrayLike, input: ArrayLike, dtype: Any = None, device: Any = None
) -> jax.Array:
    """Standard normal samples shaped (and typed, unless ``dtype``) like ``input``.

    torch counterpart: ``torch.randn_like(input, dtype=None)``, with the key first
    as :func:`randn`.

    Args:
        key: PRNG key.
        input: array-like; a floating dtype unless ``dtype`` is given.
        dtype: a floating dtype.
        device: anything :func:`device` accepts.

    Returns:
        Array of ``input``'s shape.

    Raises:
        TypeError: no key first. NotImplementedError: an integer dtype (as torch).

    Example:
        >>> from jtoolkit.tensor_ops import manual_seed, randn_like
        >>> randn_like(manual_seed(0), jnp.zeros((2, 3))).shape
        (2, 3)
    """
    _check_key(key, "randn_like")
    shape, dtype = _like_dtype(input, dtype, "normal_kernel_cpu")
    return place(jax.random.normal(key, shape, dtype), device)


def rand_like(
    key: ArrayLike, input: ArrayLike, dtype: Any = None, device: Any = None
) -> jax.Array:
    """Uniform ``[0, 1)`` samples shaped (and typed, unless ``dtype``) like ``input``.

    torch counterpart: ``torch.rand_like(input, dtype=None)``, with the key first.

    Args:
        key, input, dtype, device: as :func:`randn_like`.

    Returns:
        Array of ``input``'s shape; raises as :func:`randn_like`.

    Example:
        >>> from jtoolkit.tensor_ops import manual_seed, rand_like
        >>> rand_like(manual_seed(0), jnp.zeros(4)).dtype
        dtype('float32')
    """
    _check_key(key, "rand_like")
    shape, dtype = _like_dtype(input, dtype, "check_uniform_bounds")
    return place(jax.random.uniform(key, shape, dtype), device)
