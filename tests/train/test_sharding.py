"""Tests of ``jtoolkit/_src/train/sharding.py`` (``state_shardings``).

Multi-device cases use the 8 CPU devices every test process has (root conftest).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import Mesh, PartitionSpec
from jax.sharding import PartitionSpec as P

from jtoolkit.train import state_shardings


def test_fsdp_shards_big_leaves_on_eight_devices_and_an_idle_axis_raises():
    """On the session's 8 CPU devices (root conftest)."""
    mesh = Mesh(np.array(jax.devices()), ("data",))
    params = {
        "big": jnp.ones((1000, 24)),
        "odd": jnp.ones((1001, 3)),
        "small": jnp.ones((8,)),
    }
    state = {"params": params, "opt": optax.adam(1e-3).init(params)}
    rep = state_shardings(state, mesh, "replicated")
    fsdp = state_shardings(state, mesh, "fsdp")
    assert all(s.spec == P() for s in jax.tree.leaves(rep))
    assert fsdp["params"]["big"].spec == P("data"), fsdp["params"]["big"].spec
    assert fsdp["params"]["odd"].spec == P(), fsdp["params"]["odd"].spec  # 1001, 3
    assert fsdp["params"]["small"].spec == P()
    placed = jax.device_put(state, fsdp)
    shard = placed["params"]["big"].addressable_shards[0].data.shape
    assert shard == (125, 24), shard

    def per_dev(t):
        return sum(x.addressable_shards[0].data.nbytes for x in jax.tree.leaves(t))

    full = per_dev(jax.device_put(state, rep))
    ratio = per_dev(placed) / full
    assert ratio < 0.3, ratio  # the big leaf and its two Adam moments are 1/8 each
    assert np.array_equal(np.asarray(placed["params"]["big"]), np.ones((1000, 24)))

    mesh2 = Mesh(np.array(jax.devices()).reshape(4, 2), ("data", "model"))
    layout = {r"big$": P(None, "model")}
    lay = state_shardings(params, mesh2, layout)
    assert lay["big"].spec == P(None, "model") and lay["small"].spec == P()
    with pytest.raises(ValueError, match="'model'"):
        state_shardings(params, mesh2, "fsdp")


def test_one_device_policies_and_errors():
    mesh = Mesh(np.array(jax.devices()[:1]), ("data",))
    tree = {"w": jnp.zeros((2048, 4)), "b": jnp.zeros(4)}
    specs = state_shardings(tree, mesh, "fsdp")
    assert specs["w"].spec == PartitionSpec() and specs["b"].spec == PartitionSpec()
    with pytest.raises(ValueError, match="policy must be"):
        state_shardings(tree, mesh, "zero3")
    with pytest.raises(ValueError, match="names mesh axis 'model'"):
        state_shardings(tree, mesh, {"w": PartitionSpec("model")})
    with pytest.raises(TypeError, match="PartitionSpec"):
        state_shardings(tree, mesh, {"w": ("data",)})
    layout = state_shardings(tree, "auto", {"^w$": PartitionSpec(None, None)})
    assert layout["w"].spec == PartitionSpec(None, None)
