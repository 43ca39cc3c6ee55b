"""Devices: torch's ``torch.device`` / ``torch.cuda.*`` helpers over ``jax.devices``.

A device is a plain ``jax.Device``. "cuda" and "gpu" both mean JAX's GPU platform
(NVIDIA CUDA, or ROCm where JAX was built for it). Asking for a GPU that is not
there raises RuntimeError naming the devices that are.
"""

from __future__ import annotations

import gc
from typing import Any

import jax
import numpy as np

from jtoolkit._src.core import arrays, dtypes

__all__ = [
    "cpu",
    "cuda_is_available",
    "current_device",
    "device",
    "device_count",
    "empty_cache",
    "get_device_name",
    "to",
]


_PLATFORMS = {"cpu": "cpu", "cuda": "gpu", "gpu": "gpu", "tpu": "tpu"}


def _platform_devices(platform: str) -> list[jax.Device]:  # pyright: ignore[reportInvalidTypeForm]  (jaxlib: no stubs)
    """The devices of one JAX platform, [] when that backend is absent."""
    try:
        return list(jax.devices(platform))
    except RuntimeError:
        return []


def _available() -> str:
    return ", ".join(f"{d.platform}:{d.id} ({d.device_kind})" for d in jax.devices())


def _parse(spec: str) -> tuple[str, int | None]:
    """Split "cuda:1" into ("gpu", 1), with torch's errors for malformed strings."""
    kind, _, index = spec.strip().partition(":")
    if kind not in _PLATFORMS:
        raise RuntimeError(
            f"Expected one of {', '.join(_PLATFORMS)} device type at start of "
            f"device string: {spec}"
        )
    if not index:
        return _PLATFORMS[kind], None
    if not index.isdigit():
        raise RuntimeError(f"Invalid device string: '{spec}'")
    return _PLATFORMS[kind], int(index)


def _pick(platform: str, index: int | None, spec: Any) -> jax.Device:  # pyright: ignore[reportInvalidTypeForm]  (jaxlib: no stubs)
    devices = _platform_devices(platform)
    if not devices:
        hint = " (install JAX's CUDA plugin: pip install 'jax[cuda12]')"
        raise RuntimeError(
            f"device({spec!r}) asks for a {platform.upper()}, but JAX sees none; "
            f"available devices: {_available()}. Use device('cpu'), or "
            f"device('cuda' if cuda_is_available() else 'cpu')"
            + (hint if platform == "gpu" else "")
        )
    index = 0 if index is None else index
    if index >= len(devices):
        raise RuntimeError(
            f"device({spec!r}): index {index} is out of range, JAX sees "
            f"{len(devices)} {platform} device(s): {_available()}"
        )
    return devices[index]


def device(spec: Any) -> jax.Device:  # pyright: ignore[reportInvalidTypeForm]  (jaxlib: no stubs)
    """Resolve a device description to a ``jax.Device``.

    torch counterpart: ``torch.device(spec)``.

    Args:
        spec: "cpu", "cuda", "cuda:N", "gpu", "gpu:N", "tpu", a GPU index (int), a
            ``jax.Device`` (returned as is) or a ``torch.device``.

    Returns:
        The ``jax.Device``.

    Raises:
        RuntimeError: a malformed string, or a device that is not there (the message
            lists the available devices).

    Example:
        >>> from jtoolkit.tensor_ops import cuda_is_available, device
        >>> device("cuda" if cuda_is_available() else "cpu") in jax.devices()
        True
        >>> device("cpu").platform
        'cpu'
    """
    if isinstance(spec, jax.Device):
        return spec
    if type(spec).__module__.startswith("torch"):
        spec = str(spec)
    if isinstance(spec, int | np.integer) and not isinstance(spec, bool):
        return _pick("gpu", int(spec), spec)
    if not isinstance(spec, str):
        raise TypeError(
            f"device() expects a string such as 'cpu' or 'cuda:0', an int or a "
            f"jax.Device, got {type(spec).__name__}"
        )
    platform, index = _parse(spec)
    return _pick(platform, index, spec)


_resolve = device  # the argument of ``to`` shadows the name ``device``


def cuda_is_available() -> bool:
    """Whether JAX sees a GPU.

    torch counterpart: ``torch.cuda.is_available()``.

    Returns:
        True when ``jax.devices("gpu")`` is non-empty.

    Example:
        >>> from jtoolkit.tensor_ops import cuda_is_available
        >>> cuda_is_available() == any(d.platform == "gpu" for d in jax.devices())
        True
    """
    return bool(_platform_devices("gpu"))


def device_count() -> int:
    """The number of GPUs JAX sees (0 on a CPU-only machine).

    torch counterpart: ``torch.cuda.device_count()``.

    Returns:
        An int.

    Example:
        >>> from jtoolkit.tensor_ops import device_count
        >>> device_count() == len([d for d in jax.devices() if d.platform == "gpu"])
        True
    """
    return len(_platform_devices("gpu"))


def get_device_name(index: Any = 0) -> str:
    """The model name of a device, e.g. "NVIDIA H100 80GB HBM3".

    torch counterpart: ``torch.cuda.get_device_name(device=None)``.

    Args:
        index: a GPU index (int), or anything :func:`device` accepts ("cpu" gives
            JAX's CPU ``device_kind``).

    Returns:
        ``jax.Device.device_kind``.

    Raises:
        RuntimeError: no such device (the message lists the available ones).

    Example:
        >>> from jtoolkit.tensor_ops import get_device_name
        >>> get_device_name("cpu") == jax.devices("cpu")[0].device_kind
        True
    """
    return device(index).device_kind


def current_device() -> jax.Device:  # pyright: ignore[reportInvalidTypeForm]  (jaxlib: no stubs)
    """The device JAX puts new arrays on (its default device).

    torch counterpart: ``torch.cuda.current_device()``, which returns an index;
    this returns the ``jax.Device`` (its ``.id`` is that index), and works without
    a GPU too.

    Returns:
        ``jax.config.jax_default_device`` if set, else ``jax.devices()[0]``.

    Example:
        >>> from jtoolkit.tensor_ops import current_device
        >>> current_device() == jax.devices()[0]
        True
    """
    # jax.config sets its options as dynamic attributes (unknown to a checker)
    default = jax.config.jax_default_device  # pyright: ignore[reportAttributeAccessIssue]
    return jax.devices()[0] if default is None else device(default)


def _is_dtype_like(x: Any) -> bool:
    if x is None or isinstance(x, str | jax.Device | int):
        return False
    if type(x).__module__.startswith("torch"):
        return "dtype" in type(x).__name__
    try:
        np.dtype(x)
    except TypeError:
        return False
    return True


def _move(leaf: Any, dev: jax.Device | None, dtype: Any, cast: bool) -> Any:  # pyright: ignore[reportInvalidTypeForm]  (jaxlib: no stubs)
    if not isinstance(leaf, jax.Array | np.ndarray | np.generic):
        return leaf
    out = arrays.to_array(leaf)
    if dtype is not None and cast:
        out = out.astype(dtype)
    return out if dev is None else jax.device_put(out, dev)


def to(x: Any, device: Any = None, dtype: Any = None) -> Any:
    """Move an array or a pytree of arrays to a device (and optionally cast).

    torch counterpart: ``tensor.to(device)`` / ``module.to(device, dtype)``.

    Args:
        x: a ``jax.Array``, numpy array or any pytree of them (other leaves are kept
            as they are). numpy leaves become ``jax.Array``s.
        device: anything :func:`device` accepts; a dtype in this position is taken
            as ``dtype`` (``to(x, jnp.bfloat16)``, as ``tensor.to(torch.bfloat16)``).
        dtype: cast to this dtype: a single array always, inside a pytree only the
            floating-point leaves (as ``module.to(dtype)`` leaves integer buffers).

    Returns:
        The same structure with ``jax.Array`` leaves on the device.

    Raises:
        RuntimeError: the device is not there.

    Example:
        >>> from jtoolkit.tensor_ops import to
        >>> out = to({"w": np.ones(2), "step": 3}, "cpu")
        >>> out["w"].devices() == {jax.devices("cpu")[0]}, out["step"]
        (True, 3)
    """
    if _is_dtype_like(device) and dtype is None:
        device, dtype = None, device
    dev = None if device is None else _resolve(device)
    dtype = dtypes.resolve_dtype(dtype)
    if isinstance(x, jax.Array | np.ndarray | np.generic):
        return _move(x, dev, dtype, cast=True)
    return jax.tree.map(
        lambda leaf: _move(leaf, dev, dtype, cast=_is_float_leaf(leaf)), x
    )


def _is_float_leaf(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and dtypes.is_float(leaf.dtype)


def cpu(x: Any) -> Any:
    """Move an array or a pytree of arrays to the CPU.

    torch counterpart: ``tensor.cpu()``.

    Args:
        x: as for :func:`to`.

    Returns:
        The same structure on ``jax.devices("cpu")[0]``.

    Example:
        >>> from jtoolkit.tensor_ops import cpu
        >>> cpu(jnp.ones(2)).devices() == {jax.devices("cpu")[0]}
        True
    """
    return to(x, "cpu")


def empty_cache(clear_compiled: bool = False) -> None:
    """Free device memory held by arrays (and optionally programs) no longer in use.

    torch counterpart: ``torch.cuda.empty_cache()``. JAX frees an array's device
    buffer as soon as Python drops its last reference, so this runs the garbage
    collector, which frees arrays kept alive only by reference cycles. Arrays you
    still reference stay. JAX's GPU allocator keeps its pool (75% of GPU memory
    by default) for the process either way; to share a GPU with other processes,
    set ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` or
    ``XLA_PYTHON_CLIENT_ALLOCATOR=platform`` before JAX starts.

    Args:
        clear_compiled: also drop JAX's compilation caches (``jax.clear_caches()``:
            compiled programs and their constants); every jitted function then
            recompiles on its next call.

    Example:
        >>> from jtoolkit.tensor_ops import empty_cache
        >>> empty_cache() is None
        True
    """
    gc.collect()
    if clear_compiled:
        jax.clear_caches()
