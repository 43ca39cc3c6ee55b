"""Root conftest: the test session's JAX setup and the names available to every
docstring example (``--doctest-modules``).

Every pytest process (the xdist controller and each worker) sees **8 CPU devices**,
set here before any JAX backend starts, so multi-device tests run in-process
instead of in a fresh interpreter with ``XLA_FLAGS``. Nothing else is sharded by
it: an uncommitted array and a plain ``jax.jit`` still live on device 0 only
(tests/repo/test_session.py checks that).

One **persistent XLA compilation cache** is shared by the whole session: the first
process to load this file (the controller) points ``JAX_COMPILATION_CACHE_DIR`` at a
fresh temporary folder (unless the caller set one), and xdist workers and the
subprocesses tests start inherit it through the environment, so a train step one
process compiled is read back by the next (CLI, launch and kill/resume tests start
many processes that compile the same programs). ``JTOOLKIT_TEST_COMPILATION_CACHE=0``
turns it off (to measure what it saves).
"""

import atexit
import os
import shutil
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

# Memory and compile accounting for every item, doctests included (tests/_session.py).
pytest_plugins = ["tests._session"]

CPU_DEVICES = 8
jax.config.update("jax_num_cpu_devices", CPU_DEVICES)


def _share_compilation_cache() -> None:
    """Point this process and its children at one session-wide compilation cache."""
    if os.environ.get("JTOOLKIT_TEST_COMPILATION_CACHE", "1") == "0":
        os.environ["JTOOLKIT_COMPILATION_CACHE"] = "0"
        return
    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        folder = tempfile.mkdtemp(prefix="jtoolkit-xla-cache-")
        os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    # Every compiled program is cached, not only those over a second (the default).
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    os.environ["JTOOLKIT_COMPILATION_CACHE"] = "1"
    # jax read its environment when it was imported above: tell it too.
    jax.config.update(
        "jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"]
    )
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


_share_compilation_cache()


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(np=np, jnp=jnp, jax=jax)
