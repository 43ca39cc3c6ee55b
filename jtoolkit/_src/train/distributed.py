"""Data parallelism on ``jax.sharding``: meshes, placements and multi-process start.

One idea: the state is replicated (``NamedSharding(mesh, P())``), batches are split
on their leading axis over the mesh's data axis (``P("data")``), and XLA inserts the
gradient all-reduce. Several processes join through ``jax.distributed.initialize``
(JAX's own coordinator); each contributes its local rows of every global batch.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = [
    "batch_sharding",
    "check_divisible",
    "data_axis_size",
    "initialize_distributed",
    "is_primary",
    "place_replicated",
    "replicated",
    "resolve_mesh",
]

DATA_AXIS = "data"


def resolve_mesh(mesh: Any) -> Mesh | None:
    """``None`` stays ``None``; ``"auto"`` is every device on one ``"data"`` axis.

    Example:
        >>> resolve_mesh("auto").axis_names
        ('data',)
    """
    if mesh is None or isinstance(mesh, Mesh):
        return mesh
    if isinstance(mesh, str) and mesh == "auto":
        return Mesh(np.array(jax.devices()), (DATA_AXIS,))
    raise TypeError(
        f"mesh must be None, 'auto' or a jax.sharding.Mesh, got {type(mesh).__name__}"
    )


def _data_axes(mesh: Mesh) -> str | tuple[str, ...]:
    """The axis the batch is split on: ``"data"`` if the mesh has it, else all."""
    if DATA_AXIS in mesh.axis_names:
        return DATA_AXIS
    return tuple(mesh.axis_names)


def data_axis_size(mesh: Mesh) -> int:
    """How many shards a batch is split into."""
    axes = _data_axes(mesh)
    names = (axes,) if isinstance(axes, str) else axes
    return int(np.prod([mesh.shape[name] for name in names]))


def batch_sharding(mesh: Mesh, axis: int = 0) -> NamedSharding:
    """Split the batch axis (``axis``: 0, or 1 for stacked groups) over the data
    axis; the other axes replicated."""
    return NamedSharding(mesh, PartitionSpec(*([None] * axis), _data_axes(mesh)))


def replicated(mesh: Mesh) -> NamedSharding:
    """The same full copy on every device of ``mesh``."""
    return NamedSharding(mesh, PartitionSpec())


def place_replicated(tree: Any, mesh: Mesh) -> Any:
    """``tree`` replicated over ``mesh`` (a no-op for leaves already placed so).

    With several processes every process holds the same values (same seed), and
    each contributes its addressable copies.
    """
    target = replicated(mesh)

    def place(x: Any) -> Any:
        if not isinstance(x, jax.Array) or x.sharding == target:
            return x
        if jax.process_count() == 1:
            return jax.device_put(x, target)
        if jax.numpy.issubdtype(x.dtype, jax.dtypes.prng_key):
            impl = jax.random.key_impl(x)
            return jax.random.wrap_key_data(place(jax.random.key_data(x)), impl=impl)
        if not x.is_fully_addressable:
            raise ValueError(
                "a state leaf spans devices of other processes with another "
                "sharding; restore it with a target that carries the mesh's sharding"
            )
        host = np.asarray(jax.device_get(x))
        return jax.make_array_from_callback(host.shape, target, lambda i: host[i])

    return jax.tree.map(place, tree)


def check_divisible(rows: int, mesh: Mesh, what: str = "batch") -> None:
    """ValueError naming the sizes that would work when ``rows`` does not split."""
    shards = data_axis_size(mesh)
    if rows % shards:
        low = max(shards, rows - rows % shards)
        raise ValueError(
            f"the global {what} of {rows} rows does not split over the mesh's "
            f"{shards} data shards; use a batch size divisible by {shards} (e.g. "
            f"{low} or {low + shards})"
        )


def is_primary() -> bool:
    """True in process 0 (the one that prints and writes files)."""
    return jax.process_index() == 0


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> bool:
    """Join a multi-process run through ``jax.distributed.initialize``.

    Arguments left ``None`` come from ``JAX_COORDINATOR_ADDRESS``,
    ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` (set by ``python -m
    jtoolkit.launch``), else from JAX's own cluster detection (SLURM, Open MPI,
    Kubernetes). Must run before anything touches a JAX device. Returns whether a
    multi-process run was started (False: a single process, nothing to do).

    Example:
        >>> initialize_distributed()  # no launcher, no cluster: one process
        False
    """
    env = os.environ
    coordinator_address = coordinator_address or env.get("JAX_COORDINATOR_ADDRESS")
    if num_processes is None and env.get("JAX_NUM_PROCESSES"):
        num_processes = int(env["JAX_NUM_PROCESSES"])
    if process_id is None and env.get("JAX_PROCESS_ID"):
        process_id = int(env["JAX_PROCESS_ID"])
    if coordinator_address is None and num_processes is None and process_id is None:
        if not _cluster_detected():
            return False
    if num_processes == 1:
        return False
    jax.distributed.initialize(
        coordinator_address, num_processes=num_processes, process_id=process_id
    )
    return True


def _cluster_detected() -> bool:
    """Whether JAX's auto-detection would find a multi-process cluster here."""
    env = os.environ
    slurm = int(env.get("SLURM_NTASKS", "1") or 1) > 1 and "SLURM_JOB_ID" in env
    ompi = int(env.get("OMPI_COMM_WORLD_SIZE", "1") or 1) > 1
    return slurm or ompi
