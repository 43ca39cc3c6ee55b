"""Tests of ``jtoolkit/_src/data/shared_memory.py``.

Moved from test_data_workers.py, test_data_more.py when the tests were laid out to
mirror the code; those files' notes:

test_data_workers.py:
jtoolkit.data with worker processes: order, seeding, errors, death, clean-up.

Workers start from a forkserver, so every dataset here lives at module level
(picklable). Each test starts a few workers at most: they cost ~50 ms each.

test_data_more.py:
jtoolkit.data, second wave: stream datasets, dataset algebra, seeds, collate, errors.

Parity with torch.utils.data: same batches where the orders are comparable, same
collate types and dtypes, same exception types. Worker tests are few: each starts
processes. Two run a script in a fresh interpreter (no main guard): there JAX has
not started, so the workers fork, as torch's do.
"""

import os

import numpy as np
import pytest

from jtoolkit import data


class Big(data.Dataset):
    """2.4 MB of data: shipped to workers through shared memory."""

    def __init__(self):
        self.x = np.arange(300_000, dtype=np.float64)

    def __len__(self):
        return 4

    def __getitem__(self, index):
        self.x[index] += 1000.0  # a worker writes to its own copy-on-write view
        owner = self.x
        while isinstance(owner, np.ndarray | memoryview):
            owner = owner.obj if isinstance(owner, memoryview) else owner.base
        return self.x[index], type(owner).__name__


def test_big_arrays_travel_through_shared_memory_copy_on_write():
    def segments():  # SharedMemory names; sem.* files belong to queues
        shm = "/dev/shm"
        return (
            {n for n in os.listdir(shm) if n.startswith("psm_")}
            if os.path.isdir(shm)
            else set()
        )

    before = segments()
    ds = Big()
    loader = data.DataLoader(
        ds, batch_size=2, num_workers=2, multiprocessing_context="forkserver"
    )
    values, bases = zip(*[(v.tolist(), b) for v, b in loader], strict=True)
    del loader
    assert values == ([1000.0, 1001.0], [1002.0, 1003.0])
    if os.path.isdir("/dev/shm"):
        assert bases[0] == ["mmap", "mmap"]  # mapped, not unpickled
        assert segments() == before  # segments unlinked
    assert ds.x[:4].tolist() == [0.0, 1.0, 2.0, 3.0]  # the main copy is untouched


class _Unreducible:
    def __reduce__(self):
        raise ValueError("this handle cannot travel")


class BigAndBroken(data.Dataset):
    def __init__(self):
        self.x = np.zeros(1 << 18)  # 2 MiB: pickled into a shared segment first
        self.handle = _Unreducible()

    def __len__(self):
        return 2

    def __getitem__(self, index):
        return self.x[index]


def _segments():
    shm = "/dev/shm"
    return {n for n in os.listdir(shm) if n.startswith("psm_")}


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs /dev/shm")
def test_a_dataset_that_fails_to_pickle_leaks_no_segment():
    before = _segments()
    loader = data.DataLoader(
        BigAndBroken(), num_workers=1, multiprocessing_context="forkserver"
    )
    with pytest.raises(ValueError, match="cannot travel"):
        next(iter(loader))
    assert _segments() == before
