"""Containers: torch.nn.Sequential, ModuleList, ModuleDict, Identity.

Children are named as torch names them ("0", "1", ... for the list-likes, the keys for
``ModuleDict``), so ``summary`` and ``torch_state_dict`` print and export torch's names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
from flax import nnx

from jtoolkit._src.nn.eager_call import compiled_forward

__all__ = ["Identity", "ModuleDict", "ModuleList", "Sequential"]


class Sequential(nnx.List):
    """Calls its layers in order; torch's ``nn.Sequential`` (children named 0, 1, ...).

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Linear, ReLU, Sequential
      >>> net = Sequential(Linear(2, 3, rngs=nnx.Rngs(0)), ReLU())
      >>> net(jnp.ones((1, 2))).shape
      (1, 3)
    """

    def __init__(self, *layers: Callable) -> None:
        super().__init__(layers)

    @compiled_forward
    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self:
            x = layer(x)
        return x


class ModuleList(nnx.List):
    """A list of modules, torch's ``nn.ModuleList(modules=None)``.

    Indexing, ``len``, iteration, ``append``, ``extend``, ``insert`` as a Python list;
    children are named "0", "1", ... in ``summary`` (runs of equal children printed
    as torch's ``(0-2): 3 x Linear(...)``) and in ``torch_state_dict``. Not callable,
    as in torch.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Linear, ModuleList
      >>> layers = ModuleList([Linear(2, 2, rngs=nnx.Rngs(0)) for _ in range(3)])
      >>> len(layers), type(layers[0]).__name__
      (3, 'Linear')
    """

    def __init__(self, modules: Iterable[Any] | None = None) -> None:
        super().__init__(modules)


class ModuleDict(nnx.Dict):
    """A str -> module mapping, torch's ``nn.ModuleDict(modules=None)``.

    ``d[key]``, ``d[key] = m``, ``del d[key]``, ``keys()``, ``values()``, ``items()``,
    ``len``, ``in``; insertion order is kept (torch's order in ``summary`` and the
    state_dict, e.g. ``"heads.cls.weight"``). Not callable, as in torch.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Linear, ModuleDict
      >>> heads = ModuleDict({"a": Linear(2, 1, rngs=nnx.Rngs(0))})
      >>> list(heads), heads["a"](jnp.ones((1, 2))).shape
      (['a'], (1, 1))
    """

    def __init__(self, modules: Mapping[str, Any] | None = None) -> None:
        super().__init__(dict(modules or {}))


class Identity(nnx.Module):
    """Returns its input; torch's ``nn.Identity(*args, **kwargs)`` (arguments ignored).

    Example:
      >>> from jtoolkit.models import Identity
      >>> Identity(54, unused="x")(jnp.ones(2)).tolist()
      [1.0, 1.0]
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        del args, kwargs

    def __call__(self, x: jax.Array) -> jax.Array:
        return x
