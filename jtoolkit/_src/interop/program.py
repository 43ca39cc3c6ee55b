"""One XLA program per call: how the interop entry points run the jtoolkit side.

``compare`` and ``from_torch``'s check run a model that the caller hands over, once
or a few times, on one input. Run eagerly, every primitive compiles its own XLA
program per new shape (a small ResNet's compare compiled ~240). Here the work is
one pure function of the model's state, ``fn(graphdef, state, *args, *static) ->
(result, new_state)``, jitted once per (model structure, ``static``) and run on
the model's state:

* **cached**: the graphdef (structure, mode, static attributes) and ``static``
  (e.g. a loss function, compared by identity) key the program, so a second
  call on the same model, or a copy of it, with inputs of the same shapes
  compiles nothing;
* **the model is updated** with ``new_state`` (BatchNorm statistics in train mode,
  Dropout key counters), as running it eagerly would have;
* **eager fallback**: a model whose forward needs concrete values (Python control
  flow on an array, ``np.asarray`` inside) raises one of JAX's concretization
  errors while traced; it then runs eagerly, as before, with the same results
  and errors. A structure with an unhashable static attribute is jitted for
  this call only (still one program).

Example:
    >>> from flax import nnx
    >>> def forward(graphdef, state, x):
    ...     model = nnx.merge(graphdef, state)
    ...     return model(x), nnx.state(model)
    >>> layer = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    >>> run_as_one_program(forward, layer, jnp.ones((4, 3))).shape
    (4, 2)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
from flax import nnx

__all__ = ["NEEDS_VALUES", "run_as_one_program"]

# What JAX raises when traced code needs a concrete value: the eager path has one.
NEEDS_VALUES = (
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerArrayConversionError,
    jax.errors.TracerIntegerConversionError,
    jax.errors.NonConcreteBooleanIndexError,
)


class _Same:
    """A static argument compared by identity (any object, hashable or not)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value is self.value


def _with_static(fn: Callable) -> Callable:
    """``fn`` taking its static arguments as one tuple of :class:`_Same`."""

    def call(graphdef, static, state, *args):
        return fn(graphdef, state, *args, *(s.value for s in static))

    return call


# These programs run once or a few times, so compile time is what the caller
# waits for: LLVM at -O0 halves it (compare on the test ResNet: 4.6 -> 1.9 s of
# compile, 2.0 -> 3.4 ms of run). Convolutions and matmuls call the same
# runtime kernels at any level; only the fused elementwise loops are slower.
_ONE_SHOT = {"xla_backend_optimization_level": 0}


@functools.cache
def _compiled(fn: Callable) -> Callable:
    """The cached jitted ``fn``: graphdef and static arguments key the program."""
    return jax.jit(_with_static(fn), static_argnums=(0, 1), compiler_options=_ONE_SHOT)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def run_as_one_program(
    fn: Callable, model: nnx.Module, *args: Any, static: tuple = ()
) -> Any:
    """``fn(graphdef, state, *args, *static)`` as one jitted program (module doc).

    Args:
      fn: a pure function of the model's graphdef and state returning
        ``(result, new_state)``; a module-level function (it keys the cache).
      model: the NNX module (updated with ``new_state``).
      *args: arrays (or pytrees of them): traced, one program per shape.
      static: values the program depends on that are not arrays (a loss
        function, a flag), compared by identity.

    Returns:
      ``fn``'s result.
    """
    graphdef, state = nnx.split(model)
    keys = tuple(_Same(s) for s in static)
    if _hashable(graphdef):
        jitted = functools.partial(_compiled(fn), graphdef, keys)
    else:  # an unhashable static attribute: a program for this call only
        jitted = jax.jit(
            functools.partial(_with_static(fn), graphdef, keys),
            compiler_options=_ONE_SHOT,
        )
    try:
        result, new_state = jitted(state, *args)
    except NEEDS_VALUES:
        result, new_state = fn(graphdef, state, *args, *static)
    nnx.update(model, new_state)
    return result
