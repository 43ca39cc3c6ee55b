"""One JAX CPU device per usable core, asked for before JAX starts its backends.

XLA runs a CPU program on one device with a small intra-op pool; a convolution's
kernel gradient there runs mostly on one thread (benchmarks/RESULTS.md). Giving JAX
one CPU device per core and training data-parallel over them (``mesh="auto"``)
runs each core on its own share of the batch. Opt-in: nothing changes for a
script that does not call this.
"""

from __future__ import annotations

import jax

from jtoolkit._src.data.loader import cpu_count

__all__ = ["usable_cores", "use_cpu_cores"]


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, else ``os.cpu_count``).

    Example:
        >>> usable_cores() >= 1
        True
    """
    return max(cpu_count() or 1, 1)


def use_cpu_cores(count: int | None = None) -> int:
    """Give JAX ``count`` CPU devices (default: one per usable core).

    No torch counterpart (torch's intra-op threads need no devices): call it right
    after ``import jax``, before anything touches a device, then train with
    ``make_train_step(..., mesh="auto")`` to split each batch over the cores.
    The CPU's work per step grows a little (a gradient all-reduce, XLA's own
    convolution lowering under a mesh); it pays where one device leaves cores idle.
    On a GPU host the CPU devices are extra and ``jax.devices()`` stays the GPUs.

    Args:
        count: CPU devices to create; ``None``: ``usable_cores()``.

    Returns:
        The number of CPU devices JAX will create.

    Raises:
        ValueError: ``count`` below 1.
        RuntimeError: JAX's backends have already started with another count.

    Example:
        >>> import jax
        >>> n = len(jax.devices("cpu"))  # JAX has started here: the same count only
        >>> use_cpu_cores(n) == n
        True
    """
    if count is None:
        count = usable_cores()
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be an int >= 1 (or None), but got {count!r}")
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # started already: fine if it has that many
        have = len(jax.local_devices(backend="cpu"))
        if have != count:
            raise RuntimeError(
                f"use_cpu_cores({count}): JAX has already started with {have} CPU "
                "device(s); call it right after `import jax`, before anything "
                "touches a device"
            ) from None
    return count
