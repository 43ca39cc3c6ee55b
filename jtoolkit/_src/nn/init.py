"""torch's default initialisations for jtoolkit layers, drawn on the host.

Each parameter is drawn with numpy from a seed taken from the layer's
``rngs.params()`` key and placed with one ``jax.device_put``, so building a model
compiles nothing per parameter shape (``jax.random.uniform`` eagerly compiles one
program per shape; a small CNN used to spend seconds in it). The model stays a
deterministic function of ``nnx.Rngs(seed)``. Parameters are in the default float:
float32, or float64 under ``jax_enable_x64`` (JAX's counterpart of
``torch.set_default_dtype(torch.float64)``); ``to(model, dtype)`` converts a model.
When the key is a tracer (the model
is built inside ``jax.jit``, ``nnx.jit`` or ``nnx.eval_shape``) the same
distributions are drawn with ``jax.random`` instead, so abstract construction works.
"""

from __future__ import annotations

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtoolkit._src.core import dtypes
from jtoolkit._src.tensor.create import place as _place_array

__all__ = ["Buffer", "place", "to"]


def _param_dtype() -> np.dtype:
    """The parameters' default dtype: float32, float64 under ``jax_enable_x64``."""
    return dtypes.canonical(np.float64)


def _host_generator(key: jax.Array) -> np.random.Generator | None:
    """A numpy generator seeded by a concrete ``key``; None for a traced key."""
    if isinstance(key, jax.core.Tracer):
        return None
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.random.default_rng(np.asarray(key, np.uint32).ravel())


def uniform_array(rngs: nnx.Rngs, shape: tuple[int, ...], bound: float) -> jax.Array:
    """Values from U(-bound, bound) of ``shape`` in the default float (float32;
    float64 under ``jax_enable_x64``, as torch's default dtype), keyed by
    ``rngs.params()``."""
    key = rngs.params()
    gen = _host_generator(key)
    dtype = _param_dtype()
    if gen is None:
        return jax.random.uniform(key, shape, dtype, -bound, bound)
    values = gen.uniform(-bound, bound, size=shape).astype(dtype)
    return jax.device_put(values)


def uniform_param(rngs: nnx.Rngs, shape: tuple[int, ...], bound: float) -> nnx.Param:
    """An ``nnx.Param`` drawn from U(-bound, bound), torch's default layer init
    (``kaiming_uniform_(a=sqrt(5))`` gives bound = 1/sqrt(fan_in))."""
    return nnx.Param(uniform_array(rngs, shape, bound))


def normal_param(rngs: nnx.Rngs, shape: tuple[int, ...]) -> nnx.Param:
    """An ``nnx.Param`` drawn from N(0, 1) (torch's ``Embedding`` init)."""
    key = rngs.params()
    gen = _host_generator(key)
    if gen is None:
        return nnx.Param(jax.random.normal(key, shape, _param_dtype()))
    values = gen.standard_normal(shape, dtype=_param_dtype())
    return nnx.Param(jax.device_put(values))


def const_array(shape: tuple[int, ...], value: float, dtype=None) -> jax.Array:
    """An array of ``shape`` filled with ``value`` (default: JAX's default float),
    built by numpy and placed by ``jax.device_put`` (``jnp.full`` and ``jnp.asarray``
    compile one program per shape; ``device_put`` compiles none)."""
    dtype = jax.dtypes.canonicalize_dtype(np.float64 if dtype is None else dtype)
    return jax.device_put(np.full(shape, value, dtype))


def const_param(shape: tuple[int, ...], value: float, dtype=None) -> nnx.Param:
    """An ``nnx.Param`` filled with ``value`` (norm weights 1, biases 0)."""
    return nnx.Param(const_array(shape, value, dtype))


def place(module: nnx.Module, device=None, dtype=None) -> nnx.Module:
    """torch's ``device=`` / ``dtype=`` factory keywords applied to a new layer.

    ``dtype`` (a numpy/JAX/torch dtype or name) casts the layer's floating
    parameters and buffers (``to``'s rule; None keeps the default float);
    ``device`` (anything ``tensor_ops.device`` accepts: a ``jax.Device``, "cpu",
    "cuda:0", ...) puts every array of the layer there with ``jax.device_put``
    (None: JAX's default placement). Returns ``module``.
    """
    if dtype is not None:
        to(module, dtype)
    if device is not None:
        for _, variable in nnx.iter_graph(module):
            if isinstance(variable, nnx.Variable) and isinstance(
                variable.get_value(), jax.Array
            ):
                variable.set_value(_place_array(variable.get_value(), device))
    return module


class Buffer(nnx.Variable):
    """A non-trainable tensor of a module's state, torch's ``register_buffer``.

    torch: ``self.register_buffer(name, tensor, persistent=True)`` or
    ``self.name = torch.nn.Buffer(data=None, *, persistent=True)``; here
    ``self.name = Buffer(array)`` (``Buffer(array, persistent=False)`` for torch's
    non-persistent buffers). A persistent buffer is part of ``torch_state_dict``
    and ``load_torch_state_dict`` under its attribute name (a positional-encoding
    table, a mask, running statistics); every buffer is in ``nnx.state(model)``,
    so checkpoints save it and the training step carries it, but it is not an
    ``nnx.Param``: optimizers and gradients leave it alone. A plain
    ``nnx.Variable`` is none of these things to torch: use ``Buffer``.

    Args:
      data: the array (None: an empty one, as torch).
      persistent: include it in ``torch_state_dict`` (torch's default, True).

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Buffer, Linear, torch_state_dict
      >>> class Scaled(nnx.Module):
      ...     def __init__(self, rngs):
      ...         self.fc = Linear(2, 2, rngs=rngs)
      ...         self.scale = Buffer(jnp.full((2,), 0.5))
      ...     def __call__(self, x):
      ...         return self.fc(x) * self.scale[...]
      >>> list(torch_state_dict(Scaled(nnx.Rngs(0))))  # torch's order
      ['scale', 'fc.weight', 'fc.bias']
    """

    def __init__(self, data=None, *, persistent: bool = True, **metadata) -> None:
        if data is None:  # torch's Buffer() is an empty float tensor
            data = jnp.zeros((0,), _param_dtype())
        super().__init__(data, persistent=persistent, **metadata)


def to(model: nnx.Module, dtype) -> nnx.Module:
    """Cast every floating parameter and buffer of ``model`` to ``dtype``, in place.

    torch: ``model.to(dtype)`` / ``model.double()`` / ``model.half()``: floating
    ``nnx.Param``, ``nnx.BatchStat`` and ``Buffer`` leaves change dtype; integer
    ones (``num_batches_tracked``) and RNG state do not. float64 needs
    ``jax_enable_x64`` (without it JAX would silently keep float32, so this
    raises instead).

    Args:
      model: an NNX module. dtype: a floating dtype (``jnp.float64``,
        ``jnp.bfloat16``, ...).

    Returns:
      ``model`` (for chaining, as torch).

    Raises:
      TypeError: a non-floating ``dtype``. ValueError: a 64-bit dtype while
        ``jax_enable_x64`` is off.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Linear, to
      >>> to(Linear(2, 3, rngs=nnx.Rngs(0)), jnp.bfloat16).kernel.dtype
      dtype(bfloat16)
    """
    if type(dtype).__module__.startswith("torch"):  # torch.float64 -> "float64"
        dtype = str(dtype).removeprefix("torch.")
    dtype = np.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"to(model, dtype) casts floating parameters: expected a floating dtype, "
            f"got {dtype}"
        )
    if dtype.itemsize == 8 and not dtypes.x64_enabled():
        raise ValueError(
            f"to(model, {dtype}) needs 64-bit types: call "
            'jax.config.update("jax_enable_x64", True) first'
        )
    kinds = nnx.Param | nnx.BatchStat | Buffer
    for _, variable in nnx.iter_graph(model):
        if isinstance(variable, kinds) and jnp.issubdtype(variable.dtype, jnp.floating):
            variable.set_value(variable[...].astype(dtype))
    return model
