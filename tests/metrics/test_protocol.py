"""The metric protocol: jitted once, and on 8 devices (sharded batch, per-shard
states merged, or a psum of counts inside shard_map) equal to one device."""

from __future__ import annotations

import functools

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jtoolkit import metrics


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


def test_eight_devices_equal_one():
    """The session's 8 CPU devices (root conftest): a sharded batch, per-device
    states merged, and a psum inside shard_map each equal one device."""
    assert jax.device_count() == 8, jax.devices()
    mesh = Mesh(np.array(jax.devices()), ("data",))
    rows = NamedSharding(mesh, P("data"))
    rng = np.random.default_rng(0)
    n = 64
    cases = [
        (
            metrics.Accuracy(task="multiclass", num_classes=5, top_k=2),
            rng.standard_normal((n, 5)),
            rng.integers(0, 5, n),
        ),
        (
            metrics.F1Score(task="multilabel", num_labels=3, average="macro"),
            rng.random((n, 3)),
            rng.integers(0, 2, (n, 3)),
        ),
        (metrics.ConfusionMatrix(task="binary"), rng.random(n), rng.integers(0, 2, n)),
        (
            metrics.AUROC(task="multiclass", num_classes=4, capacity=n),
            rng.standard_normal((n, 4)),
            rng.integers(0, 4, n),
        ),
        (
            metrics.AUROC(task="binary", thresholds=11),
            rng.random(n),
            rng.integers(0, 2, n),
        ),
        (metrics.MeanSquaredError(), rng.random(n), rng.random(n)),
        (
            metrics.Perplexity(),
            rng.standard_normal((n, 3, 6)),
            rng.integers(0, 6, (n, 3)),
        ),
    ]
    mask = np.arange(n) < 53  # a padded last batch
    for m, p, t in cases:
        p = p.astype(np.float32)
        step = jax.jit(lambda s, p, t, k, m=m: m.update(s, p, t, k))
        # jitted once per metric: eagerly, each op of compute/merge compiles its own
        # program (their eager path is checked in the metric's own tests)
        compute, merge = jax.jit(m.compute), jax.jit(m.merge)
        single = compute(step(m.init(), p, t, mask))
        placed = (jax.device_put(a, rows) for a in (p, t, mask))
        sharded = compute(step(m.init(), *placed))
        np.testing.assert_allclose(
            sharded, single, rtol=1e-6, atol=1e-7, err_msg=str(m)
        )
        # Each device updates its own state from its shard (one program, stacked
        # states out); the 8 states merged on the host equal one device.
        stacked = jax.jit(
            jax.shard_map(
                lambda p, t, k, m=m: jax.tree.map(
                    lambda x: x[None], m.update(m.init(), p, t, k)
                ),
                mesh=mesh,
                in_specs=(P("data"),) * 3,
                out_specs=P("data"),
            )
        )(p, t, mask)
        host = jax.device_get(stacked)  # sliced in numpy: no program per slice
        parts = [jax.tree.map(lambda x, i=i: x[i], host) for i in range(8)]
        merged = functools.reduce(merge, parts)
        np.testing.assert_allclose(
            compute(merged), single, rtol=1e-6, atol=1e-7, err_msg=str(m)
        )
    acc = metrics.Accuracy(task="multiclass", num_classes=5)
    p, t = rng.standard_normal((n, 5)).astype(np.float32), rng.integers(0, 5, n)

    @functools.partial(
        jax.shard_map, mesh=mesh, in_specs=(P("data"),) * 3, out_specs=P()
    )
    def psum_update(p, t, k):
        return jax.lax.psum(acc.update(acc.init(), p, t, k), "data")

    got = acc.compute(psum_update(p, t, mask))
    want = acc.compute(acc.update(acc.init(), p, t, mask))
    assert float(got) == float(want), (got, want)
