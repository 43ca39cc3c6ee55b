"""The model inside a ``TrainState``: NNX state as plain nested dicts of arrays.

``ModelState`` pairs the arrays with the static ``GraphDef``; the helpers split the
dict into ``nnx.Param`` leaves and the rest (BatchNorm statistics, RNG streams) and
switch/reseed the merged module while tracing.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = [
    "ModelState",
    "combine",
    "has_streams",
    "param_mask",
    "partition",
    "reseed",
    "set_mode",
    "split_params",
]


@jax.tree_util.register_pytree_node_class
class ModelState:
    """A model's NNX state as a nested dict of arrays, with its static ``GraphDef``.

    The pytree leaves are the arrays (parameters, BatchNorm statistics, RNG
    streams); the ``GraphDef`` is static. Index it like a dict
    (``state.model["fc1"]["kernel"]``) or call it for inference: ``state.model(x)``
    runs a merged copy of the module in eval mode (torch's ``model.eval();
    model(x)``), eagerly; use ``make_eval_step`` for jitted evaluation.
    """

    __slots__ = ("graphdef", "variables")

    def __init__(self, graphdef: Any, variables: dict) -> None:
        self.graphdef = graphdef
        self.variables = variables

    def tree_flatten(self) -> tuple[tuple[dict], Any]:
        return (self.variables,), self.graphdef

    @classmethod
    def tree_unflatten(cls, graphdef: Any, children: tuple) -> ModelState:
        return cls(graphdef, children[0])

    def __getitem__(self, key: str) -> Any:
        return self.variables[key]

    def __iter__(self):
        return iter(self.variables)

    def __len__(self) -> int:
        return len(self.variables)

    def __contains__(self, key: object) -> bool:
        return key in self.variables

    def __repr__(self) -> str:
        shapes = jax.tree.map(lambda a: getattr(a, "shape", a), self.variables)
        return f"ModelState({shapes})"

    def module(self) -> nnx.Module:
        """A new ``nnx.Module`` holding copies of these arrays."""
        return nnx.merge(self.graphdef, jax.tree.map(jnp.copy, self.variables))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        module = nnx.merge(self.graphdef, self.variables)
        module.eval()
        return module(*args, **kwargs)


def param_mask(graphdef: Any, pure: dict) -> dict:
    """Nested dict of bools, True where the leaf is an ``nnx.Param`` (trace-time)."""
    params = nnx.to_pure_dict(nnx.state(nnx.merge(graphdef, pure), nnx.Param))
    paths = {p for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]}
    return jax.tree_util.tree_map_with_path(lambda p, _: p in paths, pure)


def partition(tree: dict, mask: dict) -> tuple[dict, dict]:
    """Split a nested dict by a same-shaped bool mask, dropping empty sub-dicts."""
    yes, no = {}, {}
    for k, v in tree.items():
        m = mask[k]
        if isinstance(v, dict):
            a, b = partition(v, m)
            if a:
                yes[k] = a
            if b:
                no[k] = b
        elif m:
            yes[k] = v
        else:
            no[k] = v
    return yes, no


def combine(a: dict, b: dict) -> dict:
    """Deep-merge two disjoint nested dicts (inverse of ``split_params``)."""
    out = dict(a)
    for k, v in b.items():
        out[k] = combine(out[k], v) if k in out and isinstance(v, dict) else v
    return out


def split_params(graphdef: Any, pure: dict) -> tuple[dict, dict]:
    """``(params, rest)`` of a pure model dict: ``nnx.Param`` leaves vs the others."""
    return partition(pure, param_mask(graphdef, pure))


def _streams(module: nnx.Module) -> list:
    return [n for _, n in nnx.iter_graph(module) if isinstance(n, nnx.RngStream)]


def has_streams(graphdef: Any, pure: dict) -> bool:
    """Whether the model draws random numbers (Dropout...): trace-time check."""
    return bool(_streams(nnx.merge(graphdef, pure)))


def reseed(module: nnx.Module, key: jax.Array) -> None:
    """Point every RNG stream of ``module`` at a fresh key derived from ``key``."""
    for i, stream in enumerate(_streams(module)):
        stream.key.set_value(jax.random.fold_in(key, i))
        stream.count.set_value(jnp.zeros_like(stream.count.get_value()))


def set_mode(module: nnx.Module, train: bool) -> None:
    """Switch Dropout/BatchNorm the torch way (``model.train()`` / ``model.eval()``)."""
    if train:
        module.train()
    else:
        module.eval()
