"""Checkpoints across processes: every process calls, process 0 touches the files.

orbax coordinates the array write itself; jtoolkit's own file steps (checksums,
the atomic swap of a step directory, retention) run on process 0 only, between two
barriers, so no process reads or writes a half-finished step. A barrier that the
other processes do not reach in time means a save or restore was called from some
processes only (torch's ``if rank == 0: torch.save(...)`` habit): that raises a
clear error instead of hanging.
"""

from __future__ import annotations

import itertools
import os

import jax
import jax._src.distributed  # the coordination client (no public API)

__all__ = ["CollectiveCallError", "barrier", "is_primary"]

_COUNTER = itertools.count()


class CollectiveCallError(RuntimeError):
    """A checkpoint call that not every process of a multi-process run made."""


def is_primary() -> bool:
    """True in process 0, the one that writes jtoolkit's checkpoint files."""
    return jax.process_index() == 0


def _timeout_ms() -> int:
    return int(float(os.environ.get("JTOOLKIT_BARRIER_TIMEOUT_S", "60")) * 1000)


def barrier(what: str, where: str) -> None:
    """Wait until every process reaches this point (no-op with one process).

    Raises:
        CollectiveCallError: the others did not come within
            ``$JTOOLKIT_BARRIER_TIMEOUT_S`` seconds (default 60).
    """
    if jax.process_count() == 1:
        return
    name = f"jtoolkit:{what}:{next(_COUNTER)}"
    client = jax._src.distributed.global_state.client
    if client is None:
        raise CollectiveCallError(
            f"{what}: {jax.process_count()} processes but no jax.distributed client "
            "to wait on; call jtoolkit.train.initialize_distributed() first"
        )
    try:
        client.wait_at_barrier(name, _timeout_ms())
    except Exception as err:  # the client's own error type is not public
        raise CollectiveCallError(
            f"{what}: process {jax.process_index()} waited "
            f"{_timeout_ms() / 1000:g} s at {where} for the other "
            f"{jax.process_count() - 1} process(es). In a multi-process run every "
            f"process must call {what} (not only process 0, as torch code does with "
            "`if rank == 0:`); orbax writes the shards and jtoolkit's files "
            "together"
        ) from err
