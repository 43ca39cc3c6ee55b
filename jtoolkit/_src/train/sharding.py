"""Where each leaf of a state lives on a mesh: replicated, FSDP, or a layout map.

One rule, public as ``state_shardings(state, mesh, policy)``, so a user can see (and
test) the placement a policy gives before training with it:

- ``"replicated"``: every leaf whole on every device (torch's DDP).
- ``"fsdp"``: each leaf of at least ``min_size`` elements is split over the data
  axis along its largest dimension that divides by the axis size (torch's
  ``FullyShardedDataParallel``); smaller or indivisible leaves stay replicated.
- a mapping ``{path regex: PartitionSpec}`` (Keras's ``LayoutMap``): the first
  pattern that ``re.search``-es a leaf's ``/``-joined path gives its spec; leaves
  that match nothing are replicated. Every mesh axis must be used by some leaf or
  by the data axis, so a mesh axis never silently duplicates work.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jtoolkit._src.train.distributed import DATA_AXIS, resolve_mesh

__all__ = ["state_shardings"]


def _path(keys: tuple) -> str:
    """``("fc1", "kernel", "value")``-style key path as ``"fc1/kernel/value"``."""
    parts = []
    for key in keys:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
        else:
            parts.append(str(key))
    return "/".join(parts)


def _fsdp_spec(shape: tuple[int, ...], axis: str, size: int, min_size: int):
    """Split the largest dimension divisible by ``size``; else replicate."""
    count = 1
    for d in shape:
        count *= d
    if size <= 1 or count < min_size:
        return PartitionSpec()
    order = sorted(range(len(shape)), key=lambda i: (-shape[i], i))
    for dim in order:
        if shape[dim] % size == 0:
            return PartitionSpec(*([None] * dim), axis)
    return PartitionSpec()


def _check_specs(layout: Mapping[str, PartitionSpec], mesh: Mesh) -> None:
    for pattern, spec in layout.items():
        if not isinstance(spec, PartitionSpec):
            raise TypeError(
                f"state_shardings: layout[{pattern!r}] must be a "
                f"jax.sharding.PartitionSpec, got {type(spec).__name__}"
            )
        for entry in spec:
            names = entry if isinstance(entry, tuple) else (entry,)
            for name in names:
                if name is not None and name not in mesh.axis_names:
                    raise ValueError(
                        f"state_shardings: layout[{pattern!r}] names mesh axis "
                        f"{name!r}, but the mesh has {tuple(mesh.axis_names)}"
                    )


def _check_idle(mesh: Mesh, used: set) -> None:
    idle = [a for a in mesh.axis_names if a != DATA_AXIS and a not in used]
    if idle:
        raise ValueError(
            f"state_shardings: mesh axis {idle[0]!r} (size {mesh.shape[idle[0]]}) "
            "shards no leaf of the state, so every device along it would do the "
            "same work; name it in a layout PartitionSpec or drop it from the mesh"
        )


def state_shardings(
    state: Any,
    mesh: Any,
    policy: str | Mapping[str, PartitionSpec] = "replicated",
    *,
    min_size: int = 1024,
) -> Any:
    """The ``NamedSharding`` of every leaf of ``state`` under ``policy``.

    torch counterpart: the placement ``DistributedDataParallel`` (replicated) or
    ``FullyShardedDataParallel`` (``"fsdp"``) gives parameters and optimizer state;
    a layout map is Keras's ``LayoutMap`` for tensor parallelism.

    Args:
        state: any pytree of arrays (a ``TrainState``, parameters, optimizer state).
        mesh: a ``jax.sharding.Mesh`` or ``"auto"`` (every device on ``"data"``).
        policy: ``"replicated"``, ``"fsdp"``, or a mapping from path regex to
            ``PartitionSpec`` (paths are the pytree keys joined by ``/``).
        min_size: ``"fsdp"`` only: leaves with fewer elements stay replicated.

    Returns:
        A pytree like ``state`` whose leaves are ``NamedSharding``s (use it with
        ``jax.device_put(state, shardings)`` or as ``jit``'s ``out_shardings``).

    Raises:
        ValueError: an unknown policy, a layout naming an axis the mesh lacks, or a
            mesh axis other than ``"data"`` that no leaf uses.
        TypeError: a layout value that is not a ``PartitionSpec``.

    Example:
        >>> import numpy as np
        >>> from jax.sharding import Mesh
        >>> mesh = Mesh(np.array(jax.devices()[:1]), ("data",))
        >>> tree = {"w": jnp.zeros((2048, 4)), "b": jnp.zeros(4)}
        >>> specs = state_shardings(tree, mesh, "fsdp")
        >>> specs["w"].spec, specs["b"].spec
        (P(), P())
    """
    mesh = resolve_mesh(mesh)
    if mesh is None:
        raise ValueError("state_shardings: mesh must be a Mesh or 'auto', got None")
    axis = DATA_AXIS if DATA_AXIS in mesh.axis_names else mesh.axis_names[0]
    size = int(mesh.shape[axis])
    if isinstance(policy, str):
        if policy not in ("replicated", "fsdp"):
            raise ValueError(
                "state_shardings: policy must be 'replicated', 'fsdp' or a "
                f"{{path regex: PartitionSpec}} mapping, got {policy!r}"
            )
        _check_idle(mesh, set())
        if policy == "replicated":
            return jax.tree.map(lambda _: NamedSharding(mesh, PartitionSpec()), state)
        return jax.tree.map(
            lambda leaf: NamedSharding(
                mesh, _fsdp_spec(tuple(jax.numpy.shape(leaf)), axis, size, min_size)
            ),
            state,
        )
    _check_specs(policy, mesh)
    compiled = [(re.compile(p), spec) for p, spec in policy.items()]
    used: set[str] = set()

    def place(keys: tuple, leaf: Any) -> NamedSharding:
        path = _path(keys)
        for pattern, spec in compiled:
            if pattern.search(path):
                for entry in spec:
                    names = entry if isinstance(entry, tuple) else (entry,)
                    used.update(n for n in names if n is not None)
                return NamedSharding(mesh, spec)
        return NamedSharding(mesh, PartitionSpec())

    out = jax.tree_util.tree_map_with_path(place, state)
    _check_idle(mesh, used)
    return out
