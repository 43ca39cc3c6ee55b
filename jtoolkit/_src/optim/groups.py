"""torch's parameter groups as ``optax.multi_transform`` over "/"-joined paths."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import optax

__all__ = ["ParamGroupsState", "param_groups", "param_paths"]


_FROZEN = "frozen"


class ParamGroupsState(NamedTuple):
    """State of `param_groups`: optax's per-group states (groups in order)."""

    inner: Any


def _key_name(key: Any) -> str:
    for attr in ("key", "idx", "name"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def _path_string(path: Sequence[Any]) -> str:
    """Join pytree keys with "/", dropping NNX's trailing ``value`` attribute."""
    keys = list(path)
    if keys and isinstance(keys[-1], jax.tree_util.GetAttrKey):
        if keys[-1].name == "value":
            keys = keys[:-1]
    return "/".join(_key_name(k) for k in keys)


def param_paths(params: Any) -> list[str]:
    """The "/"-joined path of every leaf of ``params``, in pytree order.

    Example:
        >>> param_paths({"fc1": {"weight": 1, "bias": 2}, "features": [3]})
        ['fc1/bias', 'fc1/weight', 'features/0']
    """
    flat, _ = jax.tree_util.tree_flatten_with_path(params)
    return [_path_string(path) for path, _ in flat]


def _matcher(
    spec: str | Sequence[str] | Callable[[str, Any], bool], index: int
) -> Callable[[str, Any], bool]:
    """A ``(path, leaf) -> bool`` for a pattern, a list of patterns or a predicate."""
    if callable(spec):
        return spec
    patterns = [spec] if isinstance(spec, str) else list(spec)
    if not patterns or not all(isinstance(p, str) for p in patterns):
        raise ValueError(
            f"param group {index}: 'params' must be an fnmatch pattern, a list of "
            f"them or a predicate (path, leaf) -> bool, got {spec!r}"
        )

    def matches(path: str, leaf: Any) -> bool:
        del leaf
        return any(
            fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(path, p + "/*")
            for p in patterns
        )

    return matches


def _labeller(matchers: list[Callable[[str, Any], bool]], specs: list[Any]):
    """The label function: each leaf gets the first matching group, else frozen."""

    def labels(tree: Any) -> Any:
        flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
        paths = [_path_string(path) for path, _ in flat]
        leaves = [leaf for _, leaf in flat]
        hits = [
            [m(p, leaf) for m in matchers]
            for p, leaf in zip(paths, leaves, strict=True)
        ]
        _check_every_group_matches(hits, specs, paths)
        out = [_group_label(row.index(True)) if any(row) else _FROZEN for row in hits]
        return jax.tree_util.tree_unflatten(treedef, out)

    return labels


def _check_every_group_matches(hits: list[list[bool]], specs, paths) -> None:
    """A pattern that matches no path at all is a typo (e.g. NNX's ``value``)."""
    if not hits:
        return
    for i, spec in enumerate(specs):
        if not any(row[i] for row in hits):
            shown = f"{paths[:12]}{' ...' if len(paths) > 12 else ''}"
            raise ValueError(
                f"param group {i} ({spec!r}) matches no parameter; the parameter "
                f"paths are {shown}; fix the pattern"
            )


def _group_label(index: int) -> str:
    # zero-padded so that pytree (sorted) key order is group order
    return f"group{index:04d}"


def param_groups(
    factory: Callable[..., optax.GradientTransformation],
    groups: Sequence[Mapping[str, Any]],
    **shared: Any,
) -> optax.GradientTransformation:
    """One optimizer per group of parameters, selected by path; others frozen.

    torch: ``torch.optim.SGD([{"params": model.base.parameters(), "lr": 1e-3},
    {"params": model.classifier.parameters(), "lr": 1e-2}], momentum=0.9)``.
    A parameter's path is its pytree keys joined by "/" without NNX's trailing
    ``value`` (``"fc1/kernel"``, ``"features/0/bias"``). A group's ``"params"`` is
    an fnmatch pattern (``"bn"`` also matches everything under ``bn/``), a list of
    them, or a predicate ``(path, leaf) -> bool``. The first matching group wins;
    parameters in no group get zero updates (torch leaves unlisted ones alone).

    Args:
        factory: an optimizer factory such as `jtoolkit.optim.sgd`.
        groups: dicts with ``"params"`` and keyword overrides for ``factory``.
        **shared: keyword arguments for every group (torch's defaults).

    Returns:
        An ``optax.GradientTransformation`` for plain dicts or ``nnx.State``.

    Raises:
        ValueError: on a malformed group; at ``init`` when a group's pattern
            matches no parameter path at all (a typo; the message lists the
            paths); the factory's own errors.

    Example:
        >>> from jtoolkit.optim import sgd
        >>> tx = param_groups(sgd, [{"params": "head/*", "lr": 1.0}], lr=0.1)
        >>> p = {"body": {"w": jnp.ones(1)}, "head": {"w": jnp.ones(1)}}
        >>> u, _ = tx.update(p, tx.init(p), p)
        >>> u["body"]["w"].tolist(), u["head"]["w"].tolist()
        ([0.0], [-1.0])
    """
    if isinstance(groups, Mapping) or not isinstance(groups, Sequence) or not groups:
        raise ValueError(
            f"groups must be a non-empty list of dicts with a 'params' key, got "
            f"{groups!r}"
        )
    transforms: dict[Hashable, optax.GradientTransformation] = {}
    matchers, specs = [], []
    for i, group in enumerate(groups):
        if not isinstance(group, Mapping) or "params" not in group:
            raise ValueError(f"param group {i} must be a dict with a 'params' key")
        kwargs = {**shared, **{k: v for k, v in group.items() if k != "params"}}
        transforms[_group_label(i)] = factory(**kwargs)
        matchers.append(_matcher(group["params"], i))
        specs.append(group["params"])
    transforms[_FROZEN] = optax.set_to_zero()
    inner = optax.multi_transform(transforms, _labeller(matchers, specs))

    def init_fn(params: optax.Params) -> ParamGroupsState:
        return ParamGroupsState(inner.init(params))

    def update_fn(updates, state, params=None):
        new_updates, new_inner = inner.update(updates, state.inner, params)
        return new_updates, ParamGroupsState(new_inner)

    return optax.GradientTransformation(init_fn, update_fn)
