"""The step directories of a checkpoint directory: listing, safe rewrite, retention.

A step lives in ``<dir>/<step>``. Every save writes the new copy to
``<step>.jtoolkit-new`` first (orbax's own temporary-then-rename makes it appear
only when complete; it counts once its file checksums are written), then swaps it
in through ``<step>.jtoolkit-old``, which is deleted last. Whatever moment a
process is killed at, one complete copy of the step is on disk; readers pick it
(``step_paths``) and the next save tidies up (``recover``). Old steps are renamed
to ``<step>.jtoolkit-trash`` before deletion, so a half-deleted step never looks
like a checkpoint.
"""

from __future__ import annotations

import os
import re
import shutil

from jtoolkit._src.checkpoint.integrity import FILES

__all__ = ["NEW", "OLD", "prune", "recover", "replace_step", "step_paths"]

NEW, OLD, TRASH = ".jtoolkit-new", ".jtoolkit-old", ".jtoolkit-trash"
_NAME = re.compile(r"^(\d+)(\.jtoolkit-new|\.jtoolkit-old)?$")


def step_paths(directory: str) -> dict[int, str]:
    """``{step: path}`` of every step directory (complete or not), read-only.

    For a step caught mid-rewrite the complete copy is chosen: ``<step>``, else
    ``<step>.jtoolkit-new`` (once its checksums are written), else
    ``<step>.jtoolkit-old``.
    """
    if not os.path.isdir(directory):
        return {}
    found: dict[int, dict[str, str]] = {}
    for name in os.listdir(directory):
        m = _NAME.match(name)
        path = os.path.join(directory, name)
        if not (m and os.path.isdir(path)):
            continue
        if m.group(2) == NEW and not os.path.isfile(os.path.join(path, FILES)):
            continue  # a save that never finished: not a checkpoint
        found.setdefault(int(m.group(1)), {})[m.group(2) or ""] = path
    return {
        step: next(kinds[k] for k in ("", NEW, OLD) if k in kinds)
        for step, kinds in found.items()
    }


def recover(directory: str) -> None:
    """Finish or undo interrupted rewrites and deletions (writers only)."""
    if not os.path.isdir(directory):
        return
    names = set(os.listdir(directory))
    for name in sorted(names):
        path = os.path.join(directory, name)
        if name.endswith(TRASH) or ".orbax-checkpoint-tmp" in name:
            shutil.rmtree(path, ignore_errors=True)
    for step, path in step_paths(directory).items():
        final = os.path.join(directory, str(step))
        if path != final:
            os.replace(path, final)
        for suffix in (NEW, OLD):
            if os.path.isdir(final + suffix):
                _delete(final + suffix)
    for name in os.listdir(directory):  # saves that never finished
        m = _NAME.match(name)
        if m and m.group(2) and os.path.isdir(os.path.join(directory, name)):
            _delete(os.path.join(directory, name))


def _delete(path: str) -> None:
    trash = path + TRASH
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def replace_step(directory: str, step: int) -> None:
    """Swap a complete ``<step>.jtoolkit-new`` in for ``<step>``."""
    final = os.path.join(directory, str(step))
    if os.path.isdir(final):
        os.replace(final, final + OLD)
    os.replace(final + NEW, final)
    if os.path.isdir(final + OLD):
        _delete(final + OLD)


def prune(directory: str, keep: int | None, protect: int | None = None) -> list[int]:
    """Delete all but the newest ``keep`` steps (and ``protect``); returns deleted."""
    if keep is None:
        return []
    steps = sorted(step_paths(directory), reverse=True)
    doomed = [s for s in steps[keep:] if s != protect]
    for step in doomed:
        _delete(step_paths(directory)[step])
    return doomed
