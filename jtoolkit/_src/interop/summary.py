"""summary: a torchinfo-like table with output shapes, parameters and FLOPs.

torch: ``torchinfo.summary(model, input_data=x)``. Every submodule that runs on the
example input gets a row (indented by depth): its output shape, its parameter count
(its own subtree) and, for leaf layers, the FLOPs of XLA's cost analysis of that
layer alone on the input it received (``jax.jit(layer).lower(x).compile()
.cost_analysis()``); the last rows give the totals (FLOPs of the whole compiled
forward, so fusion is accounted for). ``models.summary(model)`` keeps torch's
``print(model)`` layout; this one needs an input.

Example:
    >>> from flax import nnx
    >>> from jtoolkit.models import SimpleNN
    >>> from jtoolkit.interop import summary
    >>> table = summary(SimpleNN(rngs=nnx.Rngs(0)), jnp.ones((1, 1024)))
    >>> table.splitlines()[2].split()[:5]
    ['fc1', '(Linear)', '[1,', '224]', '229,600']
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from flax import nnx

__all__ = ["summary"]


def _param_count(module: nnx.Module) -> int:
    state = nnx.state(module, nnx.Param)
    return int(sum(np.prod(np.shape(a)) for a in jax.tree.leaves(state)))


def _flops(fn, *args) -> float:
    cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    return float((cost or {}).get("flops", 0.0))


def _shape(out: Any) -> str:
    while isinstance(out, tuple | list):
        out = out[0]
    return str(list(np.shape(out)))


def _abstract(value: Any) -> Any:
    """An array's shape and dtype (a traced one's too); other values as they are."""
    if isinstance(value, jax.Array):
        return jax.ShapeDtypeStruct(
            value.shape, value.dtype, weak_type=jax.typeof(value).weak_type
        )
    return value


def _calls(model: nnx.Module, inputs: tuple) -> tuple[Any, dict[tuple, tuple | None]]:
    """The model's output and, per submodule path in first-call order, its first
    (args, kwargs, out), arrays as ``jax.ShapeDtypeStruct``: the forward is traced
    (``jax.eval_shape`` on a copy), not run, so it compiles nothing (run eagerly,
    each op compiled a program: ~50 for a small ResNet)."""
    seen: dict[tuple, tuple | None] = {}
    graphdef, state = nnx.split(model)

    def forward(state, *xs):
        copy = nnx.merge(graphdef, state)
        modules = [(p, m) for p, m in nnx.iter_graph(copy) if isinstance(m, nnx.Module)]
        paths = {id(m): tuple(p) for p, m in modules}
        originals = {type(m): type(m).__call__ for _, m in modules}

        def wrap(original):
            def call(self, *a, **k):
                path = paths.get(id(self))
                if path is None or path in seen:
                    return original(self, *a, **k)
                seen[path] = None  # reserve the slot: callers before callees
                out = original(self, *a, **k)
                seen[path] = jax.tree.map(_abstract, (a, k, out))
                return out

            return call

        for cls, original in originals.items():
            cls.__call__ = wrap(original)
        try:
            return copy(*xs)
        finally:
            for cls, original in originals.items():
                cls.__call__ = original

    return jax.eval_shape(forward, state, *inputs), seen


def _layer_flops(module: nnx.Module, args: tuple, kwargs: dict) -> float:
    graphdef, state = nnx.split(module)
    arrays = [a for a in args if hasattr(a, "shape")]
    if len(arrays) != len(args) or kwargs:
        return float("nan")

    def run(state, *xs):
        return nnx.merge(graphdef, state)(*xs)

    return _flops(run, state, *arrays)


def summary(model: nnx.Module, example_input: Any) -> str:
    """The table described in the module doc (as a string; ``print`` it).

    Args:
      model: a jtoolkit/NNX model (including ``from_torch`` graphs).
      example_input: an array, or a tuple of arrays, the model accepts.

    Returns:
      The table: name (type), output shape, parameters, FLOPs.
    """
    inputs = example_input if isinstance(example_input, tuple) else (example_input,)
    # numpy stays numpy: jnp.asarray would compile a transfer program per shape
    inputs = tuple(
        x if isinstance(x, np.ndarray | jax.Array) else jax.numpy.asarray(x)
        for x in inputs
    )
    out, seen = _calls(model, inputs)
    lines = [f"{'Layer (type)':<30} {'Output Shape':<20} {'Param #':>12} {'FLOPs':>11}"]
    lines.append("=" * len(lines[0]))
    paths = {
        tuple(p): (p, m)
        for p, m in nnx.iter_graph(model)
        if p and isinstance(m, nnx.Module)
    }
    for key, call in seen.items():
        if key not in paths or call is None:  # None: a call that raised
            continue
        args, kwargs, result = call
        path, module = paths[key]
        leaf = not any(
            isinstance(m, nnx.Module) and p for p, m in nnx.iter_graph(module)
        )
        flops = f"{_layer_flops(module, args, kwargs):,.0f}" if leaf else ""
        name = "  " * (len(path) - 1) + f"{path[-1]} ({type(module).__name__})"
        lines.append(
            f"{name:<30} {_shape(result):<20} {_param_count(module):>12,} {flops:>11}"
        )
    graphdef, state = nnx.split(model)
    total = _flops(lambda s, *xs: nnx.merge(graphdef, s)(*xs), state, *inputs)
    lines.append("=" * len(lines[0]))
    lines.append(f"Total params: {_param_count(model):,}")
    lines.append(f"Total FLOPs (XLA cost analysis, whole forward): {total:,.0f}")
    lines.append(f"Output shape: {_shape(out)}")
    return "\n".join(lines)
