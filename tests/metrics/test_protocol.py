"""The metric protocol: one program per method call, jitted once inside a user's
jit, and on 8 devices (sharded batch, per-shard states merged, or a psum of counts
inside shard_map) equal to one device."""

from __future__ import annotations

import functools

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jtoolkit import metrics

from ._harness import compiled_programs


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


def test_eager_update_and_compute_compile_one_program_each():
    """Called eagerly, each method runs one program (run primitive by primitive,
    these calls compiled 32); a second batch of the same shapes compiles nothing,
    nor do metrics whose update math is the same (``ignore_index``, ``average``
    and the metric's class are not in its key); inside a user's jit the methods
    inline into the user's one program."""
    rng = np.random.default_rng(0)
    preds = rng.standard_normal((13, 3)).astype(np.float32)
    target, mask = rng.integers(0, 3, 13), np.arange(13) < 11
    m = metrics.Precision(task="multiclass", num_classes=3, average="macro")
    jax.clear_caches()  # a program an earlier test compiled would hide one here
    with compiled_programs() as names:
        state = m.update(m.update(m.init(), preds, target, mask), preds, target, mask)
        value = m.compute(m.merge(state, state))
    assert sorted(names) == [
        "jit(_compute)",
        "jit(_filled)",
        "jit(_update)",
        "jit(merge_sum)",
    ], names
    np.testing.assert_allclose(value, m.compute(state), rtol=1e-6)  # doubled counts
    with compiled_programs() as names:
        for m in (
            metrics.Recall(task="multiclass", num_classes=3, ignore_index=0),
            metrics.F1Score(task="multiclass", num_classes=3, ignore_index=2),
            metrics.Accuracy(task="multiclass", num_classes=3, average="weighted"),
        ):
            m.update(m.init(), preds, target, mask)
    assert names == [], names
    with compiled_programs() as names:
        jax.jit(m.update)(m.init(), preds, target, mask)
    assert names == ["jit(update)"], names


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
        state = step(m.init(), p, t, mask)
        single = m.compute(state)
        placed = (jax.device_put(a, rows) for a in (p, t, mask))
        # equal states give equal values: no second compute program for the
        # sharded state's placement
        jax.tree.map(
            lambda a, b, m=m: np.testing.assert_allclose(
                a, b, rtol=1e-6, atol=1e-7, err_msg=str(m)
            ),
            step(m.init(), *placed),
            state,
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
        merged = functools.reduce(m.merge, parts)
        np.testing.assert_allclose(
            m.compute(merged), single, rtol=1e-6, atol=1e-7, err_msg=str(m)
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
