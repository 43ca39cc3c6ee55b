"""Tests of ``jtoolkit/_src/train/state.py`` (``TrainState``).

Moved from test_train_engine.py when the tests were laid out to mirror the code; that
file's notes:

The functional train engine: TrainState, jitted train/eval steps, fused epoch.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jtoolkit.train import TrainState
from tests.train._harness import _Net


def test_state_fields_and_module_roundtrip():
    model = _Net(nnx.Rngs(0))
    state = TrainState.create(model, optax.adam(1e-3), seed=3)
    assert int(state.step) == 0 and state.step.dtype == jnp.int32
    assert jnp.issubdtype(state.key.dtype, jax.dtypes.prng_key)
    assert set(state.params) == {"fc1", "bn", "fc2"}
    assert "mean" not in state.params["bn"]
    rebuilt = state.module()
    np.testing.assert_array_equal(rebuilt.fc1.kernel[...], model.fc1.kernel[...])
    # state.model(x) is inference: eval mode (running stats, no dropout), no update
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    model.eval()
    np.testing.assert_allclose(state.model(x), model(x), rtol=1e-6)
    np.testing.assert_array_equal(state.model(x), state.model(x))


def test_create_rejects_non_module():
    with pytest.raises(TypeError, match=r"nnx\.Module"):
        TrainState.create({"w": 1.0}, optax.sgd(0.1))
    with pytest.raises(TypeError, match="GradientTransformation"):
        TrainState.create(nnx.Linear(2, 2, rngs=nnx.Rngs(0)), object())


def test_no_array_sits_in_two_leaves_so_the_step_can_donate_the_state():
    """A scheduled lr's state held one array as both ``lr`` and ``next_lr``; the
    first donated step then failed ("Attempt to donate the same buffer twice")."""
    import jtoolkit.optim as optim
    import jtoolkit.schedules as sched
    from jtoolkit.train import make_train_step

    opt = optim.adam(lr=sched.cosine_annealing_lr(1e-3, T_max=100))
    state = TrainState.create(_Net(nnx.Rngs(0)), opt)
    ids = [id(x) for x in jax.tree.leaves(state) if isinstance(x, jax.Array)]
    assert len(ids) == len(set(ids))

    def loss_fn(model, batch):
        x, y = batch
        return jnp.mean((model(x) - y) ** 2)

    step = make_train_step(loss_fn, opt)
    x = jnp.ones((4, 3), jnp.float32)
    state, metrics = step(state, (x, jnp.zeros((4, 2), jnp.float32)))
    assert np.isfinite(float(metrics["loss"]))


class _Odd(nnx.Module):
    """Shapes no other test uses, so eager ops could not hit JAX's in-memory cache."""

    def __init__(self, rngs: nnx.Rngs) -> None:
        self.conv = nnx.Conv(3, 5, (3, 3), rngs=rngs)
        self.bn = nnx.BatchNorm(5, rngs=rngs)
        self.fc = nnx.Linear(5, 7, rngs=rngs)

    def __call__(self, x):
        return self.fc(self.bn(self.conv(x)).mean(axis=(1, 2)))


def _programs_lowered(fn):
    """How many XLA programs ``fn()`` lowered (compiled, or read from the persistent
    cache): the ``jax.monitoring`` lowering event fires once per new program."""
    seen = []

    def on(event, secs, **_):
        if event == "/jax/core/compile/jaxpr_to_mlir_module_duration":
            seen.append(secs)

    jax.monitoring.register_event_duration_secs_listener(on)
    try:
        out = jax.block_until_ready(fn())
    finally:
        jax.monitoring.unregister_event_duration_listener(on)
    return out, len(seen)


def test_create_is_one_program_with_the_eager_numbers():
    """Copies, optimizer init, step and key compile as one program (run eagerly they
    were one tiny program per op and shape: 45 for a ResNet-8 with a schedule), and
    the values are the eager ones, bit for bit."""
    import jtoolkit.optim as optim
    import jtoolkit.schedules as sched

    opt = optim.sgd(
        sched.cosine_annealing_lr(0.1, T_max=3),
        momentum=0.9,
        weight_decay=5e-4,
        nesterov=True,
    )
    model = _Odd(nnx.Rngs(0))
    state, programs = _programs_lowered(
        lambda: TrainState.create(model, opt, seed=5, loss_scale=True)
    )
    assert programs == 1
    _, full = nnx.split(model)
    want = {
        "model": nnx.to_pure_dict(full),
        "opt_state": opt.init(state.params),
        "key": jax.random.key_data(jax.random.key(5)),
    }
    got = {
        "model": state.model.variables,
        "opt_state": state.opt_state,
        "key": jax.random.key_data(state.key),
    }
    assert jax.tree.structure(got) == jax.tree.structure(want)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # fresh buffers: the step donates the state, never the user's model
    ptrs = {x.unsafe_buffer_pointer() for x in jax.tree.leaves(full)}
    assert not ptrs & {x.unsafe_buffer_pointer() for x in jax.tree.leaves(state.model)}
