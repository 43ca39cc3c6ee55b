"""File-system failures of a checkpoint write as one ``OSError`` naming path and step.

orbax and tensorstore report a full disk, a read-only file system or a vanished
directory in several ways (``OSError``, tensorstore's ``ValueError`` carrying the C
library's message, an error logged at ERROR level before it is raised).
``write_failure`` turns any of them into ``CheckpointWriteError`` with the errno
read back from the message, and ``quiet_orbax`` keeps orbax's own log lines out of
the user's output for the duration of one call only.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Iterator

__all__ = [
    "CheckpointLockedError",
    "CheckpointWriteError",
    "quiet_orbax",
    "write_failure",
]


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; the message names the operation and path.

    An ``OSError`` with the underlying ``errno`` (``ENOSPC``, ``EROFS``, ``EACCES``,
    ``ENOENT``, ...) and ``filename``. The checkpoints saved before stay intact; the
    newest of them is still the latest step. torch's ``torch.save`` raises the bare
    ``OSError`` of ``open``/``write``.
    """

    def __init__(self, code: int, message: str, path: str) -> None:
        super().__init__(code, message, path)
        self.message = message

    def __str__(self) -> str:
        return self.message


class CheckpointLockedError(CheckpointWriteError):
    """Another live process writes to this checkpoint directory (its pid and host
    are in the message). One directory has one writer at a time."""


_MESSAGES = (
    ("no space left", errno.ENOSPC),
    ("disk quota", errno.EDQUOT),
    ("read-only file system", errno.EROFS),
    ("permission denied", errno.EACCES),
    ("operation not permitted", errno.EPERM),
    ("no such file or directory", errno.ENOENT),
    ("not a directory", errno.ENOTDIR),
    ("too many levels of symbolic links", errno.ELOOP),
    ("directory not empty", errno.ENOTEMPTY),
    ("file exists", errno.EEXIST),
)


def _errno_of(err: BaseException | None) -> int:
    """The errno behind ``err`` (also when only its message carries it)."""
    seen: list[BaseException] = []
    while err is not None and err not in seen:
        seen.append(err)
        if isinstance(err, OSError) and err.errno:
            return err.errno
        text = str(err).lower()
        for needle, code in _MESSAGES:
            if needle in text:
                return code
        err = err.__cause__ or err.__context__
    return errno.EIO


def write_failure(
    operation: str, path: str, err: BaseException
) -> CheckpointWriteError:
    """``err`` (raised while ``operation`` wrote ``path``) as a CheckpointWriteError.

    Example:
        >>> e = write_failure("save_checkpoint: step 3", "/ck/3", OSError(28, "full"))
        >>> isinstance(e, OSError), e.errno == errno.ENOSPC
        (True, True)
        >>> str(e)
        'save_checkpoint: step 3 failed: /ck/3: No space left on device (full)'
    """
    if isinstance(err, CheckpointWriteError):
        return err
    code = _errno_of(err)
    reason = os.strerror(code) if code != errno.EIO else _first_line(err)
    if isinstance(err, OSError) and err.strerror and err.strerror != reason:
        reason = f"{reason} ({err.strerror})"
    where = getattr(err, "filename", None) or path
    return CheckpointWriteError(code, f"{operation} failed: {where}: {reason}", path)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    line = text.splitlines()[0] if text else type(err).__name__
    return line[:200]


_LOGGERS = ("absl", "orbax", "orbax.checkpoint", "tensorstore")


@contextlib.contextmanager
def quiet_orbax() -> Iterator[None]:
    """Silence orbax's and absl's log records (ERROR included) inside the block.

    The loggers' levels are restored afterwards, so the user's own absl/orbax
    logging configuration is untouched outside a checkpoint call.
    """
    loggers = [logging.getLogger(name) for name in _LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
