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
from collections.abc import Mapping
from typing import Any

import numpy as np
from flax import nnx

from jtoolkit._src.nn.summary import _entries

__all__ = [
    "load_safetensors",
    "load_torch_state_dict",
    "save_safetensors",
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
