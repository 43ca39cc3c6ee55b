"""from_torch: a torch module traced by torch.fx, rebuilt as an NNX module.

torch: ``torch.fx.symbolic_trace(module)`` gives the graph; each node becomes a
jtoolkit layer (weights and buffers loaded through the layer's own
``load_torch_state_dict``) or a jax function with torch's signature (tables in
``ops.py``). The result, a :class:`TorchGraph`, runs the graph in the same order:

* **Layout**: the graph keeps torch's layout between nodes, so users feed the same
  NCHW tensors as to torch; a channels-last jtoolkit layer (Conv2d, BatchNorm)
  gets its input moved to channels-last and its output moved back (XLA folds
  adjacent transposes). Pooling and flatten run on NCHW as torch's do.
* **Names**: layers sit at torch's paths (``layer1.0.conv1``), so
  ``models.torch_state_dict(graph)`` has torch's keys and ``optim.param_groups``
  patterns written for the torch model apply.
* **Mode** follows the torch module's ``training`` flag; ``.train()``/``.eval()``
  switch Dropout and BatchNorm as usual.
* **Unsupported** nodes (an op without a table entry, or a layer configuration
  jtoolkit lacks, e.g. grouped convolutions) are all listed in one
  ``NotImplementedError``, each with its source line, before anything is built.

Example:
    >>> import torch
    >>> from jtoolkit.interop import from_torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    >>> model, report = from_torch(net, torch.ones(2, 4))
    >>> model(np.ones((2, 4), np.float32)).shape, report.max_abs_diff < 1e-6
    ((2, 3), True)
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtoolkit._src.interop.ops import (
    FUNCTIONS,
    METHODS,
    MODULES,
    STATELESS,
    torch_function_key,
)
from jtoolkit._src.interop.program import run_as_one_program
from jtoolkit._src.nn.state_dict import load_torch_state_dict

__all__ = ["ConversionReport", "TorchGraph", "from_torch", "supported"]


@dataclasses.dataclass(frozen=True)
class _Ref:
    """A graph value by node name."""

    name: str


@dataclasses.dataclass(frozen=True, eq=False)
class _Step:
    """One graph node: ``kind`` (placeholder, layer, function, method, tensor,
    output), its node ``name``, what it runs and its (unresolved) arguments."""

    kind: str
    name: str
    target: Any
    args: tuple
    kwargs: dict
    layout: str = "same"
    path: str | None = None  # the torch module path of a module call


class _Program:
    """The steps, held as one static attribute (hashed by identity)."""

    def __init__(self, steps: tuple[_Step, ...]) -> None:
        self.steps = steps


class _Node(nnx.Module):
    """A container standing for a torch module that has children (torch's path)."""


def _resolve(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, _Ref):
        return env[value.name]
    if isinstance(value, tuple | list):
        return type(value)(_resolve(v, env) for v in value)
    if isinstance(value, dict):
        return {k: _resolve(v, env) for k, v in value.items()}
    if isinstance(value, slice):
        return slice(*(_resolve(v, env) for v in (value.start, value.stop, value.step)))
    return value


def _get(root: nnx.Module, path: str) -> Any:
    for part in path.split("."):
        root = getattr(root, part)
    return root


def _place(root: nnx.Module, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        if part not in vars(root):
            setattr(root, part, _Node())
        root = getattr(root, part)
    setattr(root, leaf, value)


def _channels_last(layer: Callable, x: jax.Array) -> jax.Array:
    """``layer`` (channels-last) applied to torch's N, C, ... layout."""
    if x.ndim <= 2:
        return layer(x)
    return jnp.moveaxis(layer(jnp.moveaxis(x, 1, -1)), -1, 1)


class TorchGraph(nnx.Module):
    """An NNX module running a traced torch graph; built by :func:`from_torch`.

    Call it like the torch module (same positional inputs, NCHW images).
    ``run(*inputs, record=d)`` also stores each torch module's output in ``d``
    under its torch path (``compare`` uses it).
    """

    def __init__(self, steps: tuple[_Step, ...], members: dict[str, Any]) -> None:
        for path, member in members.items():
            _place(self, path, member)
        self._program = _Program(steps)

    def __call__(self, *inputs: Any) -> Any:
        return self.run(*inputs)

    def run(self, *inputs: Any, record: dict[str, Any] | None = None) -> Any:
        """The graph's output; ``record`` (a dict) collects per-module outputs."""
        env: dict[str, Any] = {}
        feed = iter(inputs)
        for step in self._program.steps:
            if step.kind == "output":
                return _resolve(step.args[0], env)
            if step.kind == "placeholder":
                env[step.name] = jnp.asarray(next(feed))
                continue
            args = _resolve(step.args, env)
            kwargs = _resolve(step.kwargs, env)
            out = self._run_step(step, args, kwargs)
            env[step.name] = out
            if record is not None and step.path is not None:
                record.setdefault(step.path, out)  # a module's first call
        raise RuntimeError("TorchGraph: the graph has no output node")

    def _run_step(self, step: _Step, args: tuple, kwargs: dict) -> Any:
        if step.kind == "tensor":
            return _get(self, step.target)[...]
        if step.kind == "function":
            return FUNCTIONS[step.target](*args, **kwargs)
        if step.kind == "method":
            return METHODS[step.target](*args, **kwargs)
        if step.kind == "stateless":
            return step.target[1](*args, **kwargs)
        layer = _get(self, step.target)
        if step.layout == "channels":
            return _channels_last(layer, *args)
        return layer(*args, **kwargs)


@dataclasses.dataclass
class ConversionReport:
    """What ``from_torch`` did: one row per graph node, parameter counts, and the
    largest difference from torch on the example input (eval mode)."""

    rows: list[tuple[str, str, str]]
    parameters: int
    max_abs_diff: float

    def __str__(self) -> str:
        width = max(len(r[0]) for r in self.rows) if self.rows else 4
        lines = [f"{'node':<{width}}  torch -> jtoolkit"]
        lines += [f"{n:<{width}}  {t} -> {j}" for n, t, j in self.rows]
        lines.append(f"parameters: {self.parameters:,}")
        lines.append(
            f"max |jtoolkit - torch| on the example input: {self.max_abs_diff:.3g}"
        )
        return "\n".join(lines)


def _source_line(node: Any) -> str:
    """``file:line: code`` of the node's origin in the user's forward."""
    trace = getattr(node, "stack_trace", None) or ""
    found = re.findall(r'File "([^"]+)", line (\d+), in \S+\n\s*(.*)', trace)
    found = [f for f in found if "/torch/" not in f[0].replace("\\", "/")]
    if not found:
        return "(no source line recorded)"
    file, line, code = found[-1]
    return f"{file}:{line}: {code.strip()}"


def _trace(module: Any) -> Any:
    import torch.fx

    tracer = torch.fx.Tracer()
    tracer.record_stack_traces = True
    return tracer.trace(module)


def _why_unsupported(node: Any, modules: dict[str, Any]) -> str | None:
    if node.op == "call_module":
        kind = type(modules[node.target]).__name__
        if kind in STATELESS:
            return None
        if kind not in MODULES:
            return f"module {kind} has no jtoolkit counterpart in from_torch"
        reason = MODULES[kind][0](modules[node.target])
        return None if reason is None else f"{kind} with {reason}"
    if node.op == "call_function":
        key = torch_function_key(node.target)
        return None if key in FUNCTIONS else f"function {key}"
    if node.op == "call_method":
        return None if node.target in METHODS else f"method Tensor.{node.target}"
    return None


def _check_supported(graph: Any, modules: dict[str, Any]) -> None:
    problems = []
    for node in graph.nodes:
        reason = _why_unsupported(node, modules)
        if reason is not None:
            problems.append(f"  {node.name}: {reason}\n    at {_source_line(node)}")
    if problems:
        raise NotImplementedError(
            f"from_torch: {len(problems)} unsupported node(s); rewrite them with "
            "supported ops or convert that part by hand:\n" + "\n".join(problems)
        )


def _refs(value: Any) -> Any:
    """torch.fx arguments with Nodes replaced by :class:`_Ref`."""
    import torch.fx

    if isinstance(value, torch.fx.Node):
        return _Ref(value.name)
    if isinstance(value, tuple | list):
        return type(value)(_refs(v) for v in value)
    if isinstance(value, dict):
        return {k: _refs(v) for k, v in value.items()}
    if isinstance(value, slice):
        return slice(_refs(value.start), _refs(value.stop), _refs(value.step))
    return value


def _numpy_state(module: Any) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def _build_layer(torch_module: Any, rngs: nnx.Rngs) -> nnx.Module:
    layer = MODULES[type(torch_module).__name__][1](torch_module, rngs)
    load_torch_state_dict(layer, _numpy_state(torch_module))
    return layer


def _steps(graph, modules, params, rngs) -> tuple[tuple[_Step, ...], dict, list]:
    steps, members, rows = [], {}, []
    for node in graph.nodes:
        args, kwargs = _refs(tuple(node.args)), _refs(dict(node.kwargs))
        if node.op == "call_module":
            torch_module = modules[node.target]
            kind = type(torch_module).__name__
            if kind in STATELESS:
                target = (kind, STATELESS[kind](torch_module))
                steps.append(
                    _Step(
                        "stateless", node.name, target, args, kwargs, path=node.target
                    )
                )
                rows.append((node.name, f"{node.target} ({kind})", "function"))
                continue
            if node.target not in members:
                members[node.target] = _build_layer(torch_module, rngs)
            layout = MODULES[kind][2]
            steps.append(
                _Step(
                    "layer", node.name, node.target, args, kwargs, layout, node.target
                )
            )
            rows.append((node.name, f"{node.target} ({kind})", f"models.{kind}"))
        elif node.op == "get_attr":
            if node.target not in members:
                value = params[node.target].detach().cpu().numpy()
                is_param = node.target in dict(graph.owning_module.named_parameters())
                kind = nnx.Param if is_param else nnx.BatchStat
                members[node.target] = kind(jnp.asarray(value))
            steps.append(_Step("tensor", node.name, node.target, (), {}))
            rows.append((node.name, f"{node.target} (tensor)", "nnx variable"))
        elif node.op == "call_function":
            key = torch_function_key(node.target)
            steps.append(_Step("function", node.name, key, args, kwargs))
            rows.append((node.name, key, "function"))
        elif node.op == "call_method":
            steps.append(_Step("method", node.name, node.target, args, kwargs))
            rows.append((node.name, f"Tensor.{node.target}", "function"))
        else:
            steps.append(_Step(node.op, node.name, node.target, args, kwargs))
    return tuple(steps), members, rows


def _as_tuple(example_input: Any) -> tuple:
    return example_input if isinstance(example_input, tuple) else (example_input,)


def _max_diff(torch_out: Any, jax_out: Any) -> float:
    import torch

    t_leaves = [
        t.detach().double().numpy()
        for t in jax.tree.leaves(
            torch_out, is_leaf=lambda v: isinstance(v, torch.Tensor)
        )
    ]
    j_leaves = [np.asarray(v, np.float64) for v in jax.tree.leaves(jax_out)]
    pairs = zip(t_leaves, j_leaves, strict=True)
    diffs = [np.max(np.abs(a - b), initial=0.0) for a, b in pairs]
    return float(max(diffs, default=0.0))


def _forward(graphdef, state, inputs: tuple) -> tuple[Any, Any]:
    """The model's output and its state after the call (a pure function: from_torch
    checks the conversion with one jitted program, not one per op)."""
    model = nnx.merge(graphdef, state)
    return model(*inputs), nnx.state(model)


def from_torch(
    module: Any, example_input: Any, *, rngs: nnx.Rngs | None = None
) -> tuple[TorchGraph, ConversionReport]:
    """Convert a torch module to a jtoolkit (NNX) module with the same weights.

    torch: any ``nn.Module`` ``torch.fx.symbolic_trace`` can trace, built from the
    supported layers and ops (see ``jtoolkit.interop``'s docs for the list).

    Args:
      module: the torch module (left unchanged).
      example_input: a tensor (or a tuple of them) the module accepts, used to
        check the conversion: ``report.max_abs_diff`` is the largest difference
        between both forward passes on it, in eval mode (the converted one as
        one jitted program).
      rngs: keys for Dropout streams (default ``nnx.Rngs(0)``).

    Returns:
      ``(model, report)``: the :class:`TorchGraph` (mode copied from
      ``module.training``) and a :class:`ConversionReport`.

    Raises:
      NotImplementedError: listing every unsupported node with its source line.
    """
    import torch

    rngs = nnx.Rngs(0) if rngs is None else rngs
    graph = _trace(module)
    graph.owning_module = module
    modules = dict(module.named_modules())
    _check_supported(graph, modules)
    params = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    steps, members, rows = _steps(graph, modules, params, rngs)
    model = TorchGraph(steps, members)
    inputs = _as_tuple(example_input)
    twin = copy.deepcopy(module).eval()
    model.eval()
    with torch.no_grad():
        want = twin(*inputs)
    arrays = tuple(np.asarray(x.detach().cpu().numpy()) for x in inputs)
    got = run_as_one_program(_forward, model, arrays)
    model.train() if module.training else model.eval()
    count = sum(int(np.prod(p.shape)) for p in module.parameters())
    return model, ConversionReport(rows, count, _max_diff(want, got))


def supported() -> dict[str, Iterable[str]]:
    """The torch layers, functions and tensor methods ``from_torch`` converts."""
    return {
        "modules": sorted([*MODULES, *STATELESS]),
        "functions": sorted(FUNCTIONS),
        "methods": sorted(METHODS),
    }
