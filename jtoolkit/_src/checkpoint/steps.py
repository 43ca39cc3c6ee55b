"""The step directories of a checkpoint directory: listing, safe rewrite, retention.

A step lives in ``<dir>/<step>``, its name ASCII digits only (``[0-9]+``: a name
such as ``"٣"`` that ``int()`` would also read is ignored with a warning, as is a
step name that is a symlink). Every save writes the new copy to
``<step>.jtoolkit-new`` first (orbax's own temporary-then-rename makes it appear
only when complete; it counts once its file checksums are written), then swaps it
in through ``<step>.jtoolkit-old``, which is deleted last. Whatever moment a
process is killed at, one complete copy of the step is on disk; readers pick it
(``step_paths``) and the next save tidies up (``recover``). Old steps are renamed
to ``<step>.jtoolkit-trash`` before deletion, so a half-deleted step never looks
like a checkpoint. Nothing here follows a symlink: one at a temporary name is
removed (the link, not what it points to).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import time
import warnings

from jtoolkit._src.checkpoint.integrity import FILES

__all__ = ["NEW", "OLD", "prune", "recover", "replace_step", "step_paths"]

NEW, OLD, TRASH = ".jtoolkit-new", ".jtoolkit-old", ".jtoolkit-trash"
_NAME = re.compile(r"^([0-9]+)(\.jtoolkit-new|\.jtoolkit-old)?$")
_LOOKALIKE = re.compile(r"^\d+(\.jtoolkit-new|\.jtoolkit-old)?$")  # any Unicode digit


def _mode(path: str) -> int:
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


def _entries(directory: str) -> list[tuple[re.Match, str]]:
    """``(match, path)`` of the step-like directories, warning about look-alikes."""
    out = []
    for name in sorted(os.listdir(directory)):
        m = _NAME.match(name)
        path = os.path.join(directory, name)
        if m is None:
            if _LOOKALIKE.match(name):
                warnings.warn(
                    f"{path} is not a checkpoint step: step names are ASCII digits "
                    "0-9; ignored",
                    UserWarning,
                    stacklevel=3,
                )
            continue
        mode = _mode(path)
        if stat.S_ISLNK(mode):
            warnings.warn(
                f"{path} is a symbolic link, not a checkpoint step: ignored",
                UserWarning,
                stacklevel=3,
            )
            continue
        if stat.S_ISDIR(mode):
            out.append((m, path))
    return out


def step_paths(directory: str) -> dict[int, str]:
    """``{step: path}`` of every step directory (complete or not), read-only.

    For a step caught mid-rewrite the complete copy is chosen: ``<step>``, else
    ``<step>.jtoolkit-new`` (once its checksums are written), else
    ``<step>.jtoolkit-old``.
    """
    if not os.path.isdir(directory):
        return {}
    found: dict[int, dict[str, str]] = {}
    for m, path in _entries(directory):
        if m.group(2) == NEW and not stat.S_ISREG(_mode(os.path.join(path, FILES))):
            continue  # a save that never finished: not a checkpoint
        found.setdefault(int(m.group(1)), {})[m.group(2) or ""] = path
    return {
        step: next(kinds[k] for k in ("", NEW, OLD) if k in kinds)
        for step, kinds in found.items()
    }


def _is_temporary(name: str) -> bool:
    return name.endswith(TRASH) or ".orbax-checkpoint-tmp" in name


def recover(directory: str) -> None:
    """Finish or undo interrupted rewrites and deletions (the lock holder only)."""
    if not os.path.isdir(directory):
        return
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if _is_temporary(name) or (
            (name.endswith(NEW) or name.endswith(OLD)) and stat.S_ISLNK(_mode(path))
        ):
            _remove(path)
    with warnings.catch_warnings():  # step_paths warns the readers
        warnings.simplefilter("ignore")
        for step, path in step_paths(directory).items():
            final = os.path.join(directory, str(step))
            if path != final:
                os.replace(path, final)
            for suffix in (NEW, OLD):
                if stat.S_ISDIR(_mode(final + suffix)):
                    _delete(final + suffix)
        for m, path in _entries(directory):  # saves that never finished
            if m.group(2):
                _delete(path)


_REMOVE_TRIES = 20  # a tree still being written to: up to ~2 s of retries


def _remove(path: str) -> None:
    """Remove a file, symlink (the link itself) or directory tree.

    A failed save can return while orbax's writer threads still finish files in
    its temporary directory (seen on a full file system under load): a file
    created during ``rmtree`` leaves a directory not empty, so the tree is removed
    again until it is gone (or left for the next save's tidy-up; readers ignore
    it either way).
    """
    if stat.S_ISDIR(_mode(path)):
        for attempt in range(_REMOVE_TRIES):
            shutil.rmtree(path, ignore_errors=True)
            if not os.path.lexists(path):
                return
            time.sleep(0.01 * (attempt + 1))
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _delete(path: str) -> None:
    trash = path + TRASH
    os.replace(path, trash)
    _remove(trash)


def replace_step(directory: str, step: int) -> None:
    """Swap a complete ``<step>.jtoolkit-new`` in for ``<step>``."""
    final = os.path.join(directory, str(step))
    if os.path.lexists(final):
        os.replace(final, final + OLD)
    os.replace(final + NEW, final)
    if os.path.lexists(final + OLD):
        _delete(final + OLD)


def prune(directory: str, keep: int | None, protect: int | None = None) -> list[int]:
    """Delete all but the newest ``keep`` steps (and ``protect``); returns deleted."""
    if keep is None:
        return []
    found = step_paths(directory)
    steps = sorted(found, reverse=True)
    doomed = [s for s in steps[keep:] if s != protect]
    for step in doomed:
        _delete(found[step])
    return doomed
