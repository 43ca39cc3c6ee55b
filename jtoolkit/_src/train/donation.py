"""A jitted step with a donated state that explains reuse of the old state.

torch code keeps using ``model`` after ``optimizer.step()``; with a donated
``TrainState`` the old one is gone, and XLA says only "Buffer has been deleted or
donated". When a call fails, the wrapper looks at the state it was given: if any
of its arrays is deleted (donated earlier), the error is re-raised with the fix.
Nothing is checked when the step is used correctly (no per-step cost), and no
error message text is parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.core

__all__ = ["DonatingStep"]

_HINT = (
    "the TrainState passed to the train step was donated to an earlier call and "
    "its buffers are gone: keep the returned state (state, metrics = step(state, "
    "batch)) and never reuse the one you passed in"
)


class DonatingStep:
    """Call ``jitted`` (a ``jax.jit`` function donating argument 0) with a clear
    error when argument 0 was already donated; other attributes are ``jitted``'s.

    Example:
        >>> import jax
        >>> f = DonatingStep(jax.jit(lambda s: s + 1, donate_argnums=0))
        >>> int(f(jnp.ones(())))
        2
    """

    def __init__(self, jitted: Callable) -> None:
        self._jitted = jitted
        self.__wrapped__ = jitted
        self.__doc__ = getattr(jitted, "__doc__", None)

    def __call__(self, state: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._jitted(state, *args, **kwargs)
        except (ValueError, RuntimeError) as err:
            if _was_donated(state):
                kind = ValueError if isinstance(err, ValueError) else RuntimeError
                raise kind(_HINT) from err
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._jitted, name)


def _was_donated(state: Any) -> bool:
    """Whether some array of ``state`` has been deleted (donated to a call)."""
    return any(
        isinstance(leaf, jax.Array)
        and not isinstance(leaf, jax.core.Tracer)
        and leaf.is_deleted()
        for leaf in jax.tree.leaves(state)
    )
