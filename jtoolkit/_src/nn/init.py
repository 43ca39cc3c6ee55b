"""torch's default initialisations for jtoolkit layers, drawn on the host.

Each parameter is drawn with numpy from a seed taken from the layer's
``rngs.params()`` key and placed with one ``jax.device_put``, so building a model
compiles nothing per parameter shape (``jax.random.uniform`` eagerly compiles one
program per shape; a small CNN used to spend seconds in it). The model stays a
deterministic function of ``nnx.Rngs(seed)``. When the key is a tracer (the model
is built inside ``jax.jit``, ``nnx.jit`` or ``nnx.eval_shape``) the same
distributions are drawn with ``jax.random`` instead, so abstract construction works.
"""

from __future__ import annotations

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from flax import nnx

__all__: list[str] = []


def _host_generator(key: jax.Array) -> np.random.Generator | None:
    """A numpy generator seeded by a concrete ``key``; None for a traced key."""
    if isinstance(key, jax.core.Tracer):
        return None
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.random.default_rng(np.asarray(key, np.uint32).ravel())


def uniform_array(rngs: nnx.Rngs, shape: tuple[int, ...], bound: float) -> jax.Array:
    """float32 values from U(-bound, bound) of ``shape``, keyed by ``rngs.params()``."""
    key = rngs.params()
    gen = _host_generator(key)
    if gen is None:
        return jax.random.uniform(key, shape, jnp.float32, -bound, bound)
    values = gen.uniform(-bound, bound, size=shape).astype(np.float32)
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
        return nnx.Param(jax.random.normal(key, shape, jnp.float32))
    return nnx.Param(jax.device_put(gen.standard_normal(shape, dtype=np.float32)))


def const_array(shape: tuple[int, ...], value: float, dtype=None) -> jax.Array:
    """An array of ``shape`` filled with ``value`` (default: JAX's default float),
    built by numpy and placed by ``jax.device_put`` (``jnp.full`` and ``jnp.asarray``
    compile one program per shape; ``device_put`` compiles none)."""
    dtype = jax.dtypes.canonicalize_dtype(np.float64 if dtype is None else dtype)
    return jax.device_put(np.full(shape, value, dtype))


def const_param(shape: tuple[int, ...], value: float, dtype=None) -> nnx.Param:
    """An ``nnx.Param`` filled with ``value`` (norm weights 1, biases 0)."""
    return nnx.Param(const_array(shape, value, dtype))
