"""Safe file primitives: no symlink followed, temporary files created exclusively.

Every file jtoolkit writes (checkpoints' own files, the demo's run record, metrics
file and plot, ``plot_schedule``'s PNG) goes through ``atomic_write`` /
``atomic_writer``: the new content is written to a temporary file created with
``O_CREAT | O_EXCL | O_NOFOLLOW`` under a random name in the target's own directory,
flushed to disk and renamed over the target. A symlink planted at a predictable
temporary name (``<file>.tmp``) therefore cannot redirect the write, and a reader
never sees a half-written file. ``open_read`` refuses a symlink as the last path
component (``O_NOFOLLOW``) and anything but a regular file; ``confined`` checks a
relative path taken from a file (a manifest entry) before it is joined to a
directory: no absolute path, no ``..``, no symlink component, inside the directory.

torch has no counterpart (``torch.save`` writes in place through symlinks).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from typing import IO

__all__ = [
    "UnsafePathError",
    "append_text",
    "atomic_write",
    "atomic_writer",
    "confined",
    "open_read",
    "read_bytes",
]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class UnsafePathError(ValueError):
    """A path that would leave its directory or go through a symlink."""


def confined(root: str, rel: str) -> str:
    """``root/rel`` for a relative path read from an untrusted file, checked.

    Args:
        root: the directory the path must stay inside.
        rel: a relative path with ``/`` separators.

    Returns:
        The joined path.

    Raises:
        UnsafePathError: ``rel`` is empty, absolute, has an empty, ``.`` or ``..``
            component or a NUL byte, goes through a symlink, or resolves outside
            ``root``.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> confined(d, "a/b") == os.path.join(d, "a", "b")
        True
        >>> try:
        ...     confined(d, "../etc/passwd")
        ... except UnsafePathError as err:
        ...     print(err)
        '../etc/passwd' is not a plain relative path inside its directory
    """
    parts = rel.split("/") if isinstance(rel, str) else []
    if (
        not parts
        or "\0" in rel
        or "\\" in rel
        or os.path.isabs(rel)
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise UnsafePathError(
            f"{rel!r} is not a plain relative path inside its directory"
        )
    path = root
    for part in parts:
        path = os.path.join(path, part)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            path = os.path.join(root, *parts)
            break  # the caller reports the missing file
        if stat.S_ISLNK(mode):
            raise UnsafePathError(f"{path} is a symbolic link")
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, os.path.realpath(path)]) != real_root:
        raise UnsafePathError(f"{path} resolves outside {root}")
    return path


def open_read(path: str) -> IO[bytes]:
    """Open a regular file for reading without following a symlink at ``path``.

    Raises:
        UnsafePathError: ``path`` is a symlink or not a regular file.
        OSError: as ``open`` (missing file, permissions).
    """
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise UnsafePathError(f"{path} is a symbolic link") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePathError(f"{path} is not a regular file")
    return os.fdopen(fd, "rb")


def read_bytes(path: str, limit: int | None = None) -> bytes:
    """The bytes of a regular file (no symlink), at most ``limit`` of them.

    Raises:
        UnsafePathError: a symlink, not a regular file, or over ``limit`` bytes.
    """
    with open_read(path) as f:
        size = os.fstat(f.fileno()).st_size
        if limit is not None and size > limit:
            raise UnsafePathError(f"{path} has {size} bytes, more than {limit}")
        return f.read()


def _temporary(path: str) -> tuple[str, int]:
    directory, name = os.path.split(os.path.abspath(path))
    for _ in range(100):
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
            return tmp, os.open(tmp, flags, 0o644)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", path)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """A file object whose content replaces ``path`` atomically on success.

    The temporary file is created exclusively beside ``path`` under a random name;
    on an exception it is removed and ``path`` is left as it was. A symlink at
    ``path`` is replaced, never written through.

    Args:
        path: the file to write.
        mode: ``"wb"`` or ``"w"`` (text, UTF-8).

    Example:
        >>> import tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "x.txt")
        >>> with atomic_writer(p, "w") as f:
        ...     _ = f.write("hi")
        >>> with open(p) as f:
        ...     f.read()
        'hi'
    """
    path = os.fspath(path)
    tmp, fd = _temporary(path)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.filename is None and err.errno:
            raise _named(err, path) from None
        raise


def _named(err: OSError, path: str) -> OSError:
    """``err`` with ``path`` as its file name (a failed write() names none)."""
    return type(err)(err.errno, err.strerror, path)


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Replace ``path`` with ``data`` atomically (see ``atomic_writer``).

    Example:
        >>> import tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "x.json")
        >>> atomic_write(p, "{}")
        >>> with open(p) as f:
        ...     f.read()
        '{}'
    """
    with atomic_writer(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def append_text(path: str | os.PathLike, text: str) -> None:
    """Append ``text`` to ``path`` (created if missing), never through a symlink.

    Raises:
        UnsafePathError: ``path`` is a symlink or not a regular file.
    """
    path = os.fspath(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise UnsafePathError(f"{path} is a symbolic link") from None
        raise
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafePathError(f"{path} is not a regular file")
        try:
            f.write(text)
            f.flush()
        except OSError as err:
            raise _named(err, path) from None
