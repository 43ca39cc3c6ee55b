"""jtoolkit.data, second wave: stream datasets, dataset algebra, seeds, collate, errors.

Parity with torch.utils.data: same batches where the orders are comparable, same
collate types and dtypes, same exception types. Worker tests are few: each starts
processes. Two run a script in a fresh interpreter (no main guard): there JAX has
not started, so the workers fork, as torch's do.
"""

import collections
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from jtoolkit import data

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
deadline = time.monotonic() + 5
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


# ------------------------------------------------------------ datasets


class Count(data.IterableDataset):
    def __init__(self, n, start=0):
        self.n, self.start = n, start

    def __iter__(self):
        return iter(range(self.start, self.start + self.n))


class Endless(data.IterableDataset):
    def __iter__(self):
        return iter(range(5))


def test_concat_dataset_and_add_match_torch(torch):
    tdata = torch.utils.data
    a, b = data.ArrayDataset(np.arange(3)), data.ArrayDataset(np.arange(10, 15))
    ours, ref = a + b, tdata.ConcatDataset([range(3), range(10, 15)])
    assert isinstance(ours, data.ConcatDataset)
    assert len(ours) == len(ref) == 8
    assert ours.cumulative_sizes == ref.cumulative_sizes == [3, 8]
    for i in [*range(-8, 8)]:
        assert int(ours[i][0]) == ref[i]
    for bad, ours_call in ((-9, lambda: ours[-9]),):
        with pytest.raises(ValueError, match="should not exceed dataset length"):
            ours_call()
        with pytest.raises(ValueError, match="should not exceed dataset length"):
            ref[bad]
    with pytest.raises(AssertionError, match="should not be an empty iterable"):
        data.ConcatDataset([])
    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        data.ConcatDataset([Count(2)])
    loader = data.DataLoader(a + b, batch_size=3, shuffle=True, seed=1)
    seen = sorted(int(v) for (x,) in loader for v in x)
    assert seen == [0, 1, 2, 10, 11, 12, 13, 14]


def test_chain_dataset_and_add_match_torch(torch):
    class TCount(torch.utils.data.IterableDataset):
        def __init__(self, n, start=0):
            self.n, self.start = n, start

        def __iter__(self):
            return iter(range(self.start, self.start + self.n))

        def __len__(self):
            return self.n

    ours = Count(2) + Count(3, start=10)
    ref = TCount(2) + TCount(3, start=10)
    assert isinstance(ours, data.ChainDataset)
    assert list(ours) == list(ref) == [0, 1, 10, 11, 12]
    with pytest.raises(TypeError):
        len(ours)  # Count has no __len__
    for chain in (data.ChainDataset([range(3)]), torch.utils.data.ChainDataset([[1]])):
        with pytest.raises(AssertionError, match="only supports IterableDataset"):
            list(chain)


def test_stack_dataset_positional_and_keyword_match_torch(torch):
    tdata = torch.utils.data
    x, y = np.arange(6.0).reshape(3, 2), np.array([5, 6, 7])
    ours = data.StackDataset(data.ArrayDataset(x), y)
    ref = tdata.StackDataset(tdata.TensorDataset(torch.from_numpy(x)), y)
    assert len(ours) == len(ref) == 3
    assert ours[1][0][0].tolist() == ref[1][0][0].tolist() and ours[1][1] == ref[1][1]
    named = data.StackDataset(img=x, label=y)
    pair = named.__getitems__([2, 0])
    assert [sorted(p) for p in pair] == [["img", "label"]] * 2
    assert pair[0]["label"] == 7 and pair[1]["img"].tolist() == [0.0, 1.0]
    batch = next(iter(data.DataLoader(named, batch_size=3)))
    tbatch = next(iter(tdata.DataLoader(tdata.StackDataset(img=x, label=y), 3)))
    assert batch.keys() == tbatch.keys() == {"img", "label"}
    assert batch["img"].dtype == np.float64 and tbatch["img"].dtype == torch.float64
    np.testing.assert_array_equal(batch["label"], tbatch["label"].numpy())
    for args, kwargs in (((x,), {"y": y}), ((), {}), ((x, y[:2]), {})):
        with pytest.raises(ValueError) as ours_err:
            data.StackDataset(*args, **kwargs)
        with pytest.raises(ValueError) as ref_err:
            tdata.StackDataset(*args, **kwargs)
        assert str(ours_err.value) == str(ref_err.value)


def test_iterable_dataset_batches_match_torch_in_the_main_process(torch):
    tdata = torch.utils.data

    class TCount(tdata.IterableDataset):
        def __iter__(self):
            return iter(range(7))

    for bs, drop_last in ((3, False), (3, True), (1, False), (None, False)):
        ours = data.DataLoader(Count(7), batch_size=bs, drop_last=drop_last)
        ref = tdata.DataLoader(TCount(), batch_size=bs, drop_last=drop_last)
        got, want = list(ours), list(ref)
        assert [np.asarray(b).tolist() for b in got] == [
            np.asarray(b).tolist() for b in want
        ]
        assert [np.asarray(b).dtype for b in got] == [np.int64] * len(got)
    with pytest.raises(TypeError):
        len(data.DataLoader(Count(7), batch_size=2))  # no __len__: torch's TypeError
    with pytest.raises(TypeError):
        len(tdata.DataLoader(TCount(), batch_size=2))
    for kwargs in (dict(shuffle=True), dict(sampler=[0, 1])):
        with pytest.raises(ValueError, match="expected unspecified"):
            data.DataLoader(Count(7), **kwargs)
        with pytest.raises(ValueError, match="expected unspecified"):
            tdata.DataLoader(TCount(), **kwargs)


def test_iterable_dataset_resumes_from_state_dict():
    loader = data.DataLoader(Count(9), batch_size=2)
    it = iter(loader)
    head = [next(it).tolist() for _ in range(2)]
    state = loader.state_dict()
    assert state["batches_yielded"] == 2
    resumed = data.DataLoader(Count(9), batch_size=2)
    resumed.load_state_dict(state)
    rest = [b.tolist() for b in resumed]
    assert head + rest == [[0, 1], [2, 3], [4, 5], [6, 7], [8]]


# ------------------------------------------------------------ samplers and splits


def test_subset_random_sampler_is_a_seeded_permutation_per_epoch(torch):
    indices = [9, 4, 7, 1, 3]
    s = data.SubsetRandomSampler(indices, seed=2)
    ref = torch.utils.data.SubsetRandomSampler(indices)
    first = list(s)
    assert sorted(first) == sorted(ref) == sorted(indices) and len(s) == len(ref)
    s.set_epoch(1)
    assert list(s) != first and sorted(s) == sorted(indices)
    s.set_epoch(0)
    assert list(s) == first == list(data.SubsetRandomSampler(indices, seed=2))
    loader = data.DataLoader(
        data.ArrayDataset(np.arange(10) * 10), batch_size=2, sampler=s
    )
    assert [int(v) for (x,) in loader for v in x] == [10 * i for i in first]


def test_weighted_sampler_replacement_must_be_bool_as_torch(torch):
    for cls in (data.WeightedRandomSampler, torch.utils.data.WeightedRandomSampler):
        with pytest.raises(ValueError, match="replacement should be a boolean"):
            cls([0.5, 0.5], 2, replacement=1)


@pytest.mark.parametrize(
    ("lengths", "error"),
    [([1.2], ValueError), ([2.5, 7.5], TypeError), ([5, 5.0], TypeError)],
)
def test_random_split_checks_match_torch(torch, lengths, error):
    with pytest.raises(error):
        torch.utils.data.random_split(range(10), lengths)
    with pytest.raises(error):
        data.random_split(range(10), lengths)


def test_random_split_still_takes_counts_and_fractions():
    assert [len(p) for p in data.random_split(range(10), [3, 7])] == [3, 7]
    assert [len(p) for p in data.random_split(range(10), [0.25, 0.75])] == [3, 7]
    with pytest.raises(ValueError, match="non-negative"):
        data.random_split(range(10), [-1, 11])


# ------------------------------------------------------------ seeds


def test_seed_none_draws_a_seed_that_state_dict_carries():
    ds = data.ArrayDataset(np.arange(40))
    a = data.DataLoader(ds, batch_size=4, shuffle=True, seed=None)
    b = data.DataLoader(ds, batch_size=4, shuffle=True, seed=None)
    assert a.seed != b.seed
    it = iter(a)
    head = [next(it)[0].tolist() for _ in range(3)]
    state = a.state_dict()
    assert state["seed"] == a.seed and state["batches_yielded"] == 3
    b.load_state_dict(state)  # a seed=None loader takes the saved seed
    assert [x.tolist() for (x,) in b] == [x.tolist() for (x,) in it]
    assert head  # the resumed pass is the rest of the same order
    fixed = data.DataLoader(ds, batch_size=4, shuffle=True, seed=1)
    with pytest.raises(ValueError, match="same seed"):
        fixed.load_state_dict(state)


def test_generator_takes_numpy_or_torch_generators(torch):
    ds = data.ArrayDataset(np.arange(20))
    by_torch = data.DataLoader(
        ds, batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(7)
    )
    by_seed = data.DataLoader(ds, batch_size=5, shuffle=True, seed=7)
    assert by_torch.seed == 7
    assert [x.tolist() for (x,) in by_torch] == [x.tolist() for (x,) in by_seed]
    rng = np.random.default_rng(3)
    expected = int(np.random.default_rng(3).integers(0, 2**63))
    assert data.DataLoader(ds, shuffle=True, generator=rng).seed == expected
    with pytest.raises(ValueError, match="not both"):
        data.DataLoader(ds, seed=3, generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match="generator"):
        data.DataLoader(ds, generator=3)


# ------------------------------------------------------------ collate


Point = collections.namedtuple("Point", ["x", "y"])


class Box(collections.UserDict):
    pass


@pytest.mark.parametrize(
    "batch",
    [
        [1, 2.5],
        [2.5, 1],
        [True, 2],
        [True, False],
        [1, 2**40],
        [np.int64(1), np.float64(2.5)],
        [np.float32(1), 2.5],
        [np.int32(1), np.int64(3)],
        [np.float16(1), np.float32(1)],
    ],
)
def test_default_collate_scalar_dtypes_match_torch(torch, batch):
    ours = data.default_collate(batch)
    ref = torch.utils.data.default_collate(batch)
    assert str(ours.dtype) == str(ref.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours, ref.numpy())


def test_default_collate_strings_and_containers_match_torch(torch):
    tc = torch.utils.data.default_collate
    words = list(np.array(["cat", "dog"]))
    assert data.default_collate(words) == tc(words) == ["cat", "dog"]
    assert all(type(w) is np.str_ for w in data.default_collate(words))
    samples = [Point(1, np.float32(2)), Point(3, np.float32(4))]
    ours, ref = data.default_collate(samples), tc(samples)
    assert type(ours) is type(ref) is Point
    assert ours.y.dtype == np.float32 and ref.y.dtype == torch.float32
    for samples in (
        [(1, 2), (3, 4)],
        [[1, 2], [3, 4]],
        [collections.OrderedDict(a=1), collections.OrderedDict(a=2)],
        [Box(a=1), Box(a=2)],
        [{"a": (1, 2.5)}, {"a": (3, 4.5)}],
    ):
        ours, ref = data.default_collate(samples), tc(samples)
        assert type(ours) is type(ref)
    with pytest.raises(TypeError):
        data.default_collate([np.array(["a"])])
    with pytest.raises(TypeError):
        tc([np.array(["a"])])


def test_default_convert_matches_torch(torch):
    tv = torch.utils.data.default_convert
    cases = [
        np.float32(1.5),
        np.array([1, 2]),
        (np.array([1]), 2),
        Point(np.int64(1), "a"),
        {"a": np.float64(2.0), "b": [np.int8(3)]},
        np.array(["a"]),
        np.str_("s"),
        7,
    ]
    for case in cases:
        ours, ref = data.default_convert(case), tv(case)
        assert type(ours) is type(ref) or (
            isinstance(ref, torch.Tensor) and isinstance(ours, np.ndarray)
        )
        if isinstance(ref, torch.Tensor):
            assert ours.dtype == ref.numpy().dtype and ours.shape == tuple(ref.shape)
    batch = next(iter(data.DataLoader(data.ArrayDataset(np.arange(3)), None)))
    assert isinstance(batch, list) and batch[0].shape == ()  # the tuple -> a list


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


# ------------------------------------------------------------ fork-server workers


class Uneven(data.IterableDataset):
    """Worker w streams range(w, stop_w, num_workers); worker 1 goes further."""

    def __iter__(self):
        info = data.get_worker_info()
        w, n = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(w, 10 + (8 if w == 1 else 0), n))


class Probe(data.Dataset):
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
    ds = Probe()
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
    main = data.DataLoader(Probe(), batch_size=2, shuffle=True)
    for got, ref in zip((first, second), (list(main), list(main)), strict=True):
        assert [b[0].tolist() for b in got] == [b[0].tolist() for b in ref]
    assert {int(p) for b in first for p in b[1]} == {
        int(p) for b in second for p in b[1]
    }
    assert {int(t) for b in second for t in b[3]} == {1}
    fresh = data.DataLoader(
        Probe(),
        batch_size=2,
        shuffle=True,
        num_workers=2,
        multiprocessing_context="forkserver",
    )
    fresh.set_epoch(1)  # new workers for epoch 1 draw what the warm ones drew
    assert [b[2].tolist() for b in fresh] == [b[2].tolist() for b in second]
