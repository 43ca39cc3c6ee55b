"""The metric protocol: jitted once, and on 8 devices (sharded batch, per-shard
states merged, or a psum of counts inside shard_map) equal to one device."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from jtoolkit import metrics

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EIGHT_DEVICES = textwrap.dedent(
    """
    import functools
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    from jtoolkit import metrics
    assert jax.device_count() == 8, jax.devices()
    mesh = Mesh(np.array(jax.devices()), ("data",))
    rows = NamedSharding(mesh, P("data"))
    rng = np.random.default_rng(0)
    n = 64
    cases = [
        (metrics.Accuracy(task="multiclass", num_classes=5, top_k=2),
         rng.standard_normal((n, 5)), rng.integers(0, 5, n)),
        (metrics.F1Score(task="multilabel", num_labels=3, average="macro"),
         rng.random((n, 3)), rng.integers(0, 2, (n, 3))),
        (metrics.ConfusionMatrix(task="binary"), rng.random(n), rng.integers(0, 2, n)),
        (metrics.AUROC(task="multiclass", num_classes=4, capacity=n),
         rng.standard_normal((n, 4)), rng.integers(0, 4, n)),
        (metrics.AUROC(task="binary", thresholds=11), rng.random(n),
         rng.integers(0, 2, n)),
        (metrics.MeanSquaredError(), rng.random(n), rng.random(n)),
        (metrics.Perplexity(), rng.standard_normal((n, 3, 6)),
         rng.integers(0, 6, (n, 3))),
    ]
    mask = np.arange(n) < 53  # a padded last batch
    for m, p, t in cases:
        p = p.astype(np.float32)
        single = m.compute(m.update(m.init(), p, t, mask))
        step = jax.jit(lambda s, p, t, k, m=m: m.update(s, p, t, k))
        put = lambda a: jax.device_put(a, rows)
        sharded = m.compute(step(m.init(), put(p), put(t), put(mask)))
        np.testing.assert_allclose(sharded, single, rtol=1e-6, atol=1e-7,
                                   err_msg=str(m))
        parts = [
            step(m.init(), *(jax.device_put(a[i::8], d) for a in (p, t, mask)))
            for i, d in enumerate(jax.devices())
        ]
        merged = functools.reduce(m.merge, [jax.device_get(s) for s in parts])
        np.testing.assert_allclose(m.compute(merged), single, rtol=1e-6, atol=1e-7,
                                   err_msg=str(m))
    acc = metrics.Accuracy(task="multiclass", num_classes=5)
    p, t = rng.standard_normal((n, 5)).astype(np.float32), rng.integers(0, 5, n)

    @functools.partial(jax.shard_map, mesh=mesh, in_specs=(P("data"),) * 3,
                       out_specs=P())
    def psum_update(p, t, k):
        return jax.lax.psum(acc.update(acc.init(), p, t, k), "data")

    got = acc.compute(psum_update(p, t, mask))
    want = acc.compute(acc.update(acc.init(), p, t, mask))
    assert float(got) == float(want), (got, want)
    print("OK 8 devices")
    """
)


def test_update_is_jitted_once():
    m = metrics.Precision(task="multiclass", num_classes=3, average="macro")
    step = jax.jit(m.update)
    rng = np.random.default_rng(0)
    state = m.init()
    for _ in range(3):
        preds = rng.standard_normal((8, 3)).astype(np.float32)
        state = step(state, preds, rng.integers(0, 3, 8))
    assert step._cache_size() == 1
    assert int(np.sum(state.tp + state.fn)) == 24


@pytest.mark.slow
def test_eight_fake_devices_equal_one():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run(
        [sys.executable, "-c", EIGHT_DEVICES],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert "OK 8 devices" in out.stdout
