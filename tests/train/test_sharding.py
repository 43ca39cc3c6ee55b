"""Tests of ``jtoolkit/_src/train/sharding.py``: ``state_shardings`` and the steps,
``fit`` and ``TrainState.create`` that place the state with it (FSDP, layouts,
``nnx.with_partitioning``).

The multi-device tests run in-process on the first 8 devices and skip when there
are fewer (the suite's workers start with 8 fake CPU devices; by hand:
``XLA_FLAGS=--xla_force_host_platform_device_count=8 pytest ...``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from jtoolkit import data, losses, models
from jtoolkit.train import (
    TrainState,
    fit,
    make_eval_step,
    make_train_step,
    state_shardings,
)
from tests.train._harness import _host, _mesh8, _per_device_bytes


def _loss(model, batch):
    return losses.cross_entropy(model(batch[0]), batch[1], reduction="none")


def _batch(n=16, features=64, classes=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    return x, rng.integers(0, classes, n).astype(np.int32)


def _mlp():
    return models.MLP([64, 256, 64], rngs=nnx.Rngs(0))


_ADAM = optax.adam(1e-2)


@pytest.fixture(scope="module")
def fsdp():
    """An 8-device mesh and one FSDP step over it, compiled once for the module."""
    mesh = _mesh8()
    return mesh, make_train_step(_loss, _ADAM, mesh=mesh, shard="fsdp")


def _close(a, b, rtol=1e-5):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(_host(v), _host(u), rtol=rtol, atol=1e-6)


def test_policies_and_errors_on_one_device():
    mesh = Mesh(np.array(jax.devices()[:1]), ("data",))
    tree = {"w": jnp.zeros((2048, 4)), "b": jnp.zeros(4)}
    specs = state_shardings(tree, mesh, "fsdp")
    assert specs["w"].spec == P() and specs["b"].spec == P()
    with pytest.raises(ValueError, match="policy must be"):
        state_shardings(tree, mesh, "zero3")
    with pytest.raises(ValueError, match="names mesh axis 'model'"):
        state_shardings(tree, mesh, {"w": P("model")})
    with pytest.raises(TypeError, match="PartitionSpec"):
        state_shardings(tree, mesh, {"w": ("data",)})
    layout = state_shardings(tree, "auto", {"^w$": P(None, None)})
    assert layout["w"].spec == P(None, None)
    with pytest.raises(ValueError, match="needs mesh="):
        TrainState.create(_mlp(), optax.sgd(0.1), shard="fsdp")


def test_fsdp_shards_big_leaves_and_a_spec_must_divide():
    mesh = _mesh8()
    params = {"big": jnp.ones((1000, 24)), "odd": jnp.ones((1001, 3)), "b": jnp.ones(8)}
    state = {"params": params, "opt": optax.adam(1e-3).init(params)}
    fsdp = state_shardings(state, mesh, "fsdp")
    assert all(s.spec == P() for s in jax.tree.leaves(state_shardings(state, mesh)))
    assert fsdp["params"]["big"].spec == P("data")
    assert fsdp["opt"][0].mu["big"].spec == P("data")  # the moments follow
    assert fsdp["params"]["odd"].spec == P() and fsdp["params"]["b"].spec == P()
    with pytest.raises(
        ValueError, match=r"odd' of shape \(1001, 3\).*does not divide by 8"
    ):
        state_shardings(state, mesh, {"odd": P("data")})


def test_fsdp_step_equals_one_device_and_holds_an_eighth(fsdp):
    (mesh, eight), opt = fsdp, _ADAM
    one = make_train_step(_loss, opt)
    s1 = TrainState.create(_mlp(), opt)
    s8 = TrainState.create(_mlp(), opt, mesh=mesh, shard="fsdp")
    replicated = _per_device_bytes(TrainState.create(_mlp(), opt, mesh=mesh))
    assert _per_device_bytes(s8) <= replicated / 7, (_per_device_bytes(s8), replicated)
    batch = _batch()
    for _ in range(3):
        s1, m1 = one(s1, batch)
        before = s8
        s8, m8 = eight(s8, batch)
        assert before.model["layers"][0]["kernel"].is_deleted()  # donated
        np.testing.assert_allclose(m8["loss"], m1["loss"], rtol=1e-5)
    _close(s1.model, s8.model)
    kernel = s8.opt_state[0].mu["layers"][0]["kernel"]
    assert kernel.sharding.spec == P(None, "data")  # the state stays sharded
    assert kernel.addressable_shards[0].data.shape == (64, 32)
    ev = make_eval_step(_loss, mesh=mesh, shard="fsdp")
    np.testing.assert_allclose(
        ev(s8, batch)["loss"], make_eval_step(_loss)(s1, batch)["loss"], rtol=1e-5
    )
    with pytest.raises(ValueError, match=r"step\.place\(state\)"):
        eight(TrainState.create(_mlp(), opt, mesh=mesh), batch)


def test_abstract_create_never_builds_the_whole_state_and_matches(fsdp):
    (mesh, step), opt = fsdp, _ADAM
    state = TrainState.create(_mlp, opt, mesh=mesh, shard="fsdp")
    rep = TrainState.create(_mlp, opt, mesh=mesh)
    kernel = state.model["layers"][2]["kernel"]  # (256, 64): split on dim 0
    assert kernel.sharding.spec == P("data") and kernel.shape == (256, 64)
    _close(rep, state, rtol=0)  # jax.random draws: the same values at any sharding
    state, _ = step(state, _batch())
    compiled = step.jitted._cache_size()
    state, _ = step(state, _batch())
    assert step.jitted._cache_size() == compiled


def test_fit_fsdp_equals_replicated_with_validation():
    mesh, opt = _mesh8(), optax.adam(1e-2)
    x, y = _batch(40)
    history = {}
    for shard in (None, "fsdp"):
        step = make_train_step(_loss, opt)
        loader = data.DataLoader(data.ArrayDataset(x, y), batch_size=16, shuffle=True)
        val = data.DataLoader(data.ArrayDataset(x[:16], y[:16]), batch_size=8)
        state, history[shard] = fit(
            TrainState.create(_mlp(), opt),
            step,
            loader,
            2,
            validation=val,
            eval_step=make_eval_step(_loss),
            mesh=mesh,
            shard=shard,
            progress=False,
        )
    assert state.model["layers"][0]["kernel"].sharding.spec == P(None, "data")
    for a, b in zip(history[None], history["fsdp"], strict=True):
        for key in ("train_loss", "val_loss"):
            np.testing.assert_allclose(b[key], a[key], rtol=1e-5)
    with pytest.raises(ValueError, match="needs a mesh"):
        fit(
            TrainState.create(_mlp(), opt),
            make_train_step(_loss, opt),
            [],
            1,
            shard="fsdp",
            progress=False,
        )


class _Annotated(nnx.Module):
    """fc1's kernel split over "model" by its annotation (Megatron's column split),
    fc2 left to a layout (row split)."""

    def __init__(self, rngs):
        split = nnx.with_partitioning(nnx.initializers.lecun_normal(), (None, "model"))
        self.fc1 = nnx.Linear(16, 32, kernel_init=split, rngs=rngs)
        self.fc2 = nnx.Linear(32, 8, rngs=rngs)

    def __call__(self, x):
        return self.fc2(nnx.relu(self.fc1(x)))


def test_layouts_and_annotations_on_a_2d_mesh_equal_one_device():
    mesh, opt = _mesh8((2, 4), ("data", "model")), optax.adam(1e-2)
    layout = {r"fc2/kernel$": P("model", None)}
    with nnx.use_eager_sharding(False):
        model = _Annotated(nnx.Rngs(0))
    batch = _batch(8, 16, 8)
    s1, one = TrainState.create(model, opt), make_train_step(_loss, opt)
    s2 = TrainState.create(model, opt, mesh=mesh, shard=layout)
    two = make_train_step(_loss, opt, mesh=mesh, shard=layout)
    for _ in range(2):
        s1, m1 = one(s1, batch)
        s2, m2 = two(s2, batch)
        np.testing.assert_allclose(m2["loss"], m1["loss"], rtol=1e-5)
    _close(s1.model, s2.model)
    assert s2.model["fc1"]["kernel"].sharding.spec == P(None, "model")  # annotation
    assert s2.opt_state[0].nu["fc1"]["kernel"].sharding.spec == P(None, "model")
    assert s2.model["fc2"]["kernel"].sharding.spec == P("model", None)  # layout
    assert s2.model["fc2"]["bias"].sharding.spec == P()
    # Built abstractly under the mesh, the annotation shards it at creation.
    built = TrainState.create(lambda: _Annotated(nnx.Rngs(0)), opt, mesh=mesh)
    assert built.model["fc1"]["kernel"].addressable_shards[0].data.shape == (16, 8)
    # fit(mesh=) with the default policy honours the annotation too.
    loader = [(batch[0], batch[1])]
    state, _ = fit(
        TrainState.create(model, opt), one, loader, 1, mesh=mesh, progress=False
    )
    assert state.model["fc1"]["kernel"].sharding.spec == P(None, "model")
    # An axis that nothing uses would duplicate work: an error, not a warning.
    with pytest.raises(ValueError, match="mesh axis 'model'"):
        TrainState.create(_mlp(), opt, mesh=mesh, shard="fsdp")
    with pytest.raises(ValueError, match="mesh axis 'model'"):
        fit(
            TrainState.create(_mlp(), opt),
            one,
            [_batch(8)],
            1,
            mesh=mesh,
            progress=False,
        )
