"""One compiled program per eager forward of a model, instead of one per primitive.

``core.eager_jit`` compiles each ``F.*`` op called eagerly; a model built from
many ops (a ``Transformer``, an ``LSTM``, a ``Sequential``) still ran op by op,
and XLA compiled every primitive of its forward as its own program: a first
eager call of a small ``Transformer`` compiled about 270 programs (several seconds
on a 2-core CPU), where torch answers at once. ``compiled_forward`` wraps a
layer's ``__call__`` so that an eager call runs the whole forward as one program
per (module structure, parameter and input shapes, options):

* the module is split into its structure (``nnx.GraphDef``, compiled in) and its
  state (parameters, buffers, RNG counters: the program's inputs); the program
  rebuilds the module, calls the forward and returns the output and the state
  leaves the forward replaced (BatchNorm's running statistics, a dropout's RNG
  counter), which are written back, so the module ends as the eager call leaves it;
* inside a transformation (``jax.jit``, ``nnx.jit``, ``grad``, ``vmap``) it is a
  plain call, as ``eager_jit`` is;
* a forward that needs values, warns, or changes the module's structure runs
  eagerly for good for that signature (``core.eager_jit``'s rules);
* only modules whose every submodule is a jtoolkit or Flax class are compiled:
  a user's own module (or a user subclass, or a plain function in a
  ``Sequential``) may print or keep Python state, which a trace would run once,
  so a model that holds one runs eagerly as before;
* ``JTOOLKIT_EAGER_JIT=0`` turns it off with ``eager_jit``.

torch has no counterpart: its eager kernels need no compilation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import jax
from flax import nnx

from jtoolkit._src.core import eager_jit

__all__ = ["compiled_forward"]

M = TypeVar("M", bound=Callable[..., Any])

_TRUSTED = ("jtoolkit.", "flax.")

_EAGER: Any = object()  # what ``EagerPrograms.call`` returns for an eager signature


def _own_classes(module: Any) -> bool:
    """Whether every submodule of ``module`` is a jtoolkit or Flax class and every
    element of a ``Sequential`` is a module (nothing user-written runs inside)."""
    for _, node in nnx.iter_graph(module):
        if not isinstance(node, nnx.Module):
            continue
        if not type(node).__module__.startswith(_TRUSTED):
            return False
        if isinstance(node, nnx.List) and not all(
            isinstance(item, nnx.Module) for item in node
        ):
            return False
    return True


class _StructureChanged(eager_jit.NeedsValues):
    """The forward added or removed state, or changed a static attribute."""


def compiled_forward(method: M) -> M:
    """Decorate a layer's ``__call__``: an eager call runs as one compiled program.

    Args:
        method: the forward, ``method(self, *args, **kwargs)``, returning arrays.

    Returns:
        The same method; calls inside a transformation, or on a module holding
        user-written classes, are plain calls.

    Example:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> from jtoolkit.models import Linear, ReLU, Sequential
        >>> net = Sequential(Linear(2, 3, rngs=nnx.Rngs(0)), ReLU())
        >>> net(jnp.ones((1, 2))).shape  # one program, not one per layer op
        (1, 3)
    """

    def run(
        graphdef: Any,
        state_def: Any,
        options: Any,
        treedef: Any,
        positions: tuple,
        kinds: tuple,
        state: list,
        inputs: list,
    ) -> tuple[Any, list]:
        module = nnx.merge(graphdef, jax.tree_util.tree_unflatten(state_def, state))
        args, kwargs, _ = eager_jit.rebuild(options, treedef, positions, kinds, inputs)
        out, values = eager_jit.traced(method, (module, *args), kwargs)
        after_def, after = nnx.split(module)
        leaves, after_state_def = jax.tree_util.tree_flatten(after)
        if after_def != graphdef or after_state_def != state_def:
            raise _StructureChanged
        pairs = enumerate(zip(state, leaves, strict=True))
        written = {i: new for i, (old, new) in pairs if new is not old}
        return (out, written), values

    name = getattr(method, "__qualname__", "forward").split(".")[0]
    programs = eager_jit.EagerPrograms(run, 6, name)
    trusted: dict[Any, bool] = {}  # graphdef -> whether it holds only our classes

    @functools.wraps(method)
    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        # enabled(): no trace is running (nnx.jit, grad, an outer forward's trace)
        split = eager_jit.split_call(args, kwargs) if eager_jit.enabled() else None
        if split is None:
            return method(self, *args, **kwargs)
        graphdef, state_tree = nnx.split(self)
        state, state_def = jax.tree_util.tree_flatten(state_tree)
        try:  # (one look-up: hashing a GraphDef walks all of it)
            own = trusted.get(graphdef)
        except TypeError:  # an unhashable static attribute: not one of ours
            return method(self, *args, **kwargs)
        if own is None:
            own = trusted[graphdef] = _own_classes(self)
        if not own:
            return method(self, *args, **kwargs)
        treedef, inputs, positions, kinds, options, signature = split
        result: Any = programs.call(
            (graphdef, state_def, eager_jit.avals(state), signature),
            lambda: _EAGER,
            graphdef,
            state_def,
            options,
            treedef,
            positions,
            kinds,
            state,
            inputs,
        )
        if result is _EAGER:  # needs values, warns or restructures: eagerly
            return method(self, *args, **kwargs)
        out, written = result
        if written:
            for i, leaf in written.items():
                state[i] = leaf
            nnx.update(self, jax.tree_util.tree_unflatten(state_def, state))
        return out

    return forward  # type: ignore[return-value]
