"""Tests of ``jtoolkit/_src/data/prefetch.py`` (``prefetch_to_device``).

Moved from test_data_loader.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.data.DataLoader in the main process: batching, order, resume, errors.

Worker processes are tested in test_data_workers.py.
"""

import jax
import numpy as np
import pytest

from jtoolkit import data

# -------------------------------------------------------- prefetch_to_device


def test_prefetch_to_device_yields_jax_arrays_in_order():
    loader = data.DataLoader(
        data.ArrayDataset(np.arange(10, dtype=np.float32), np.arange(10)), batch_size=3
    )
    device = jax.devices()[0]
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("batch",))
    by_batch = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
    for target in (None, device, jax.sharding.SingleDeviceSharding(device), by_batch):
        out = list(data.prefetch_to_device(loader, size=2, device=target))
        assert [b[1].tolist() for b in out] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
        assert all(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves(out))
        assert out[0][0].dtype == np.float32 and out[0][1].dtype == np.int32


def test_prefetch_to_device_keeps_strings_and_validates_size():
    batches = [{"x": np.ones(2), "name": ["a", "b"]}]
    (out,) = data.prefetch_to_device(batches, size=1)
    assert out["name"] == ["a", "b"] and isinstance(out["x"], jax.Array)
    assert out["x"].dtype == np.float32  # float64 host batches become float32 (no x64)
    with pytest.raises(
        ValueError, match="prefetch_to_device: size must be an integer >= 1, got 0"
    ):
        data.prefetch_to_device(batches, size=0)


def test_prefetch_to_device_runs_size_batches_ahead_and_closes_source():
    pulled, closed = [], []

    def source():
        try:
            for i in range(6):
                pulled.append(i)
                yield np.full(2, i, np.float32)
        finally:
            closed.append(True)

    it = data.prefetch_to_device(source(), size=3)
    first = next(it)
    assert first.tolist() == [0.0, 0.0] and pulled == [0, 1, 2]  # 3 in flight
    assert next(it).tolist() == [1.0, 1.0] and pulled == [0, 1, 2, 3]
    it.close()
    assert closed == [True]
