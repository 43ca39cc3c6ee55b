"""jtoolkit.data with worker processes: order, seeding, errors, death, clean-up.

Workers start from a forkserver, so every dataset here lives at module level
(picklable). Each test starts a few workers at most: they cost ~50 ms each.
"""

import multiprocessing as mp
import os
import random
import signal
import time

import numpy as np
import psutil
import pytest

from jtoolkit import data

_TAG = {"init": None}


def _worker_init(worker_id):
    _TAG["init"] = 100 + worker_id


class Probe(data.Dataset):
    """Returns the index, the worker it ran in and draws of the seeded RNGs."""

    def __len__(self):
        return 24

    def __getitem__(self, index):
        info = data.get_worker_info()
        worker = -1 if info is None else info.id
        return {
            "index": index,
            "worker": worker,
            "pid": os.getpid(),
            "init": -1 if _TAG["init"] is None else _TAG["init"],
            "np": np.random.randint(1 << 30),  # noqa: NPY002 - seeded per worker
            "py": random.randrange(1 << 30),
        }


class Failing(data.Dataset):
    """Fails (ValueError) or kills its worker at chosen indices."""

    def __init__(self, fail_at=-1, kill_at=-1, kill_signal=signal.SIGKILL, sleep_at=-1):
        self.fail_at, self.kill_at = fail_at, kill_at
        self.kill_signal, self.sleep_at = kill_signal, sleep_at

    def __len__(self):
        return 16

    def __getitem__(self, index):
        if index == self.fail_at:
            raise ValueError(f"bad sample {index}")
        if index == self.kill_at:
            os.kill(os.getpid(), self.kill_signal)
        if index == self.sleep_at:
            time.sleep(3)
        return np.float32(index)


_WORKERS = ("ForkServerProcess", "ForkProcess", "SpawnProcess")


def _no_children_left(pids=()):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p)]
        workers = [c for c in mp.active_children() if c.name.startswith(_WORKERS)]
        if not alive and not workers:
            return True
        time.sleep(0.05)
    return False


def test_workers_same_order_as_main_process_and_torch_seeding():
    main = data.DataLoader(Probe(), batch_size=4, shuffle=True, seed=3)
    workers = data.DataLoader(
        Probe(),
        batch_size=4,
        shuffle=True,
        seed=3,
        num_workers=2,
        worker_init_fn=_worker_init,
    )
    for _ in range(2):  # two epochs: the order changes, identically on both sides
        ref, got = list(main), list(workers)
        assert [b["index"].tolist() for b in got] == [b["index"].tolist() for b in ref]
    assert [b["worker"][0] for b in got] == [0, 1, 0, 1, 0, 1]  # round-robin, in order
    assert {b["init"][0] for b in got} == {100, 101}  # worker_init_fn(worker_id)
    by_worker = {w: [b for b in got if b["worker"][0] == w] for w in (0, 1)}
    assert by_worker[0][0]["np"][0] != by_worker[1][0]["np"][0]  # seeds differ
    rerun = data.DataLoader(
        Probe(),
        batch_size=4,
        shuffle=True,
        seed=3,
        num_workers=2,
        worker_init_fn=_worker_init,
    )
    rerun.set_epoch(1)
    again = list(rerun)
    for key in ("np", "py"):  # worker RNG streams are reproducible
        assert [b[key].tolist() for b in again] == [b[key].tolist() for b in got]
    del workers, rerun  # warm fork-server workers stop with their loader
    assert _no_children_left({int(p) for b in got for p in b["pid"]})


def test_persistent_workers_survive_passes_and_resume_mid_epoch():
    loader = data.DataLoader(
        Probe(), batch_size=4, shuffle=True, num_workers=2, persistent_workers=True
    )
    first = list(loader)
    it = iter(loader)
    head = [next(it)["index"].tolist() for _ in range(2)]
    state = loader.state_dict()
    assert state == {"epoch": 1, "batches_yielded": 2, "seed": 0}
    pids = {int(p) for b in first for p in b["pid"]}
    resumed = data.DataLoader(Probe(), batch_size=4, shuffle=True)
    resumed.load_state_dict(state)
    rest = list(it)
    assert [b["index"].tolist() for b in resumed] == [b["index"].tolist() for b in rest]
    assert {int(p) for b in rest for p in b["pid"]} == pids  # the same processes
    assert len(head) + len(rest) == 6
    old, new = iter(loader), iter(loader)
    next(old)
    assert len(list(new)) == 6  # the newer pass wins the shared workers ...
    with pytest.raises(RuntimeError, match="superseded"):
        next(old)  # ... and the older one says so instead of hanging
    del loader, it, old, new
    assert _no_children_left(pids)


def test_worker_exception_reraised_with_sample_and_traceback():
    loader = data.DataLoader(Failing(fail_at=13), batch_size=4, num_workers=2)
    with pytest.raises(ValueError) as info:
        list(loader)
    message = str(info.value)
    assert (
        "Caught ValueError in DataLoader worker process 1 while loading sample 13"
        in message
    )
    assert "Original Traceback (most recent call last)" in message
    assert "bad sample 13" in message and "__getitem__" in message
    assert isinstance(info.value.__cause__, ValueError)
    del loader, info  # the traceback holds the pass, the pass its loader
    assert _no_children_left()


def _bad_init(worker_id):
    raise ValueError(f"init failed in {worker_id}")


def test_worker_init_fn_error_is_reraised():
    loader = data.DataLoader(
        Probe(), batch_size=4, num_workers=1, worker_init_fn=_bad_init
    )
    with pytest.raises(ValueError, match=r"worker process 0(.|\n)*init failed in 0"):
        next(iter(loader))
    del loader
    assert _no_children_left()


@pytest.mark.parametrize("kill_signal", [signal.SIGKILL, signal.SIGSEGV])
def test_worker_death_is_an_error_not_a_hang(kill_signal):
    loader = data.DataLoader(
        Failing(kill_at=6, kill_signal=kill_signal), batch_size=2, num_workers=2
    )
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=rf"exited unexpectedly.*{kill_signal.name}"):
        list(loader)
    assert time.monotonic() - start < 10
    assert _no_children_left()  # the dead pool is closed, loader or not


def test_timeout_raises_and_cleans_up():
    loader = data.DataLoader(
        Failing(sleep_at=0), batch_size=2, num_workers=1, timeout=0.5
    )
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0\.5 seconds"):
        list(loader)
    assert _no_children_left()


def test_break_interrupt_and_gc_keep_warm_workers_until_the_loader_goes():
    # Forked workers (JAX not started) stop with their pass, as in torch: see
    # test_data_more.py, which runs that in a fresh process.
    loader = data.DataLoader(
        Probe(), batch_size=2, num_workers=2, multiprocessing_context="forkserver"
    )
    per_pass = []
    for batch in loader:
        per_pass.append({int(p) for p in batch["pid"]})
        break
    with pytest.raises(KeyboardInterrupt):
        for batch in loader:
            per_pass.append({int(p) for p in batch["pid"]})
            raise KeyboardInterrupt
    it = iter(loader)
    per_pass.append({int(p) for p in next(it)["pid"]})
    del it
    pids = set().union(*per_pass)
    assert len(pids) == 1  # fork-server workers stay warm for the next pass ...
    del loader  # ... and stop with their loader
    assert _no_children_left(pids)


class _Local(data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        return index


def test_unpicklable_dataset_is_explained():
    loader = data.DataLoader(
        _Local(),
        collate_fn=lambda batch: batch,
        num_workers=1,
        multiprocessing_context="forkserver",  # fork would need no pickle
    )
    with pytest.raises(RuntimeError, match=r"pickl.*top level of a module"):
        list(loader)
    assert _no_children_left()


class _JaxProbe(data.Dataset):
    """Reports whether jax is imported in the process that loads the sample."""

    def __len__(self):
        return 2

    def __getitem__(self, index):
        import sys

        return "jax" in sys.modules


def test_workers_never_import_jax():
    # This module does not import jax, so a worker that unpickles _JaxProbe has jax
    # only if the worker machinery imported it.
    jax = pytest.importorskip("jax")
    jax.numpy.zeros(2).block_until_ready()  # JAX initialised in this process
    loader = data.DataLoader(_JaxProbe(), batch_size=2, num_workers=1)
    assert [b.tolist() for b in loader] == [[False, False]]


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
