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
