"""torch's ``print(model)`` layout and parameter counts for NNX modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import numpy as np
from flax import nnx

from jtoolkit._src.nn.containers import ModuleList
from jtoolkit._src.nn.init import Buffer

__all__ = ["count_parameters", "summary", "torch_entries"]


def _is_container(value: Any) -> bool:
    """A plain list/tuple/dict of modules (held through ``nnx.data``)."""
    if isinstance(value, list | tuple):
        items = value
    elif isinstance(value, dict):
        items = value.values()
    else:
        return False
    return bool(items) and all(isinstance(v, nnx.Module) for v in items)


def _children(node: Any) -> Iterator[tuple[str, Any]]:
    """(name, child) pairs in torch's order; list items named by index."""
    if isinstance(node, list | tuple):
        items = ((str(i), v) for i, v in enumerate(node))
    elif isinstance(node, dict):
        items = ((str(k), v) for k, v in node.items())
    else:
        items = vars(node).items()
    for name, value in items:
        if name.startswith("_pytree"):
            continue
        if isinstance(value, nnx.Module) or _is_container(value):
            yield name, value


def _variables(module: Any) -> Iterator[tuple[str, nnx.Variable, str]]:
    """(torch name, variable, layout) of the module's own Param, BatchStat and
    persistent Buffer leaves."""
    if not isinstance(module, nnx.Module):
        return
    layout = getattr(module, "_torch_layout", {})
    mapped = {attr: (torch_name, how) for torch_name, (attr, how) in layout.items()}
    own = [
        (name, value)
        for name, value in vars(module).items()
        if isinstance(value, nnx.Param | nnx.BatchStat)
        or (isinstance(value, Buffer) and value.get_metadata().get("persistent", True))
    ]
    # torch's order: parameters, then buffers (then children, in torch_entries)
    own.sort(key=lambda item: not isinstance(item[1], nnx.Param))
    for name, value in own:
        torch_name, how = mapped.get(name, (name, "same"))
        yield torch_name, value, how


def torch_entries(
    module: nnx.Module, prefix: str = ""
) -> Iterator[tuple[str, Any, str]]:
    """Every (dotted torch name, variable, layout) of the module tree, torch's order."""
    for name, variable, how in _variables(module):
        yield prefix + name, variable, how
    for name, child in _children(module):
        yield from torch_entries(child, f"{prefix}{name}.")


def _torch_repr(module: nnx.Module) -> str:
    """torch's ``Module.__repr__`` text (``ModuleList`` compresses repeats)."""
    children = [(key, _torch_repr(child)) for key, child in _children(module)]
    if type(module) is nnx.List or isinstance(module, ModuleList | list | tuple):
        return _module_list_repr(children)
    plain_dict = isinstance(module, dict) or type(module) is nnx.Dict
    name = "ModuleDict" if plain_dict else type(module).__name__
    extra = getattr(module, "_torch_repr", lambda: "")()
    extra_lines = extra.split("\n") if extra else []
    child_lines = [f"({key}): {_indent(text)}" for key, text in children]
    lines = extra_lines + child_lines
    if not lines:
        return f"{name}()"
    if len(extra_lines) == 1 and not child_lines:
        return f"{name}({extra_lines[0]})"
    return name + "(\n  " + "\n  ".join(lines) + "\n)"


def _module_list_repr(children: list[tuple[str, str]]) -> str:
    """torch's ``ModuleList.__repr__``: runs of equal children as ``(0-2): 3 x ...``."""
    if not children:
        return "ModuleList()"
    runs: list[list[Any]] = []
    for index, (_, text) in enumerate(children):
        if runs and runs[-1][2] == text:
            runs[-1][1] = index
        else:
            runs.append([index, index, text])
    lines = []
    for start, end, text in runs:
        if start == end:
            lines.append(_indent(f"({start}): {text}"))
        else:
            lines.append(_indent(f"({start}-{end}): {end - start + 1} x {text}"))
    return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"


def _indent(text: str, spaces: int = 2) -> str:
    """torch's ``_addindent``: indent every line but the first."""
    first, *rest = text.split("\n")
    if not rest:
        return text
    rest = [(" " * spaces + line) if line.strip() else "" for line in rest]
    return "\n".join([first, *rest])


def summary(model: nnx.Module) -> str:
    """The text torch's ``print(model)`` shows for the same architecture.

    torch: ``str(model)`` / ``print(model)``. Children appear in assignment order with
    torch's layer reprs (``Linear(in_features=..., out_features=..., bias=True)``,
    ``Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1))``, ...).

    Args:
      model: an ``nnx.Module`` built from jtoolkit layers.

    Returns:
      The multi-line string.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import SimpleNN, summary
      >>> print(summary(SimpleNN(rngs=nnx.Rngs(0))))
      SimpleNN(
        (fc1): Linear(in_features=1024, out_features=224, bias=True)
        (fc2): Linear(in_features=224, out_features=10, bias=True)
      )
    """
    return _torch_repr(model)


def count_parameters(model: nnx.Module) -> int:
    """Number of trainable scalars (``nnx.Param`` elements), torch's ``numel`` sum.

    torch: ``sum(p.numel() for p in model.parameters())``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import SimpleNN, count_parameters
      >>> count_parameters(SimpleNN(rngs=nnx.Rngs(0)))
      231850
    """
    state = nnx.state(model, nnx.Param)
    return int(sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(state)))
