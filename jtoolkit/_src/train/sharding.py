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

Under every policy, parameters annotated with ``nnx.with_partitioning`` (read from
a ``ModelState``'s ``GraphDef``) keep their annotation, and the optimizer-state
leaves that mirror them (Adam's moments: same path suffix, same shape) follow it;
a layout pattern that matches a leaf wins over its annotation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jtoolkit._src.train.distributed import DATA_AXIS, resolve_mesh
from jtoolkit._src.train.model_state import ModelState

__all__ = ["check_policy", "place_state", "state_shardings"]

Policy = str | Mapping[str, PartitionSpec] | None


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


def _axis_names(spec: PartitionSpec) -> list[str]:
    names: list[str] = []
    for entry in spec:
        names += [n for n in (entry if isinstance(entry, tuple) else (entry,)) if n]
    return names


def _check_axes(spec: PartitionSpec, mesh: Mesh, what: str) -> None:
    for name in _axis_names(spec):
        if name not in mesh.axis_names:
            raise ValueError(
                f"state_shardings: {what} names mesh axis {name!r}, but the mesh "
                f"has {tuple(mesh.axis_names)}"
            )


def check_policy(policy: Policy) -> Policy:
    """``policy`` if it is None, ``"replicated"``, ``"fsdp"`` or a layout map.

    Raises:
        ValueError: an unknown string.
        TypeError: a layout value that is not a ``PartitionSpec``, or another type.
    """
    if policy is None or (isinstance(policy, str) and policy in _POLICIES):
        return policy
    if isinstance(policy, Mapping):
        for pattern, spec in policy.items():
            if not isinstance(spec, PartitionSpec):
                raise TypeError(
                    f"state_shardings: layout[{pattern!r}] must be a "
                    f"jax.sharding.PartitionSpec, got {type(spec).__name__}"
                )
        return policy
    if isinstance(policy, str):
        raise ValueError(
            "state_shardings: policy must be 'replicated', 'fsdp' or a "
            f"{{path regex: PartitionSpec}} mapping, got {policy!r}"
        )
    raise TypeError(
        "shard/policy must be None, 'replicated', 'fsdp' or a {path regex: "
        f"PartitionSpec}} mapping, got {type(policy).__name__}"
    )


_POLICIES = ("replicated", "fsdp")


def _check_idle(mesh: Mesh, used: set) -> None:
    if DATA_AXIS not in mesh.axis_names:
        return  # the batch is split over every axis of such a mesh
    idle = [a for a in mesh.axis_names if a != DATA_AXIS and a not in used]
    if idle:
        raise ValueError(
            f"state_shardings: mesh axis {idle[0]!r} (size {mesh.shape[idle[0]]}) "
            "shards no leaf of the state, so every device along it would do the "
            "same work; name it in a layout PartitionSpec (or an "
            "nnx.with_partitioning annotation) or drop it from the mesh"
        )


def _is_model(node: Any) -> bool:
    return isinstance(node, ModelState)


def _annotated(state: Any) -> dict[str, tuple[PartitionSpec, tuple]]:
    """``{path inside the model: (spec, shape)}`` of the ``nnx.with_partitioning``
    annotations of every ``ModelState`` in ``state`` (trace-safe: reads metadata)."""
    found: dict[str, tuple[PartitionSpec, tuple]] = {}
    nodes = jax.tree_util.tree_flatten_with_path(state, is_leaf=_is_model)[0]
    for _, node in nodes:
        if not isinstance(node, ModelState):
            continue
        module = nnx.merge(node.graphdef, node.variables)
        variables = nnx.state(module)
        specs = nnx.to_pure_dict(nnx.get_partition_spec(variables))
        shapes = jax.tree.map(jax.numpy.shape, node.variables)
        flat = jax.tree_util.tree_flatten_with_path(
            specs, is_leaf=lambda x: isinstance(x, PartitionSpec)
        )[0]
        for keys, spec in flat:
            if isinstance(spec, PartitionSpec) and len(spec):
                at = shapes
                for key in keys:
                    at = at[key.key]
                found[_path(keys)] = (spec, tuple(at))
    return found


def _annotation_of(path: str, shape: tuple, found: dict) -> PartitionSpec | None:
    """The annotation of the longest annotated path that ``path`` ends with (same
    shape): a parameter's own, or the one of the parameter an optimizer moment
    mirrors."""
    best, best_len = None, -1
    for rel, (spec, like) in found.items():
        if like == shape and (path == rel or path.endswith("/" + rel)):
            if len(rel) > best_len:
                best, best_len = spec, len(rel)
    return best


def _check_divisible(path: str, shape: tuple, spec: PartitionSpec, mesh: Mesh):
    if len(spec) > len(shape):
        raise ValueError(
            f"state_shardings: {spec} has {len(spec)} entries but leaf {path!r} "
            f"has shape {shape}"
        )
    for dim, entry in enumerate(spec):
        names = [n for n in (entry if isinstance(entry, tuple) else (entry,)) if n]
        parts = int(np.prod([mesh.shape[n] for n in names])) if names else 1
        if shape[dim] % parts:
            raise ValueError(
                f"state_shardings: leaf {path!r} of shape {shape} cannot take "
                f"{spec}: dimension {dim} ({shape[dim]}) does not divide by "
                f"{parts} ({'x'.join(names)}); pick a dimension that does"
            )


def state_shardings(
    state: Any,
    mesh: Any,
    policy: Policy = "replicated",
    *,
    min_size: int = 1024,
) -> Any:
    """The ``NamedSharding`` of every leaf of ``state`` under ``policy``.

    torch counterpart: the placement ``DistributedDataParallel`` (replicated) or
    ``FullyShardedDataParallel`` (``"fsdp"``) gives parameters and optimizer state;
    a layout map is Keras's ``LayoutMap`` for tensor parallelism.

    Args:
        state: any pytree of arrays or ``jax.ShapeDtypeStruct``s (a ``TrainState``,
            parameters, optimizer state).
        mesh: a ``jax.sharding.Mesh`` or ``"auto"`` (every device on ``"data"``).
        policy: ``"replicated"`` (or None), ``"fsdp"``, or a mapping from path
            regex to ``PartitionSpec`` (paths are the pytree keys joined by ``/``,
            e.g. ``"model/0/fc1/kernel"``, ``"opt_state/0/mu/fc1/kernel"``: an
            unanchored ``"fc1/kernel$"`` places a parameter and its moments).
        min_size: ``"fsdp"`` only: leaves with fewer elements stay replicated.

    Returns:
        A pytree like ``state`` whose leaves are ``NamedSharding``s (use it with
        ``jax.device_put(state, shardings)`` or as ``jit``'s ``out_shardings``).

    Raises:
        ValueError: an unknown policy, a spec naming an axis the mesh lacks or
            not dividing its leaf, or a mesh axis other than ``"data"`` that no
            leaf uses.
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
    policy = check_policy(policy)
    axis = DATA_AXIS if DATA_AXIS in mesh.axis_names else mesh.axis_names[0]
    size = int(mesh.shape[axis])
    layout = policy if isinstance(policy, Mapping) else {}
    for pattern, spec in layout.items():
        _check_axes(spec, mesh, f"layout[{pattern!r}]")
    compiled = [(re.compile(p), spec) for p, spec in layout.items()]
    found = _annotated(state)
    for rel, (spec, _) in found.items():
        _check_axes(spec, mesh, f"the nnx.with_partitioning annotation of {rel!r}")
    used: set[str] = set()

    def spec_of(path: str, shape: tuple) -> PartitionSpec:
        for pattern, spec in compiled:
            if pattern.search(path):
                return spec
        annotated = _annotation_of(path, shape, found)
        if annotated is not None:
            return annotated
        if policy == "fsdp":
            return _fsdp_spec(shape, axis, size, min_size)
        return PartitionSpec()

    def place(keys: tuple, leaf: Any) -> NamedSharding:
        path, shape = _path(keys), tuple(jax.numpy.shape(leaf))
        spec = spec_of(path, shape)
        _check_divisible(path, shape, spec, mesh)
        used.update(_axis_names(spec))
        return NamedSharding(mesh, spec)

    out = jax.tree_util.tree_map_with_path(place, state)
    _check_idle(mesh, used)
    return out


def place_state(tree: Any, shardings: Any) -> Any:
    """``tree`` placed on ``shardings`` (a no-op for leaves already placed so).

    One process: ``jax.device_put``. Several: every process holds the same values
    (same seed) and contributes the pieces its devices own, so no process needs
    another's memory.
    """

    def place(x: Any, target: NamedSharding) -> Any:
        if not isinstance(x, jax.Array) or x.sharding == target:
            return x
        if jax.process_count() == 1:
            return jax.device_put(x, target)
        if jax.numpy.issubdtype(x.dtype, jax.dtypes.prng_key):
            impl = jax.random.key_impl(x)
            data = place(jax.random.key_data(x), target)
            return jax.random.wrap_key_data(data, impl=impl)
        if not x.is_fully_addressable:
            raise ValueError(
                "a state leaf spans devices of other processes with another "
                "sharding; restore it with a target that carries the mesh's sharding"
            )
        host = np.asarray(jax.device_get(x))
        return jax.make_array_from_callback(host.shape, target, lambda i: host[i])

    return jax.tree.map(place, tree, shardings)
