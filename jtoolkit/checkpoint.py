"""Atomic, resumable checkpoints of a training state on orbax-checkpoint.

The twin of ``torch.save({"model": ..., "optimizer": ..., "epoch": ...}, path)`` and
``torch.load`` + ``load_state_dict``, for any pytree (typically a
``jtoolkit.train.TrainState``: model state, optimizer state, step, PRNG key), plus a
JSON item of host-side state (epoch, DataLoader position, ReduceLROnPlateau state,
metrics history) saved with the same step.

Each step is a directory ``<dir>/<step>`` written by an orbax ``Checkpointer``
into a temporary directory and renamed into place only when complete, so a crash
during a save leaves the previous checkpoint as the latest one (the unfinished
temporary directory is ignored). Saving over an existing step writes the new copy
completely before the old one goes: whenever a process is killed, one complete copy
is on disk. ``max_to_keep`` keeps the last N (enforced at every save;
``prune_checkpoints`` enforces it at start-up); ``all_steps`` and ``latest_step``
list what is there.

Every checkpoint carries a manifest with each array's tree path, shape, dtype and
SHA-256 and the ``extra`` item's SHA-256, and the size and SHA-256 of every file,
checked before orbax reads any of them. ``restore_checkpoint`` verifies them:
an explicit damaged ``step`` raises ``CheckpointCorruptError`` naming the path;
``step=None`` skips damaged or incomplete checkpoints with a warning naming them
and restores the newest intact one. A missing part (``extra/``) is damage.

Several processes (``jax.distributed``): EVERY process calls ``save_checkpoint``,
``restore_checkpoint`` and ``prune_checkpoints`` (orbax writes the shards, process
0 writes jtoolkit's files between barriers). A call from some processes only
(torch's ``if rank == 0: torch.save(...)``) raises ``CollectiveCallError`` after
``$JTOOLKIT_BARRIER_TIMEOUT_S`` seconds (60) instead of hanging. A restore lands on
the target's sharding, whatever topology saved the checkpoint.

One writer per directory: the first save (or prune) of a process takes an
``flock`` on ``<dir>/jtoolkit-writer.lock``; another process that writes there gets
``CheckpointLockedError`` naming the holder's pid and host. A file-system failure
(full disk, read-only file system, no permission, the directory removed) is a
``CheckpointWriteError``, an ``OSError`` naming the operation and path; the previous
step stays the latest. Nothing outside the directory is read or written (no
symlink followed, manifest paths checked); the checksums detect accidents, and
with ``$JTOOLKIT_CHECKPOINT_KEY`` set an HMAC detects edits too (docs/checkpoints.md).
"""

from jtoolkit._src.checkpoint.collective import CollectiveCallError
from jtoolkit._src.checkpoint.errors import CheckpointLockedError, CheckpointWriteError
from jtoolkit._src.checkpoint.integrity import CheckpointCorruptError
from jtoolkit._src.checkpoint.store import (
    all_steps,
    latest_step,
    prune_checkpoints,
    restore_checkpoint,
    save_checkpoint,
    wait_until_finished,
)

__all__ = [
    "CheckpointCorruptError",
    "CheckpointLockedError",
    "CheckpointWriteError",
    "CollectiveCallError",
    "all_steps",
    "latest_step",
    "prune_checkpoints",
    "restore_checkpoint",
    "save_checkpoint",
    "wait_until_finished",
]
