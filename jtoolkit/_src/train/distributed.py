"""Data parallelism on ``jax.sharding``: meshes, placements and multi-process start.

One idea: the state is replicated (``NamedSharding(mesh, P())``), batches are split
on their leading axis over the mesh's data axis (``P("data")``), and XLA inserts the
gradient all-reduce. Several processes join through ``jax.distributed.initialize``
(JAX's own coordinator); each contributes its local rows of every global batch.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jtoolkit._src.train.runtime import (
    JobSetupError,
    agree_across_processes,
    check_port_free,
    install_fail_fast,
    install_preemption_handler,
    parse_coordinator_address,
    wait_for_coordinator,
)

__all__ = [
    "batch_sharding",
    "broadcast_from_primary",
    "check_divisible",
    "check_replicated",
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
    *,
    timeout_s: float | None = None,
    heartbeat_s: float | None = None,
    agree: Mapping[str, Any] | None = None,
) -> bool:
    """Join a multi-process run through ``jax.distributed.initialize``.

    The counterpart of ``torch.distributed.init_process_group`` (with torchrun's
    fail-fast and SIGTERM handling). Arguments left ``None`` come from
    ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` (set by
    ``python -m jtoolkit.launch``), else from JAX's own cluster detection (SLURM,
    Open MPI, Kubernetes). Must run before anything touches a JAX device.

    Once connected, the processes check that they agree on the process count, the
    jtoolkit version and ``agree`` (e.g. a hash of the configuration) through the
    coordinator's key-value store. An uncaught error in any process then ends that
    process at once with its traceback printed once (``install_fail_fast``), and
    SIGTERM becomes a request that ``preemption_requested()`` reports.

    Args:
        coordinator_address: ``"HOST:PORT"`` of process 0's coordinator.
        num_processes: processes in all.
        process_id: this process's rank, ``0 <= process_id < num_processes``.
        timeout_s: how long to wait for every process to connect and report
            (JAX's ``initialization_timeout``; default 300 s).
        heartbeat_s: after how long without a heartbeat a process counts as dead
            (JAX's ``heartbeat_timeout_seconds``; default 100 s).
        agree: more facts every process must state identically (JSON-able values).

    Returns:
        Whether a multi-process run was started (False: a single process).

    Raises:
        ValueError: a malformed or unresolvable address, a port outside 1-65535,
            process 0's coordinator port already in use, or a bad rank.
        JobSetupError: the coordinator was not reached within ``timeout_s``, or the
            processes disagree ("process 1 says num_processes=3, process 0 says
            2"). Uncaught, it prints that one line and exits 2.

    Example:
        >>> initialize_distributed()  # no launcher, no cluster: one process
        False
    """
    env = os.environ
    coordinator_address = coordinator_address or env.get("JAX_COORDINATOR_ADDRESS")
    if num_processes is None and env.get("JAX_NUM_PROCESSES"):
        num_processes = _env_int("JAX_NUM_PROCESSES", minimum=1)
    if process_id is None and env.get("JAX_PROCESS_ID"):
        process_id = _env_int("JAX_PROCESS_ID", minimum=0)
    for name, value in (("timeout_s", timeout_s), ("heartbeat_s", heartbeat_s)):
        if value is not None and not value > 0:
            raise ValueError(f"initialize_distributed: {name} must be > 0, got {value}")
    install_preemption_handler()
    if coordinator_address is None and num_processes is None and process_id is None:
        if not _cluster_detected():
            return False
    if num_processes == 1:
        return False
    _check_rank(process_id, num_processes)
    install_fail_fast(process_id or 0, num_processes or 1)
    if coordinator_address is not None:
        host, port = parse_coordinator_address(coordinator_address)
        if process_id == 0:
            check_port_free(port)
        else:
            wait_for_coordinator(host, port, timeout_s or _JAX_INIT_TIMEOUT_S)
    _connect(coordinator_address, num_processes, process_id, timeout_s, heartbeat_s)
    from jax._src import distributed as jax_distributed

    client = jax_distributed.global_state.client
    rank, count = jax.process_index(), jax.process_count()
    install_fail_fast(rank, count, client)
    said = num_processes or count  # what this process was told, not JAX's view
    facts = {"num_processes": said, "jtoolkit": _version(), **(agree or {})}
    agree_across_processes(
        facts,
        client=client,
        process_id=rank,
        num_processes=count,
        timeout_s=timeout_s or _JAX_INIT_TIMEOUT_S,
    )
    install_preemption_handler()  # over JAX's native one, which it then calls
    return True


_JAX_INIT_TIMEOUT_S = 300


def _env_int(name: str, minimum: int) -> int:
    text = os.environ[name]
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {text!r}")
    return value


def _check_rank(process_id: int | None, num_processes: int | None) -> None:
    if process_id is not None and process_id < 0:
        raise ValueError(f"process_id must be >= 0, got {process_id}")
    if num_processes is not None and num_processes < 1:
        raise ValueError(f"num_processes must be >= 1, got {num_processes}")
    if (
        process_id is not None
        and num_processes is not None
        and (process_id >= num_processes)
    ):
        raise ValueError(
            f"process_id {process_id} must be below num_processes {num_processes}"
        )


def _connect(address, num_processes, process_id, timeout_s, heartbeat_s) -> None:
    """``jax.distributed.initialize``, its failure to connect as one line."""
    options = {}
    if timeout_s is not None:
        options["initialization_timeout"] = max(1, math.ceil(timeout_s))
    if heartbeat_s is not None:
        options["heartbeat_timeout_seconds"] = max(1, math.ceil(heartbeat_s))
    try:
        jax.distributed.initialize(
            address, num_processes=num_processes, process_id=process_id, **options
        )
    except (RuntimeError, ValueError) as err:  # XlaRuntimeError is a RuntimeError
        text = str(err).strip()
        first = text.splitlines()[0] if text else type(err).__name__
        if isinstance(err, ValueError) and not text.startswith("coordinator"):
            raise
        waited = timeout_s or _JAX_INIT_TIMEOUT_S
        raise JobSetupError(
            f"process {process_id} of {num_processes} could not join the "
            f"coordinator at {address} within {waited:g} s; are all "
            f"{num_processes} processes started, with the same --num-processes? "
            f"({first[:200]})"
        ) from None


def _version() -> str:
    """The installed jtoolkit's version (``_src`` never imports the package root)."""
    from importlib import metadata

    try:
        return metadata.version("jtoolkit")
    except metadata.PackageNotFoundError:
        return "unknown"


def _cluster_detected() -> bool:
    """Whether JAX's auto-detection would find a multi-process cluster here."""
    env = os.environ
    slurm = int(env.get("SLURM_NTASKS", "1") or 1) > 1 and "SLURM_JOB_ID" in env
    ompi = int(env.get("OMPI_COMM_WORLD_SIZE", "1") or 1) > 1
    return slurm or ompi


# ------------------------------------------- replicated means replicated


def _host_copy(leaf: Any) -> np.ndarray | None:
    """This process's copy of a replicated leaf (None: sharded, or not an array)."""
    if isinstance(leaf, jax.Array):
        if jax.numpy.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        if not leaf.sharding.is_fully_replicated:
            return None
        return np.asarray(jax.device_get(leaf.addressable_data(0)))
    if isinstance(leaf, (np.ndarray, np.generic, int, float, bool, complex)):
        return np.asarray(leaf)
    return None


def _fingerprint(host: np.ndarray | None) -> np.ndarray:
    """Two uint32 words of a SHA-256 over dtype, shape and bytes (zeros: skipped)."""
    if host is None:
        return np.zeros(2, np.uint32)
    digest = hashlib.sha256(f"{host.dtype}{host.shape}".encode())
    digest.update(np.ascontiguousarray(host).tobytes())
    words = np.frombuffer(digest.digest()[:8], np.uint32).copy()
    words[0] |= 1  # never all zeros, so a skipped leaf cannot match a real one
    return words


def check_replicated(tree: Any, what: str = "state") -> None:
    """Raise unless every process holds the same values in ``tree``'s replicated
    leaves (DDP's guarantee: torch broadcasts rank 0's parameters at start).

    Each process hashes its copy of every fully replicated leaf (sharded leaves are
    skipped) and the hashes are all-gathered (``process_allgather``), so only 8
    bytes per leaf cross the network. A no-op with one process. Every process must
    call it (it is a collective).

    Args:
        tree: a pytree (a TrainState, a dict of arrays).
        what: how the error names ``tree``.

    Raises:
        ValueError: the first leaf whose values differ, by path, with the
            processes that disagree (e.g. models built from different seeds).

    Example:
        >>> check_replicated({"w": jnp.ones(3)})  # one process: nothing to compare
    """
    if jax.process_count() == 1:
        return
    from jax.experimental import multihost_utils

    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    paths, leaves = [p for p, _ in flat], [leaf for _, leaf in flat]
    counts = multihost_utils.process_allgather(np.array([len(leaves)], np.int32))
    if len(set(np.asarray(counts).ravel().tolist())) > 1:
        raise ValueError(
            f"check_replicated: the processes' {what} trees differ in structure "
            f"(leaf counts per process: {np.asarray(counts).ravel().tolist()})"
        )
    if not leaves:
        return
    mine = np.stack([_fingerprint(_host_copy(leaf)) for leaf in leaves])
    every = np.asarray(multihost_utils.process_allgather(mine))
    for index, path in enumerate(paths):
        differ = np.flatnonzero((every[:, index] != every[0, index]).any(axis=-1))
        if differ.size:
            raise ValueError(
                f"check_replicated: {what} leaf {jax.tree_util.keystr(path)} "
                f"differs between processes: process {int(differ[0])} holds other "
                "values than process 0 (different seeds or data at creation?); "
                "create it identically everywhere or broadcast_from_primary it"
            )


def broadcast_from_primary(tree: Any) -> Any:
    """Process 0's values of ``tree``'s replicated leaves, on every process.

    The counterpart of DDP's start-up broadcast of rank 0's parameters (and of
    ``torch.distributed.broadcast(t, src=0)``). Replicated ``jax.Array`` leaves
    keep their sharding; numpy leaves come back as numpy; sharded leaves and
    non-arrays are returned unchanged. With one process, ``tree`` is returned as is.
    Every process must call it (it is a collective).

    Example:
        >>> broadcast_from_primary({"w": jnp.ones(2)})["w"]
        Array([1., 1.], dtype=float32)
    """
    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils

    leaves, treedef = jax.tree.flatten(tree)
    hosts = [_host_copy(leaf) for leaf in leaves]
    picked = [h for h in hosts if h is not None]
    sent = [h.view(np.uint8) if h.dtype == np.bool_ else h for h in picked]
    received = iter(multihost_utils.broadcast_one_to_all(sent))
    out = []
    for leaf, host in zip(leaves, hosts, strict=True):
        if host is None:
            out.append(leaf)
            continue
        value = np.asarray(next(received)).astype(host.dtype).reshape(host.shape)
        out.append(_like(leaf, value))
    return jax.tree.unflatten(treedef, out)


def _like(leaf: Any, value: np.ndarray) -> Any:
    """``value`` placed as ``leaf`` was (a replicated jax.Array, a key, numpy)."""
    if not isinstance(leaf, jax.Array):
        return value if isinstance(leaf, np.ndarray) else type(leaf)(value.item())
    if jax.numpy.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        data = jax.random.key_data(leaf)
        placed = jax.make_array_from_callback(
            value.shape, data.sharding, lambda index: value[index]
        )
        return jax.random.wrap_key_data(placed, impl=jax.random.key_impl(leaf))
    return jax.make_array_from_callback(
        value.shape, leaf.sharding, lambda index: value[index]
    )
