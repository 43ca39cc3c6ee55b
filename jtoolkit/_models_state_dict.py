"""torch's ``print(model)``, ``state_dict`` and ``load_state_dict`` for NNX modules.

A module's children are its ``nnx.Module`` attributes in assignment order (torch's
``_modules`` order); list-like modules (``nnx.List``, ``Sequential``) name children
"0", "1", .... A layer's torch names come from its ``_torch_layout`` (torch name ->
(attribute, layout)); other ``nnx.Param``/``nnx.BatchStat`` leaves keep their names.
Layouts: "same", "linear" (torch [out, in] = kernel.T), "conv" (OIHW = HWIO kernel
transposed (3, 2, 0, 1)).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import jax
import numpy as np
from flax import nnx

__all__ = [
    "count_parameters",
    "load_safetensors",
    "load_torch_state_dict",
    "save_safetensors",
    "summary",
    "torch_state_dict",
]

_TO_TORCH = {
    "same": lambda a: a,
    "linear": lambda a: a.T,
    "conv": lambda a: a.transpose(3, 2, 0, 1),
}
_FROM_TORCH = {
    "same": lambda a: a,
    "linear": lambda a: a.T,
    "conv": lambda a: a.transpose(2, 3, 1, 0),
}


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
    """(torch name, variable, layout) of the module's own Param/BatchStat leaves."""
    if not isinstance(module, nnx.Module):
        return
    layout = getattr(module, "_torch_layout", {})
    mapped = {attr: (torch_name, how) for torch_name, (attr, how) in layout.items()}
    for name, value in vars(module).items():
        if isinstance(value, nnx.Param | nnx.BatchStat):
            torch_name, how = mapped.get(name, (name, "same"))
            yield torch_name, value, how


def _entries(module: nnx.Module, prefix: str = "") -> Iterator[tuple[str, Any, str]]:
    """Every (dotted torch name, variable, layout) of the module tree, torch's order."""
    for name, variable, how in _variables(module):
        yield prefix + name, variable, how
    for name, child in _children(module):
        yield from _entries(child, f"{prefix}{name}.")


def _torch_repr(module: nnx.Module) -> str:
    """torch's ``Module.__repr__`` text (``ModuleList`` compresses repeats)."""
    children = [(key, _torch_repr(child)) for key, child in _children(module)]
    if type(module) is nnx.List or isinstance(module, list | tuple):
        return _module_list_repr(children)
    name = "ModuleDict" if isinstance(module, dict) else type(module).__name__
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


def torch_state_dict(model: nnx.Module) -> dict[str, np.ndarray]:
    """The model's parameters and buffers under torch's names and layouts.

    torch: ``model.state_dict()`` (Linear weight = kernel.T; Conv2d weight OIHW =
    kernel.transpose(3, 2, 0, 1); BatchNorm running stats and ``num_batches_tracked``
    (int64); LSTM ``weight_ih_l0``...). Dropout RNG state is not included.

    Returns:
      An insertion-ordered dict of numpy arrays, ready for
      ``torch_model.load_state_dict({k: torch.from_numpy(v) ...})``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import SimpleNN, torch_state_dict
      >>> sd = torch_state_dict(SimpleNN(rngs=nnx.Rngs(0)))
      >>> [(k, v.shape) for k, v in sd.items()][:2]
      [('fc1.weight', (224, 1024)), ('fc1.bias', (224,))]
    """
    out = {}
    for name, variable, how in _entries(model):
        value = np.asarray(variable[...])
        if name.endswith("num_batches_tracked"):
            value = value.astype(np.int64)
        out[name] = np.array(_TO_TORCH[how](value), order="C")  # writable copy
    return out


def _to_numpy(value: Any) -> np.ndarray:
    """A numpy copy of a numpy array, jax array or torch tensor (no torch import)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _read_state_dict(source: Any) -> Mapping[str, Any]:
    """A mapping from a dict, a ``.safetensors`` path or a torch ``.pt`` path."""
    if isinstance(source, Mapping):
        return source
    if not isinstance(source, str | os.PathLike):
        raise TypeError(
            "state_dict must be a mapping of name -> array, a .safetensors path or a "
            f"torch .pt path, but got {type(source).__name__}"
        )
    path = os.fspath(source)
    if path.endswith(".safetensors"):
        from safetensors.numpy import load_file

        return load_file(path)
    try:
        import torch
    except ImportError as err:
        raise RuntimeError(
            f"loading {path!r} needs torch (torch.load(weights_only=True)); install "
            "torch or save the weights as .safetensors"
        ) from err
    return torch.load(path, map_location="cpu", weights_only=True)


def _shape_text(shape: tuple[int, ...]) -> str:
    return f"torch.Size({list(shape)})"


def load_torch_state_dict(model: nnx.Module, state_dict: Any) -> nnx.Module:
    """Copy torch-named weights into ``model`` (in place) and return it.

    torch: ``model.load_state_dict(state_dict)`` (strict). Layouts are converted
    (Linear weight.T, Conv2d OIHW -> HWIO); values are cast to each variable's dtype.
    Nothing is written unless every key matches.

    Args:
      model: an ``nnx.Module`` built from jtoolkit layers.
      state_dict: a mapping of torch name -> numpy array / torch tensor / jax array, a
        ``.safetensors`` path, or a torch ``.pt`` path (read with
        ``torch.load(weights_only=True)``; needs torch).

    Returns:
      ``model``, updated.

    Raises:
      RuntimeError: in torch's format, ``Error(s) in loading state_dict for X:``
        followed by the missing keys, the unexpected keys and every size mismatch.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Linear, load_torch_state_dict
      >>> layer = Linear(2, 1, rngs=nnx.Rngs(0))
      >>> sd = {"weight": np.array([[1.0, 2.0]]), "bias": np.array([0.5])}
      >>> load_torch_state_dict(layer, sd)(jnp.ones((1, 2))).tolist()
      [[3.5]]
    """
    source = _read_state_dict(state_dict)
    entries = list(_entries(model))
    expected = {name for name, _, _ in entries}
    missing = [name for name, _, _ in entries if name not in source]
    unexpected = [key for key in source if key not in expected]
    errors, updates = [], []
    for name, variable, how in entries:
        if name not in source:
            continue
        value = _FROM_TORCH[how](_to_numpy(source[name]))
        current = np.shape(variable[...])
        if value.shape != current:
            torch_current = _TO_TORCH[how](np.empty(current, np.int8)).shape
            given = _TO_TORCH[how](value).shape
            errors.append(
                f"size mismatch for {name}: copying a param with shape "
                f"{_shape_text(given)} from checkpoint, the shape in current model "
                f"is {_shape_text(torch_current)}."
            )
            continue
        updates.append((variable, value.astype(variable[...].dtype)))
    if unexpected:
        errors.insert(0, f"Unexpected key(s) in state_dict: {_quoted(unexpected)}. ")
    if missing:
        errors.insert(0, f"Missing key(s) in state_dict: {_quoted(missing)}. ")
    if errors:
        raise RuntimeError(
            f"Error(s) in loading state_dict for {type(model).__name__}:\n\t"
            + "\n\t".join(errors)
        )
    for variable, value in updates:
        variable[...] = value
    return model


def _quoted(keys: list[str]) -> str:
    return ", ".join(f'"{key}"' for key in keys)


def save_safetensors(model: nnx.Module, path: str | os.PathLike) -> None:
    """Write ``torch_state_dict(model)`` to a ``.safetensors`` file (torch names).

    torch: ``safetensors.torch.save_file(model.state_dict(), path)``; the file loads
    into the torch twin with ``safetensors.torch.load_file``.

    Example:
      >>> import os, tempfile
      >>> from flax import nnx
      >>> from jtoolkit.models import Linear, load_safetensors, save_safetensors
      >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
      >>> save_safetensors(Linear(2, 1, rngs=nnx.Rngs(0)), path)
      >>> layer = load_safetensors(Linear(2, 1, rngs=nnx.Rngs(1)), path)
    """
    from safetensors.numpy import save_file

    save_file(torch_state_dict(model), os.fspath(path))


def load_safetensors(model: nnx.Module, path: str | os.PathLike) -> nnx.Module:
    """Load a torch-named ``.safetensors`` file into ``model`` (in place); return it.

    Raises:
      RuntimeError: torch's mismatch report, as ``load_torch_state_dict``.
    """
    from safetensors.numpy import load_file

    return load_torch_state_dict(model, load_file(os.fspath(path)))
