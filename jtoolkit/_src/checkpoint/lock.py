"""One writer per checkpoint directory: an ``flock`` on ``<dir>/jtoolkit-writer.lock``.

The first save (or prune) of a process takes an exclusive, non-blocking lock on a
file inside the directory and keeps it until the process exits (the kernel drops
it when the process dies, however it dies); the file holds the holder's pid and
host. A second process that tries to write the same directory gets
``CheckpointLockedError`` naming them, before it tidies anything up, so one
trainer's start-up tidy-up never deletes another live trainer's in-progress save.
Readers (``restore_checkpoint``, ``latest_step``) take no lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import stat

from jtoolkit._src.checkpoint.errors import CheckpointLockedError, write_failure

__all__ = ["LOCK", "hold_writer_lock", "lost_directory", "release_writer_lock"]

LOCK = "jtoolkit-writer.lock"

_HELD: dict[str, tuple[int, int]] = {}  # real directory -> (pid, fd)


def _forget_stale() -> None:
    """Close the locks of directories that were deleted (tests' tmp dirs)."""
    for key, (pid, fd) in list(_HELD.items()):
        try:
            gone = pid != os.getpid() or os.fstat(fd).st_nlink == 0
        except OSError:
            gone = True
        if gone:
            del _HELD[key]
            if pid == os.getpid():
                os.close(fd)


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 256, 0).decode("utf-8", "replace").split()
    except OSError:
        text = []
    if len(text) >= 2:
        return f"pid {text[0]} on host {text[1]}"
    return "another process"


def hold_writer_lock(directory: str) -> None:
    """Take (or keep) this process's writer lock on ``directory``.

    Raises:
        CheckpointLockedError: another live process holds it.
        CheckpointWriteError: the lock file cannot be created (read-only, ...).
    """
    key = os.path.realpath(directory)
    held = _HELD.get(key)
    if held is not None and held[0] == os.getpid():
        try:
            if os.fstat(held[1]).st_nlink > 0:
                return
        except OSError:
            pass
    _forget_stale()
    path = os.path.join(directory, LOCK)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError(errno.EINVAL, "not a regular file", path)
    except OSError as err:
        raise write_failure("taking the writer lock", path, err) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        holder = _holder(fd)
        os.close(fd)
        if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise write_failure("taking the writer lock", path, err) from None
        raise CheckpointLockedError(
            errno.EWOULDBLOCK,
            f"checkpoint directory {directory} is in use by {holder} (lock "
            f"{path}); one directory takes one writer: stop that run or pick "
            "another directory",
            path,
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
    except OSError:
        pass  # the lock holds without the note (a full disk)
    _HELD[key] = (os.getpid(), fd)


def lost_directory(directory: str) -> bool:
    """True (once) if this process held ``directory``'s lock and the directory, or
    its lock file, was removed since: a checkpoint directory that vanished mid-run
    is an error, not a silent fresh start."""
    key = os.path.realpath(directory)
    held = _HELD.get(key)
    if held is None or held[0] != os.getpid():
        return False
    try:
        if os.fstat(held[1]).st_nlink > 0:
            return False
    except OSError:
        pass
    release_writer_lock(directory)
    return True


def release_writer_lock(directory: str) -> None:
    """Drop this process's writer lock on ``directory`` (no-op if not held)."""
    held = _HELD.pop(os.path.realpath(directory), None)
    if held is not None and held[0] == os.getpid():
        os.close(held[1])
