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
