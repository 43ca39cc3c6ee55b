"""Tests of ``jtoolkit/_src/train/fused.py`` (``make_fused_epoch``).

Moved from test_train_engine.py when the tests were laid out to mirror the code; that
file's notes:

The functional train engine: TrainState, jitted train/eval steps, fused epoch.
"""

import jax
import numpy as np
import optax
import pytest
from flax import nnx

from jtoolkit.train import TrainState, make_fused_epoch, make_train_step
from tests.train._harness import _per_example_ce


def test_fused_epoch_matches_step_loop(rng):
    opt = optax.adam(1e-2)
    n, bs = 10, 4
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    key = jax.random.key(7)
    epoch = make_fused_epoch(_per_example_ce, opt, batch_size=bs)
    net = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    fused, metrics = epoch(TrainState.create(net, opt), (x, y), key)
    assert metrics["loss"].shape == (3,) and int(fused.step) == 3
    # The same order by hand through the per-batch step.
    order = np.asarray(jax.random.permutation(key, n))
    step = make_train_step(_per_example_ce, opt)
    state = TrainState.create(net, opt)
    for i in range(0, n, bs):
        rows = order[i : i + bs]
        mask = np.zeros(bs, np.float32)
        mask[: len(rows)] = 1
        rows = np.concatenate([rows, np.full(bs - len(rows), order[-1])])
        state, m = step(state, (x[rows], y[rows]), mask)
        np.testing.assert_allclose(
            float(m["loss"]), metrics["loss"][i // bs], rtol=1e-5
        )
    for u, v in zip(
        jax.tree.leaves(state.model), jax.tree.leaves(fused.model), strict=True
    ):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="batch_size"):
        make_fused_epoch(_per_example_ce, opt, batch_size=0)
