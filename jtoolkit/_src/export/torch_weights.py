"""A jtoolkit model's weights for torch in one call: a state dict, or safetensors.

torch: ``torch_model.load_state_dict(to_torch(model))``, or
``safetensors.torch.load_file(path)`` after ``to_torch(model, path)``.

Example:
    >>> from flax import nnx
    >>> from jtoolkit.models import Linear
    >>> from jtoolkit.export import to_torch
    >>> sd = to_torch(Linear(3, 2, rngs=nnx.Rngs(0)))
    >>> {k: tuple(v.shape) for k, v in sd.items()}
    {'weight': (2, 3), 'bias': (2,)}
"""

from __future__ import annotations

import os
from typing import Any

from flax import nnx

from jtoolkit._src.nn.state_dict import save_safetensors, torch_state_dict

__all__ = ["to_torch"]


def to_torch(model: nnx.Module, path: str | os.PathLike[str] | None = None) -> Any:
    """The model's parameters and buffers under torch's names and layouts.

    Args:
      model: a jtoolkit model (Linear, Conv, BatchNorm, RNNs, attention, ...).
      path: if given, also write them as a safetensors file there (torch's
        ``safetensors.torch.load_file`` reads it; ``models.load_safetensors``
        loads it back into a jtoolkit model).

    Returns:
      A dict of ``torch.Tensor`` (numpy arrays where torch is not installed), ready
      for ``torch_model.load_state_dict``.
    """
    if path is not None:
        save_safetensors(model, os.fspath(path))
    state = torch_state_dict(model)
    try:
        import torch
    except ImportError:
        return state
    return {k: torch.from_numpy(v) for k, v in state.items()}
