"""Data parallelism: the same jitted step over a batch sharded across devices.

The step is a plain ``jax.jit``, so a batch placed with a ``NamedSharding`` (here by
``prefetch_to_device``) is split over the devices and the state is replicated; the
losses and parameters equal a single-device run. Fake CPU devices need ``XLA_FLAGS``
before JAX starts, hence the subprocess.
"""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import jax
    import numpy as np
    from flax import nnx
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    from jtoolkit import data, losses, models, optim
    from jtoolkit.train import TrainState, make_train_step

    assert jax.device_count() == 4, jax.devices()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 16)).astype(np.float32)
    y = rng.integers(0, 3, 64).astype(np.int32)
    opt = optim.adam(1e-2)


    def loss_fn(model, batch):
        return losses.cross_entropy(model(batch[0]), batch[1])


    def run(placement):
        net = models.MLP([16, 32, 3], rngs=nnx.Rngs(0))
        state = TrainState.create(net, opt, seed=0)
        step = make_train_step(loss_fn, opt)
        loader = data.DataLoader(
            data.ArrayDataset(x, y), batch_size=16, shuffle=True, seed=1
        )
        out, spread = [], set()
        for batch in data.prefetch_to_device(loader, 2, placement):
            spread.add(len(batch[0].sharding.device_set))
            state, metrics = step(state, batch)
            out.append(float(metrics["loss"]))
        return out, jax.tree.leaves(state.model), spread


    mesh = Mesh(np.array(jax.devices()), ("data",))
    losses_dp, params_dp, spread_dp = run(NamedSharding(mesh, PartitionSpec("data")))
    losses_1, params_1, spread_1 = run(jax.devices()[0])
    assert spread_dp == {4} and spread_1 == {1}, (spread_dp, spread_1)
    np.testing.assert_allclose(losses_dp, losses_1, rtol=1e-5)
    for a, b in zip(params_dp, params_1, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    print("ok", losses_dp)
    """
)


def test_data_parallel_step_equals_single_device():
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok")
