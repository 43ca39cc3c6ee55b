"""Counting the XLA programs a block of code compiles, for the tests that pin
"one program per eager call" (core/eager_jit, nn/eager_call).

``jax.monitoring``'s backend-compile event fires for a program compiled and for one
read back from the persistent cache, so the count does not depend on the cache.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from jax import monitoring

__all__ = ["programs"]


@contextlib.contextmanager
def programs() -> Iterator[list[int]]:
    """``with programs() as count:`` ... then ``count[0]`` is how many programs
    the block compiled (or read from the persistent cache)."""
    seen: list[float] = []
    box = [0]

    def listen(event: str, duration: float, **_: object) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            seen.append(duration)

    monitoring.register_event_duration_secs_listener(listen)
    try:
        yield box
    finally:
        monitoring.unregister_event_duration_listener(listen)
        box[0] = len(seen)
