"""Helpers shared by the tests of tests/train/ (one copy per area)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jtoolkit import losses, models, optim
from jtoolkit.train import (
    TrainState,
    make_eval_step,
    make_train_step,
)


class _Net(nnx.Module):
    """Linear -> BatchNorm -> Dropout -> Linear: every kind of NNX state."""

    def __init__(self, rngs, p=0.5):
        self.fc1 = nnx.Linear(3, 8, rngs=rngs)
        self.bn = nnx.BatchNorm(8, rngs=rngs)
        self.drop = nnx.Dropout(p, rngs=rngs)
        self.fc2 = nnx.Linear(8, 2, rngs=rngs)

    def __call__(self, x):
        return self.fc2(self.drop(nnx.relu(self.bn(self.fc1(x)))))


def _per_example_ce(model, batch):
    x, y = batch
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y)


def _mean_ce(model, batch):
    return jnp.mean(_per_example_ce(model, batch))


def _data(rng, n=16):
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    return x, y


def _host(x):
    """A numpy copy of a leaf (typed PRNG keys as their raw data)."""
    if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    return np.array(x)


def _snapshot(tree):
    return jax.tree.map(_host, tree)


def _leaves_equal(a, b):
    return all(
        np.array_equal(_host(u), _host(v))
        for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def _loss_fn(model, batch):
    x, y = batch
    return losses.cross_entropy(model(x), y, reduction="none")


def _metric_fn(model, batch):
    x, y = batch
    logits = model(x)
    return {
        "loss": losses.cross_entropy(logits, y, reduction="none"),
        "accuracy": (jnp.argmax(logits, -1) == y).astype(jnp.float32),
    }


class _Setup:
    """One optimizer, one compiled train/eval step, shared by the runs of a test."""

    def __init__(self, lr=1e-2):
        self.opt = optim.adam(lr=lr)
        self.step = make_train_step(_loss_fn, self.opt)
        self.eval = make_eval_step(_metric_fn)

    def state(self):
        net = models.MLP([6, 16, 2], dropout=0.2, rngs=nnx.Rngs(0))
        return TrainState.create(net, self.opt, seed=1)


_X = np.linspace(-1, 1, 24, dtype=np.float32).reshape(12, 2)
_BATCHES = [(_X[:8], _X[:8, :1]), (_X[8:], _X[8:, :1])]
_OPT = optax.sgd(0.1)


def _loss(m, b):
    return ((m(b[0]) - b[1]) ** 2)[:, 0]


_STEP = make_train_step(_loss, _OPT)


def _state():
    return TrainState.create(nnx.Linear(2, 1, rngs=nnx.Rngs(0)), _OPT)


def same_numbers_fit(out=None):
    """One epoch of SGD on 1001 rows (global batch 60, val 301 rows) over every
    process's devices; the history, and the sample ids this process trained on.

    Called in-process (one process) and by each process of a ``jtoolkit.launch``
    run; with ``out`` each process writes ``<out>/<rank>.json``.
    """
    import json

    from jtoolkit._src.train.feeder import EpochFeeder
    from jtoolkit.data import ArrayDataset, DataLoader, DistributedSampler
    from jtoolkit.train import fit

    procs, rank = jax.process_count(), jax.process_index()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1302, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32) + 0.1)[:, None]
    ids = np.arange(1302, dtype=np.int32)
    train_set = ArrayDataset(x[:1001], y[:1001], ids[:1001])
    sampler = DistributedSampler(train_set, procs, rank, shuffle=True, seed=3)
    train = DataLoader(train_set, batch_size=60 // procs, sampler=sampler)
    val = DataLoader(ArrayDataset(x[1001:], y[1001:]), batch_size=60 // procs)
    opt = optax.sgd(0.05)
    step = make_train_step(_loss, opt)
    evals = make_eval_step(lambda m, b: {"loss": _loss(m, b)})
    state = TrainState.create(nnx.Linear(4, 1, rngs=nnx.Rngs(0)), opt)
    mesh = "auto" if procs > 1 else None
    history = fit(
        state,
        step,
        train,
        1,
        validation=val,
        eval_step=evals,
        mesh=mesh,
        progress=False,
    ).history
    train.set_epoch(0)  # the epoch's rows as the feeder hands them to the step
    seen = [
        int(i)
        for feed in EpochFeeder(train)
        for i, keep in zip(feed.batch[2], np.asarray(feed.mask), strict=True)
        if keep
    ]
    result = {"history": history, "seen": seen}
    if out is not None:
        with open(f"{out}/{rank}.json", "w") as f:
            json.dump(result, f)
    return result


def _mesh8(shape=(8,), names=("data",)):
    """A mesh over the first 8 devices (skips the test when there are fewer: run
    with ``XLA_FLAGS=--xla_force_host_platform_device_count=8`` or
    ``jax.config.update("jax_num_cpu_devices", 8)`` before JAX starts)."""
    import pytest
    from jax.sharding import Mesh

    if len(jax.devices()) < 8:
        pytest.skip("needs 8 devices (8 fake CPU devices: jax_num_cpu_devices=8)")
    return Mesh(np.array(jax.devices()[:8]).reshape(shape), names)


def _per_device_bytes(tree):
    """Bytes the first device holds of ``tree``'s arrays (keys as raw data)."""
    total = 0
    for leaf in jax.tree.leaves(tree):
        if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        total += leaf.addressable_shards[0].data.nbytes
    return total
