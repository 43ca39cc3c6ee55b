"""torch's ``print(model)``, ``state_dict`` and ``load_state_dict`` for NNX modules.

A module's children are its ``nnx.Module`` attributes in assignment order (torch's
``_modules`` order); list-like modules (``nnx.List``, ``Sequential``) name children
"0", "1", .... A layer's torch names come from its ``_torch_layout`` (torch name ->
(attribute, layout)); other ``nnx.Param``/``nnx.BatchStat`` leaves keep their names.
Layouts: "same", "linear" (torch [out, in] = kernel.T), "conv" (any rank: torch's
[out, in/g, *k] = the channels-last [*k, in/g, out] kernel with its last two axes
moved to the front and swapped; OIHW = HWIO transposed (3, 2, 0, 1)), "conv1d" (the
same for 1-D) and "conv_transpose" (any rank: [in, out/g, *k] = [*k, in, out/g]
with its last two axes moved to the front; (2, 3, 0, 1) for 2-D).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import numpy as np
from flax import nnx

from jtoolkit._src.core.files import atomic_write
from jtoolkit._src.nn.summary import torch_entries
from jtoolkit._src.nn.weights_io import read_safetensors, read_state_dict

__all__ = [
    "IncompatibleKeys",
    "load_safetensors",
    "load_torch_state_dict",
    "save_safetensors",
    "torch_state_dict",
]


def _kernel_to_torch(a: np.ndarray, transposed: bool) -> np.ndarray:
    """Channels-last [*k, I, O] -> torch's [O, I, *k] ([I, O, *k] transposed)."""
    n = a.ndim - 2
    first = (n, n + 1) if transposed else (n + 1, n)
    return a.transpose(*first, *range(n))


def _kernel_from_torch(a: np.ndarray, transposed: bool) -> np.ndarray:
    """torch's [O, I, *k] ([I, O, *k] transposed) -> channels-last [*k, I, O]."""
    last = (0, 1) if transposed else (1, 0)
    return a.transpose(*range(2, a.ndim), *last)


_TO_TORCH = {
    "same": lambda a: a,
    "linear": lambda a: a.T,
    "conv": lambda a: _kernel_to_torch(a, False),
    "conv1d": lambda a: _kernel_to_torch(a, False),
    "conv_transpose": lambda a: _kernel_to_torch(a, True),
}


_FROM_TORCH = {
    "same": lambda a: a,
    "linear": lambda a: a.T,
    "conv": lambda a: _kernel_from_torch(a, False),
    "conv1d": lambda a: _kernel_from_torch(a, False),
    "conv_transpose": lambda a: _kernel_from_torch(a, True),
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
    for name, variable, how in torch_entries(model):
        value = np.asarray(variable[...])
        if name.endswith("num_batches_tracked"):
            value = value.astype(np.int64)
        out[name] = np.array(_TO_TORCH[how](value), order="C")  # writable copy
    return out


def _to_numpy(value: Any) -> np.ndarray:
    """A numpy copy of a numpy array, jax array or torch tensor (no torch import).

    torch bf16/fp16 tensors go through float32 on the torch side (numpy has no
    bfloat16); the caller casts to the model's dtype.
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        tensor = value.detach().cpu()
        if tensor.is_floating_point() and tensor.element_size() < 4:
            tensor = tensor.float()
        return tensor.numpy()
    array = np.asarray(value)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number)
        or np.issubdtype(array.dtype, np.bool_)
        or array.dtype.kind == "V"  # ml_dtypes' bfloat16 and friends
    ):
        raise TypeError(f"expected an array or tensor, got {type(value).__name__}")
    return array


def _shape_text(shape: tuple[int, ...]) -> str:
    return f"torch.Size({list(shape)})"


class IncompatibleKeys(NamedTuple):
    """torch's ``_IncompatibleKeys``: what ``load_torch_state_dict(strict=False)``
    skipped.

    Attributes:
      missing_keys: the model's keys the state_dict lacks (left unchanged).
      unexpected_keys: the state_dict's keys the model does not have (ignored).
    """

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
            f"unexpected_keys={self.unexpected_keys})"
        )


def load_torch_state_dict(
    model: nnx.Module, state_dict: Any, strict: bool = True
) -> nnx.Module | IncompatibleKeys:
    """Copy torch-named weights into ``model`` (in place).

    torch: ``model.load_state_dict(state_dict, strict=True)``. Layouts are converted
    (Linear weight.T, Conv1d/2d/3d OIHW -> HWIO, ConvTranspose1d/2d/3d); values are cast
    to each variable's dtype (bf16/fp16 torch tensors are read through float32).
    Nothing is written unless every present key loads.

    Args:
      model: an ``nnx.Module`` built from jtoolkit layers.
      state_dict: a mapping of torch name -> numpy array / torch tensor / jax array, a
        ``.safetensors`` path, or a torch ``.pt`` path (read with
        ``torch.load(weights_only=True)``; needs torch).
      strict: as torch: with False, missing and unexpected keys are allowed (the
        rest still loads; shape mismatches still raise).

    Returns:
      ``model`` (strict=True), or torch's ``(missing_keys, unexpected_keys)`` named
      tuple ``IncompatibleKeys`` (strict=False).

    Raises:
      RuntimeError: in torch's format, ``Error(s) in loading state_dict for X:``
        followed by the missing keys, the unexpected keys, every size mismatch and
        every value that is not an array, each naming its key; a whole checkpoint
        (``{"model_state_dict": ..., "optimizer_state_dict": ...}``) or a
        ``module.``-prefixed (DataParallel) state_dict adds a hint saying what to
        pass instead.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Linear, load_torch_state_dict
      >>> layer = Linear(2, 1, rngs=nnx.Rngs(0))
      >>> sd = {"weight": np.array([[1.0, 2.0]]), "bias": np.array([0.5])}
      >>> load_torch_state_dict(layer, sd)(jnp.ones((1, 2))).tolist()
      [[3.5]]
      >>> load_torch_state_dict(layer, {"weight": sd["weight"]}, strict=False)
      _IncompatibleKeys(missing_keys=['bias'], unexpected_keys=[])
    """
    source = read_state_dict(
        state_dict, {n: v[...].size for n, v, _ in torch_entries(model)}
    )
    entries = list(torch_entries(model))
    expected = {name for name, _, _ in entries}
    missing = [name for name, _, _ in entries if name not in source]
    unexpected = [key for key in source if key not in expected]
    errors, updates = [], []
    for name, variable, how in entries:
        if name in source:
            update = _converted(name, source[name], variable, how, errors)
            if update is not None:
                updates.append((variable, update))
    hint = _hint(source, expected, missing, unexpected)
    if strict or hint:
        if unexpected:
            errors.insert(
                0, f"Unexpected key(s) in state_dict: {_quoted(unexpected)}. "
            )
        if missing:
            errors.insert(0, f"Missing key(s) in state_dict: {_quoted(missing)}. ")
    if errors:
        raise RuntimeError(
            f"Error(s) in loading state_dict for {type(model).__name__}:\n\t"
            + "\n\t".join(errors)
            + hint
        )
    for variable, value in updates:
        _replace(variable, value)
    return model if strict else IncompatibleKeys(missing, unexpected)


def _replace(variable, value: np.ndarray) -> None:
    """Put ``value`` in ``variable`` where its array lives (device or sharding):
    a transfer, where ``variable[...] = value`` compiled a scatter program per
    parameter shape (three programs per parameter for a cold load)."""
    current = variable.get_value()
    if isinstance(current, jax.Array) and current.is_fully_addressable:
        variable.set_value(jax.device_put(value, current.sharding))
    else:  # an array spread over several processes: each writes its own part
        variable[...] = value


def _converted(name: str, raw: Any, variable, how: str, errors: list[str]):
    """``raw`` in the variable's layout and dtype, or None after noting the error."""
    try:
        given = _to_numpy(raw)
    except (TypeError, ValueError, RuntimeError) as err:
        errors.append(f'While copying the parameter named "{name}": {err}.')
        return None
    current = np.shape(variable[...])
    torch_current = _TO_TORCH[how](np.empty(current, np.int8)).shape
    if given.shape != torch_current:
        errors.append(
            f"size mismatch for {name}: copying a param with shape "
            f"{_shape_text(given.shape)} from checkpoint, the shape in current model "
            f"is {_shape_text(torch_current)}."
        )
        return None
    return _FROM_TORCH[how](given).astype(variable[...].dtype)


def _hint(source: Mapping, expected: set[str], missing, unexpected) -> str:
    """Advice when the mapping is a whole checkpoint or a DataParallel state_dict."""
    if not missing or len(missing) < len(expected):
        return ""
    nested = {k: v for k, v in source.items() if isinstance(v, Mapping)}
    if nested:
        best = max(nested, key=lambda k: len(expected.intersection(nested[k])))
        return (
            f"\n\tThis looks like a whole checkpoint (keys: {_quoted(list(source))}), "
            f'not a state_dict: pass state_dict["{best}"] instead.'
        )
    stripped = {k.removeprefix("module.") for k in unexpected}
    if any(k.startswith("module.") for k in unexpected) and expected <= stripped:
        return (
            '\n\tThe keys carry DataParallel\'s "module." prefix: pass '
            '{k.removeprefix("module."): v for k, v in state_dict.items()} instead.'
        )
    return ""


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
    from safetensors.numpy import save

    atomic_write(os.fspath(path), save(torch_state_dict(model)))


def load_safetensors(
    model: nnx.Module, path: str | os.PathLike, strict: bool = True
) -> nnx.Module | IncompatibleKeys:
    """Load a torch-named ``.safetensors`` file into ``model`` (in place).

    Returns:
      ``model``, or with ``strict=False`` torch's ``(missing_keys,
      unexpected_keys)``, as ``load_torch_state_dict``.

    Raises:
      RuntimeError: torch's mismatch report, as ``load_torch_state_dict``.
    """
    sizes = {k: v[...].size for k, v, _ in torch_entries(model)}
    return load_torch_state_dict(model, read_safetensors(path, sizes), strict=strict)
