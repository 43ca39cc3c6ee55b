"""Tests of ``jtoolkit/_src/data/workers.py`` (``get_worker_info``).

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

import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import time
import warnings

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
    """True once no worker (nor any of ``pids``) is alive; False after 120 s: a wait
    on the event with a generous timeout, so a loaded machine cannot fail it."""
    deadline = time.monotonic() + 120
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
    # A hang would be stopped by pytest's timeout; no wall-clock bound here.
    with pytest.raises(RuntimeError, match=rf"exited unexpectedly.*{kill_signal.name}"):
        list(loader)
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
    # test_workers.py's script tests, which run that in a fresh process.
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


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

_FORK_SCRIPT = r'''"""No main guard, JAX not started: the workers fork, as torch's.

Prints JSON: for each case, (jtoolkit batches, torch batches) at 0 and 2 workers.
"""

import json
import multiprocessing as mp
import sys
import time

import numpy as np
import torch
from torch.utils import data as tdata
from jtoolkit import data


class Shards(data.IterableDataset):
    """Worker w streams range(start + w, stop, num_workers): uneven shards."""

    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def __len__(self):
        return self.stop - self.start

    def __iter__(self):
        info = data.get_worker_info()
        w, n = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(self.start + w, self.stop, n))


class TUneven(tdata.IterableDataset):
    def __init__(self, start, stop, extra):
        self.start, self.stop, self.extra = start, stop, extra

    def __iter__(self):
        info = tdata.get_worker_info()
        w, n = (0, 1) if info is None else (info.id, info.num_workers)
        stop = self.stop + (self.extra if w == 1 else 0)
        return iter(range(self.start + w, stop, n))


class Uneven(data.IterableDataset):
    def __init__(self, start, stop, extra):
        self.start, self.stop, self.extra = start, stop, extra

    def __iter__(self):
        info = data.get_worker_info()
        w, n = (0, 1) if info is None else (info.id, info.num_workers)
        stop = self.stop + (self.extra if w == 1 else 0)
        return iter(range(self.start + w, stop, n))


class Corrupt:
    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i in (2, 3):
            raise ValueError(f"corrupt {i}")
        return i


def survivors(loader):
    out, it = [], iter(loader)
    while True:
        try:
            out.append(np.asarray(next(it)).tolist())
        except StopIteration:
            return out
        except ValueError:
            out.append("error")


out = {}
for w in (0, 2):
    for bs, dl in ((3, False), (3, True)):
        kw = dict(batch_size=bs, drop_last=dl, num_workers=w)
        ours = data.DataLoader(Uneven(0, 10, 8), **kw)
        ref = tdata.DataLoader(TUneven(0, 10, 8), **kw)
        out[f"uneven{w}{bs}{dl}"] = (
            [b.tolist() for b in ours],
            [b.tolist() for b in ref],
        )
    ours = data.DataLoader(Corrupt(), batch_size=2, num_workers=w)
    ref = tdata.DataLoader(Corrupt(), batch_size=2, num_workers=w)
    out[f"corrupt{w}"] = (survivors(ours), survivors(ref))
    loader = data.DataLoader(Shards(0, 7), batch_size=2, num_workers=w)
    out[f"len{w}"] = (len(loader), len(list(loader)))
loader = data.DataLoader(Shards(0, 40), batch_size=2, num_workers=2)
for batch in loader:
    break  # forked workers stop with their pass, as torch's
deadline = time.monotonic() + 120  # an event wait: generous on a loaded machine
while mp.active_children() and time.monotonic() < deadline:
    time.sleep(0.05)
out["children after break"] = ([c.name for c in mp.active_children()], [])
json.dump(out, sys.stdout)
'''

_JAX_SCRIPT = r'''"""No main guard, JAX started: one clear RuntimeError, no crash."""

import jax
import numpy as np
from jtoolkit import data

jax.numpy.zeros(2).block_until_ready()
dataset = data.ArrayDataset(np.arange(8.0))
loader = data.DataLoader(dataset, batch_size=2, num_workers=2)
print([b[0].tolist() for b in loader])
'''


def _run(tmp_path, name, source):
    script = tmp_path / name
    script.write_text(source)
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )


# ------------------------------------------------------------ main-guard scripts


def test_script_without_main_guard_forks_and_matches_torch(tmp_path):
    pytest.importorskip("torch")
    import json

    result = _run(tmp_path, "no_guard.py", _FORK_SCRIPT)
    assert result.returncode == 0, result.stderr
    cases = json.loads(result.stdout)
    assert len(cases) == 9  # uneven streams, drop_last, a failed batch, len; 0 and 2
    for name, (ours, ref) in cases.items():
        assert ours == ref, name
    # Worker 0 streams 0..9 step 2, worker 1 1..17 step 2: round-robin until worker
    # 0 runs out, then worker 1 alone; the failed batch [2, 3] is skipped.
    assert cases["uneven2" + "3False"][0][2:] == [[6, 8], [7, 9, 11], [13, 15, 17]]
    assert cases["corrupt2"][0] == [[0, 1], "error", [4, 5], [6, 7], [8, 9]]


def test_script_without_main_guard_next_to_jax_gets_one_clear_error(tmp_path):
    pytest.importorskip("jax")
    result = _run(tmp_path, "no_guard_jax.py", _JAX_SCRIPT)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: DataLoader with num_workers > 0")
    lines = _JAX_SCRIPT.splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "for b in loader" in text)
    assert 'if __name__ == "__main__":' in last and f"line {line} " in last
    assert result.stderr.count("Traceback") == 1  # no worker ever started


# ------------------------------------------------------------ errors


class Corrupt(data.Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, index):
        if index in (2, 3):
            raise ValueError(f"corrupt {index}")
        return index


def _survivors(loader):
    out, it = [], iter(loader)
    while True:
        try:
            out.append(np.asarray(next(it)).tolist())
        except StopIteration:
            return out
        except ValueError:
            out.append("error")


def test_a_failed_batch_does_not_end_the_epoch_as_torch(torch):
    ours = _survivors(data.DataLoader(Corrupt(), batch_size=2))
    ref = _survivors(torch.utils.data.DataLoader(Corrupt(), batch_size=2))
    assert ours == ref == [[0, 1], "error", [4, 5], [6, 7], [8, 9]]
    gathered = data.DataLoader(data.ArrayDataset(np.arange(4)), batch_size=2)
    it = iter(gathered)
    gathered.dataset.arrays = (np.arange(3),)  # the gather of [2, 3] now fails
    assert next(it)[0].tolist() == [0, 1]
    with pytest.raises(IndexError):
        next(it)
    with pytest.raises(StopIteration):
        next(it)


def test_more_workers_than_cpus_warns_as_torch(torch):
    n = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1) + 1
    ds = data.ArrayDataset(np.arange(4))
    with pytest.warns(UserWarning) as ours:
        data.DataLoader(ds, num_workers=n)
    with pytest.warns(UserWarning) as ref:
        torch.utils.data.DataLoader(range(4), num_workers=n)
    assert str(ours[0].message) == str(ref[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.DataLoader(ds, num_workers=1)


# ------------------------------------------------------------ fork-server workers


class Uneven(data.IterableDataset):
    """Worker w streams range(w, stop_w, num_workers); worker 1 goes further."""

    def __iter__(self):
        info = data.get_worker_info()
        w, n = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(w, 10 + (8 if w == 1 else 0), n))


class ServerProbe(data.Dataset):
    """(index, pid, first draw of the worker's numpy RNG, the epoch tag)."""

    def __init__(self):
        self.tag = 0

    def __len__(self):
        return 8

    def __getitem__(self, index):
        draw = np.random.randint(1 << 30)  # noqa: NPY002 - seeded per worker
        return index, os.getpid(), draw, self.tag


def test_fork_server_workers_stream_fail_and_stay_warm(torch):
    # The stream's order is the one the fork script checks against torch.
    loader = data.DataLoader(
        Uneven(), batch_size=3, num_workers=2, multiprocessing_context="forkserver"
    )
    assert [b.tolist() for b in loader] == [
        [0, 2, 4],
        [1, 3, 5],
        [6, 8],
        [7, 9, 11],
        [13, 15, 17],
    ]
    persistent = data.DataLoader(
        Uneven(),
        batch_size=4,
        num_workers=2,
        persistent_workers=True,
        multiprocessing_context="forkserver",
    )
    passes = [[b.tolist() for b in persistent] for _ in range(2)]
    assert (
        passes[0]
        == passes[1]
        == [[0, 2, 4, 6], [1, 3, 5, 7], [8], [9, 11, 13, 15], [17]]
    )
    failing = data.DataLoader(
        Corrupt(), batch_size=2, num_workers=2, multiprocessing_context="forkserver"
    )
    assert _survivors(failing) == [[0, 1], "error", [4, 5], [6, 7], [8, 9]]
    ds = ServerProbe()
    warm = data.DataLoader(
        ds,
        batch_size=2,
        shuffle=True,
        num_workers=2,
        multiprocessing_context="forkserver",
    )
    first = list(warm)
    ds.tag = 1  # seen by the next pass, as new processes would see it
    second = list(warm)
    main = data.DataLoader(ServerProbe(), batch_size=2, shuffle=True)
    for got, ref in zip((first, second), (list(main), list(main)), strict=True):
        assert [b[0].tolist() for b in got] == [b[0].tolist() for b in ref]
    assert {int(p) for b in first for p in b[1]} == {
        int(p) for b in second for p in b[1]
    }
    assert {int(t) for b in second for t in b[3]} == {1}
    fresh = data.DataLoader(
        ServerProbe(),
        batch_size=2,
        shuffle=True,
        num_workers=2,
        multiprocessing_context="forkserver",
    )
    fresh.set_epoch(1)  # new workers for epoch 1 draw what the warm ones drew
    assert [b[2].tolist() for b in fresh] == [b[2].tolist() for b in second]
