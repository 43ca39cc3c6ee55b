"""Tests of ``jtoolkit/_src/train/cpu_devices.py`` (``use_cpu_cores``).

JAX has started in the test process, so in-process the function can only confirm
the count it already has or refuse another; one fresh process shows that the call
before JAX starts gives that many CPU devices and a ``mesh="auto"`` step over them.
"""

import os
import subprocess
import sys
import textwrap

import jax
import pytest

from jtoolkit._src.train.cpu_devices import usable_cores, use_cpu_cores


def test_usable_cores_is_the_affinity_mask():
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        assert usable_cores() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "2"])
def test_bad_count_raises_value_error_naming_it(bad):
    with pytest.raises(ValueError, match=r"count must be an int >= 1.*got"):
        use_cpu_cores(bad)


def test_after_jax_started_same_count_is_kept_another_refused():
    have = len(jax.devices("cpu"))
    assert use_cpu_cores(have) == have
    refused = rf"already started with {have} CPU.*import jax"
    with pytest.raises(RuntimeError, match=refused):
        use_cpu_cores(have + 1)
    assert len(jax.devices("cpu")) == have


def test_before_jax_starts_gives_that_many_devices_and_a_split_step(tmp_path):
    script = textwrap.dedent(
        """
        import jax
        from jtoolkit.train import use_cpu_cores
        assert use_cpu_cores(3) == 3
        import jax.numpy as jnp, optax
        from flax import nnx
        from jtoolkit.train import TrainState, make_train_step
        net = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
        step = make_train_step(lambda m, b: (m(b) ** 2).mean(), optax.sgd(0.1),
                               mesh="auto")
        state, m = step(step.place(TrainState.create(net, optax.sgd(0.1))),
                        jnp.ones((6, 2)))
        print(len(jax.devices()), step.mesh.size, float(m["loss"]) > 0)
        """
    )
    env = {**os.environ, "JTOOLKIT_COMPILATION_CACHE": "0"}
    env.pop("XLA_FLAGS", None)
    env.pop("JAX_NUM_CPU_DEVICES", None)
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3", "3", "True"]
