"""Helpers shared by the tests of tests/checkpoint/ (one copy per area)."""

import jax.numpy as jnp

_TARGET = {"b": jnp.zeros(3), "w": jnp.zeros((200, 100))}


def _state(value):
    w = jnp.arange(20000, dtype=jnp.float32).reshape(200, 100) + value
    return {"b": jnp.full(3, float(value)), "w": w}


def _layout(name):
    """A sharding of ``(8, 4)`` arrays: ``sharded8``/``replicated8`` over 8 CPU
    devices, ``sharded2`` over 2, ``single`` on one (skips below 8 devices)."""
    import jax
    import numpy as np
    import pytest
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    if len(jax.devices()) < 8:
        pytest.skip("needs 8 devices (jax_num_cpu_devices=8)")
    if name == "single":
        return jax.sharding.SingleDeviceSharding(jax.devices()[0])
    count = 2 if name == "sharded2" else 8
    mesh = Mesh(np.array(jax.devices()[:count]), ("data",))
    spec = PartitionSpec() if name == "replicated8" else PartitionSpec("data")
    return NamedSharding(mesh, spec)


def _placed_state(sharding, value=1.0):
    """A small state on ``sharding``: a float matrix, an int vector, a PRNG key."""
    import jax
    import numpy as np

    w = np.arange(32, dtype=np.float32).reshape(8, 4) + value
    n = np.arange(8, dtype=np.int32) * int(value)
    key_sharding = sharding  # a scalar key: replicated over the mesh, if any
    if isinstance(sharding, jax.sharding.NamedSharding):
        spec = jax.sharding.PartitionSpec()
        key_sharding = jax.sharding.NamedSharding(sharding.mesh, spec)
    return {
        "w": jax.device_put(w, sharding),
        "n": jax.device_put(n, sharding),
        "key": jax.device_put(jax.random.key(int(value)), key_sharding),
    }


def cross_topology(mode, directory):
    """Save (``mode="save"``) or restore and check (``"restore"``) a small state
    sharded over every device of every process: rows of ``w`` and ``n`` split on
    one ``"data"`` axis, ``b`` replicated. Any process count that divides 8."""
    import jax
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    from jtoolkit.checkpoint import restore_checkpoint, save_checkpoint

    mesh = Mesh(np.array(jax.devices()), ("data",))
    split = NamedSharding(mesh, PartitionSpec("data"))
    whole = NamedSharding(mesh, PartitionSpec())
    host = {
        "b": np.array([1.5, -2.0, 3.0], np.float32),
        "n": np.arange(8, dtype=np.int32) * 7,
        "w": np.arange(32, dtype=np.float32).reshape(8, 4) / 3,
    }
    where = {"b": whole, "n": split, "w": split}

    def placed(fill):
        return {
            k: jax.make_array_from_callback(
                v.shape, where[k], lambda i, v=v: fill(v)[i]
            )
            for k, v in host.items()
        }

    if mode == "save":
        save_checkpoint(directory, placed(lambda v: v), 1)
        return
    out = restore_checkpoint(directory, placed(np.zeros_like))
    for k, v in out.items():
        assert v.sharding == where[k], (k, v.sharding)
        for shard in v.addressable_shards:
            np.testing.assert_array_equal(np.asarray(shard.data), host[k][shard.index])
