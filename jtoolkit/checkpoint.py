"""Atomic, resumable checkpoints of a training state on orbax-checkpoint.

The twin of ``torch.save({"model": ..., "optimizer": ..., "epoch": ...}, path)`` and
``torch.load`` + ``load_state_dict``, for any pytree (typically a
``jtoolkit.train.TrainState``: model state, optimizer state, step, PRNG key), plus a
JSON item of host-side state (epoch, DataLoader position, ReduceLROnPlateau state,
metrics history) saved with the same step.

Each save goes through orbax's ``CheckpointManager``: it is written to a temporary
directory and renamed into place only when complete, so a crash during a save leaves
the previous checkpoint as the latest one (the unfinished temporary directory is
ignored). ``max_to_keep`` keeps the last N.
"""

from jtoolkit._src.checkpoint.store import (
    all_steps,
    latest_step,
    restore_checkpoint,
    save_checkpoint,
)

__all__ = [
    "all_steps",
    "latest_step",
    "restore_checkpoint",
    "save_checkpoint",
]
