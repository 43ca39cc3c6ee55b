"""The test session's JAX setup (root conftest.py): 8 CPU devices in every pytest
process, yet nothing runs sharded unless a test asks for it; one compilation cache
shared with the processes tests start."""

import os

import jax
import jax.numpy as jnp
import numpy as np


def test_eight_cpu_devices_and_plain_code_stays_on_one():
    assert jax.device_count() == 8, jax.devices()
    x = jnp.arange(16.0).reshape(4, 4)
    y = jax.jit(lambda a: a @ a.T + 1)(x)
    assert x.devices() == y.devices() == {jax.devices()[0]}
    z = jax.jit(lambda a: a * 2)(np.ones(8, np.float32))  # numpy in: device 0
    assert z.devices() == {jax.devices()[0]}


def test_the_compilation_cache_is_shared_through_the_environment():
    if os.environ.get("JTOOLKIT_TEST_COMPILATION_CACHE", "1") == "0":
        assert os.environ["JTOOLKIT_COMPILATION_CACHE"] == "0"
        return
    folder = os.environ["JAX_COMPILATION_CACHE_DIR"]
    assert jax.config.jax_compilation_cache_dir == folder
    assert os.environ["JTOOLKIT_COMPILATION_CACHE"] == "1"
    assert float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]) == 0
    jax.jit(lambda a: a - 3)(jnp.ones(5)).block_until_ready()
    assert os.path.isdir(folder) and os.listdir(folder), folder
