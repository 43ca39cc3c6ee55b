"""Checks the demo makes before the first epoch, so no run fails after training.

Output paths (``--plot``, ``--metrics-file``, ``--checkpoint-dir``) must be
writable, and a ``--resume`` checkpoint must be intact and made with the same
options (model, optimizer, ...), which are recorded next to the checkpoints in
``jtoolkit-demo.json``. Every failure is a ``UsageError``: exit 2, one line naming
the option or path and what to do.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

from jtoolkit._src.core.files import UnsafePathError, atomic_write, read_bytes
from jtoolkit._src.demo.config import DemoConfig, UsageError

__all__ = ["RUN_FILE", "check_outputs", "check_resume", "record_run", "run_options"]

RUN_FILE = "jtoolkit-demo.json"

# Options a resumed run must share with the run that wrote the checkpoint.
_SAME = (
    "dataset",
    "model",
    "optimizer",
    "lr",
    "scheduler",
    "batch_size",
    "seed",
    "precision",
    "val_split",
)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _writable_dir(option: str, directory: str) -> None:
    shown = directory or "."
    if not os.path.isdir(shown):
        raise UsageError(f"{option}: directory {shown} not found; create it first")
    if not os.access(shown, os.W_OK | os.X_OK):
        raise UsageError(f"{option}: directory {shown} is not writable")


def _output_file(option: str, path: str) -> None:
    if not path.strip() or path.endswith(("/", os.sep)):
        raise UsageError(f"{option} {path!r} is not a file name; give a file path")
    if os.path.islink(path):
        raise UsageError(
            f"{option} {path} is a symbolic link; give the path of a regular file"
        )
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a directory; give a file name")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UsageError(f"{option} {path} is not writable")
    _writable_dir(option, os.path.dirname(path))


def check_outputs(config: DemoConfig) -> None:
    """Every output path is usable (checked before any training)."""
    if config.plot is not None:
        _output_file("--plot", config.plot)
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError(
                "--plot needs matplotlib: pip install matplotlib, or drop --plot"
            ) from None
    if config.metrics_file is not None:
        _output_file("--metrics-file", config.metrics_file)
    directory = config.checkpoint_dir
    if directory is None:
        return
    if not directory.strip():
        raise UsageError(
            f"--checkpoint-dir {directory!r} is not a directory name; give a path"
        )
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise UsageError(
            f"--checkpoint-dir {directory} is a file, not a directory; pass a "
            "directory path"
        )
    if config.resume and not os.path.isdir(directory):
        raise UsageError(f"--resume: checkpoint directory {directory} not found")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as err:
        raise UsageError(
            f"--checkpoint-dir {directory} cannot be created ({err.strerror})"
        ) from None
    _writable_dir("--checkpoint-dir", directory)
    _lock(directory)


def _lock(directory: str) -> None:
    """Take the directory's writer lock (process 0): a second run exits 2 here."""
    import jax

    from jtoolkit._src.checkpoint.errors import CheckpointWriteError
    from jtoolkit._src.checkpoint.lock import hold_writer_lock

    if jax.process_index() != 0:
        return
    try:
        hold_writer_lock(directory)
    except CheckpointWriteError as err:
        raise UsageError(f"--checkpoint-dir: {err}") from None


def run_options(config: DemoConfig, lr: float) -> dict[str, Any]:
    """The options a resumed run must repeat (``lr`` as resolved)."""
    return {**{k: getattr(config, k) for k in _SAME}, "lr": lr}


def record_run(config: DemoConfig, lr: float) -> None:
    """Write the run's options next to its checkpoints (for ``--resume`` checks).

    Process 0 writes it (the processes of a run share the directory).
    """
    import jax

    if config.checkpoint_dir is None or jax.process_index() != 0:
        return
    path = os.path.join(config.checkpoint_dir, RUN_FILE)
    atomic_write(path, json.dumps(run_options(config, lr), sort_keys=True))


def _check_options(config: DemoConfig, directory: str, lr: float) -> None:
    path = os.path.join(directory, RUN_FILE)
    try:
        saved = json.loads(read_bytes(path, limit=1 << 20).decode())
    except FileNotFoundError:
        return  # written by an older version or by fit directly: shapes decide
    except (OSError, ValueError, UnsafePathError):
        raise UsageError(
            f"--resume: {path} is damaged; delete it to resume anyway"
        ) from None
    now = run_options(config, lr)
    diff = [k for k in _SAME if k in saved and saved[k] != now[k]]
    if diff:
        said = ", ".join(f"{_flag(k)} {saved[k]}" for k in diff)
        got = ", ".join(f"{_flag(k)} {now[k]}" for k in diff)
        raise UsageError(
            f"--resume: the checkpoint in {config.checkpoint_dir} was made with "
            f"{said} (now {got}); pass the same options or a new --checkpoint-dir"
        )


def check_resume(config: DemoConfig, state: Any, lr: float, log) -> tuple[int, list]:
    """``(epoch, history)`` ``fit(resume=True)`` will continue from.

    ``(0, [])`` without ``--resume``.

    Restores the newest intact checkpoint into ``state`` once, so damage and a
    mismatched model or optimizer are reported before the first epoch; skipped
    damaged checkpoints are logged as one warning line.
    """
    from jtoolkit._src.checkpoint.integrity import CheckpointCorruptError
    from jtoolkit._src.checkpoint.store import latest_step, restore_checkpoint

    if not config.resume:
        return 0, []
    directory = config.checkpoint_dir
    if directory is None:  # the CLI refuses this; a DemoConfig built by hand may not
        raise UsageError("--resume needs --checkpoint-dir DIR")
    if latest_step(directory) is None:
        raise UsageError(
            f"--resume: no checkpoint in {directory}; run without --resume"
        )
    _check_options(config, directory, lr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            _, extra = restore_checkpoint(directory, state, with_extra=True)
        except CheckpointCorruptError as err:
            raise UsageError(
                f"--resume: {err}; delete {directory} to start afresh"
            ) from None
        except ValueError as err:
            raise UsageError(
                f"--resume: the checkpoint in {directory} does not fit --model "
                f"{config.model} --optimizer {config.optimizer} ({err}); pass the "
                "options it was made with or a new --checkpoint-dir"
            ) from None
    for w in caught:
        log(f"jtoolkit.train: warning: {w.message}")
    if not isinstance(extra, dict) or not isinstance(extra.get("epoch"), int):
        raise UsageError(
            f"--resume: the newest intact checkpoint in {directory} has no epoch "
            "(not written by this demo); pass a new --checkpoint-dir"
        )
    epoch = extra["epoch"]
    if epoch > config.epochs:
        raise UsageError(
            f"--epochs {config.epochs}: the checkpoint in {directory} is already at "
            f"epoch {epoch}; pass --epochs {epoch} or more"
        )
    return epoch, list(extra.get("history", []))
