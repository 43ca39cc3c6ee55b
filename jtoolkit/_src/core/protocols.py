"""What a loader may optionally support, as runtime-checkable Protocols.

A loader is any iterable of batches; a ``DataLoader`` (and the sources wrapped
around one) also has ``set_epoch`` and a resumable position. Code that forwards to
an arbitrary source asks ``isinstance(source, SupportsSetEpoch)`` instead of probing
attribute names, so the type checker knows what it may call.

Example:
    >>> class Loader:
    ...     def __iter__(self):
    ...         return iter([1, 2])
    ...     def set_epoch(self, epoch):
    ...         self.epoch = epoch
    >>> isinstance(Loader(), SupportsSetEpoch), isinstance([1, 2], SupportsSetEpoch)
    (True, False)
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["SupportsSetEpoch", "SupportsStateDict"]


@runtime_checkable
class SupportsSetEpoch(Protocol):
    """A source whose next pass can be told its epoch (torch's ``set_epoch``)."""

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass epoch ``epoch``."""
        ...


@runtime_checkable
class SupportsStateDict(Protocol):
    """A source whose position can be saved and restored (``DataLoader``'s)."""

    def state_dict(self) -> dict[str, Any] | None:
        """The position to save (None: nothing to save)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from a saved position."""
        ...
