"""Tests of ``jtoolkit/_src/data/loader.py`` (``DataLoader``).

Moved from test_data_loader.py, test_data_more.py when the tests were laid out to mirror
the code; those files' notes:

test_data_loader.py:
jtoolkit.data.DataLoader in the main process: batching, order, resume, errors.

Worker processes are tested in test_data_workers.py.

test_data_more.py:
jtoolkit.data, second wave: stream datasets, dataset algebra, seeds, collate, errors.

Parity with torch.utils.data: same batches where the orders are comparable, same
collate types and dtypes, same exception types. Worker tests are few: each starts
processes. Two run a script in a fresh interpreter (no main guard): there JAX has
not started, so the workers fork, as torch's do.
"""

import pickle

import numpy as np
import pytest

from jtoolkit import data
from tests.data._harness import Count


class CustomDataset(data.Dataset):
    """The tutorial's pattern: per-sample __getitem__ over arrays."""

    def __init__(self, data_samples, target_labels):
        self.data = data_samples
        self.targets = target_labels

    def __getitem__(self, index):
        return self.data[index], self.targets[index]

    def __len__(self):
        return len(self.data)


def _xy(n, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, 10, n)


# ------------------------------------------------------------------ loader


def test_tutorial_custom_dataset_loop():
    x, y = _xy(150, d=8)
    loader = data.DataLoader(
        dataset=CustomDataset(x, y), batch_size=64, shuffle=True, num_workers=0
    )
    seen = []
    for epoch in range(2):
        shapes = []
        for batch_data, batch_labels in loader:
            shapes.append(batch_data.shape)
            assert batch_data.dtype == np.float32 and batch_labels.dtype == np.int64
            seen.append((epoch, batch_labels))
        assert shapes == [(64, 8), (64, 8), (22, 8)]
    epoch0 = np.concatenate([b for e, b in seen if e == 0])
    epoch1 = np.concatenate([b for e, b in seen if e == 1])
    assert sorted(epoch0.tolist()) == sorted(y.tolist())
    assert not np.array_equal(epoch0, epoch1)  # a new order every pass


@pytest.mark.parametrize(
    ("n", "bs", "drop_last", "sizes"),
    [
        (10, 3, False, [3, 3, 3, 1]),
        (10, 3, True, [3, 3, 3]),
        (10, 5, False, [5, 5]),
        (10, 5, True, [5, 5]),
        (2, 4, False, [2]),
        (2, 4, True, []),
    ],
)
def test_batch_counts_match_torch(torch, n, bs, drop_last, sizes):
    x, y = _xy(n)
    loader = data.DataLoader(
        data.ArrayDataset(x, y), batch_size=bs, drop_last=drop_last
    )
    ref = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x)),
        batch_size=bs,
        drop_last=drop_last,
    )
    assert len(loader) == len(ref) == len(sizes)
    assert [len(b[1]) for b in loader] == sizes


@pytest.mark.parametrize("dataset_kind", ["array", "subset", "custom"])
@pytest.mark.parametrize("drop_last", [False, True])
def test_exactly_once_coverage_and_paths_agree(dataset_kind, drop_last):
    x, _ = _xy(23)
    ids = np.arange(23)
    datasets = {
        "array": data.ArrayDataset(x, ids),
        "subset": data.Subset(data.ArrayDataset(x, ids), list(range(23))),
        "custom": CustomDataset(x, ids),
    }
    loader = data.DataLoader(
        datasets[dataset_kind], 4, shuffle=True, drop_last=drop_last, seed=7
    )
    batches = list(loader)
    seen = np.concatenate([b[1] for b in batches])
    assert len(seen) == (20 if drop_last else 23) and len(set(seen.tolist())) == len(
        seen
    )
    for bx, by in batches:
        np.testing.assert_array_equal(bx, x[by])
    reference = data.DataLoader(
        CustomDataset(x, ids), 4, shuffle=True, drop_last=drop_last, seed=7
    )
    assert [b[1].tolist() for b in reference] == [b[1].tolist() for b in batches]


def test_batch_size_none_and_custom_sampler():
    ds = data.ArrayDataset(np.arange(4.0))
    assert [s[0] for s in data.DataLoader(ds, batch_size=None)] == [0.0, 1.0, 2.0, 3.0]
    loader = data.DataLoader(
        ds, batch_size=3, sampler=data.WeightedRandomSampler([1, 0, 1, 1], 10)
    )
    assert len(loader) == 4
    seen = np.concatenate([b[0] for b in loader])
    assert len(seen) == 10 and 1.0 not in seen
    batches = data.DataLoader(ds, batch_sampler=[[3, 0], [1]])
    assert [b[0].tolist() for b in batches] == [[3.0, 0.0], [1.0]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            dict(batch_size=0),
            "batch_size should be a positive integer value, but got batch_size=0",
        ),
        (
            dict(sampler=[1, 2], shuffle=True),
            "sampler option is mutually exclusive with shuffle",
        ),
        (
            dict(batch_sampler=[[1]], batch_size=2),
            "batch_sampler option is mutually exclusive with batch_size, shuffle, "
            "sampler, and drop_last",
        ),
        (
            dict(num_workers=-1),
            "num_workers option should be non-negative; use num_workers=0 to "
            "disable multiprocessing.",
        ),
        (
            dict(prefetch_factor=3),
            "prefetch_factor option could only be specified in "
            "multiprocessing.let num_workers > 0",
        ),
        (
            dict(persistent_workers=True),
            "persistent_workers option needs num_workers > 0",
        ),
        (dict(timeout=-1), "timeout option should be non-negative"),
        (
            dict(batch_size=None, drop_last=True),
            "batch_size=None option disables auto-batching and is mutually "
            "exclusive with drop_last",
        ),
        (dict(drop_last=1), "drop_last should be a boolean value, but got drop_last=1"),
    ],
)
def test_constructor_errors_match_torch(torch, kwargs, message):
    with pytest.raises(ValueError) as ref:
        torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.arange(4)), **kwargs
        )
    assert message in str(ref.value)
    with pytest.raises(ValueError) as ours:
        data.DataLoader(data.ArrayDataset(np.arange(4)), **kwargs)
    assert message in str(ours.value)


def test_set_epoch_and_order_is_pure_function_of_seed_epoch():
    ds = data.ArrayDataset(np.arange(12))
    a = data.DataLoader(ds, 5, shuffle=True, seed=3)
    passes = [[b[0].tolist() for b in a] for _ in range(3)]
    assert passes[0] != passes[1] != passes[2]
    b = data.DataLoader(ds, 5, shuffle=True, seed=3)
    b.set_epoch(2)
    assert [x[0].tolist() for x in b] == passes[2]
    c = data.DataLoader(ds, 5, shuffle=True, seed=4)
    assert [x[0].tolist() for x in c] != passes[0]


@pytest.mark.parametrize("stop_after", [0, 1, 3, 5])
def test_resume_mid_epoch_gives_remaining_batches(stop_after):
    x, _ = _xy(23)
    ds = data.ArrayDataset(x, np.arange(23))
    reference = data.DataLoader(ds, 5, shuffle=True, seed=11)
    reference.set_epoch(4)
    full = [b[1].tolist() for b in reference]
    after = [b[1].tolist() for b in reference]  # epoch 5
    loader = data.DataLoader(ds, 5, shuffle=True, seed=11)
    loader.set_epoch(4)
    it = iter(loader)
    got = [next(it)[1].tolist() for _ in range(stop_after)]
    state = pickle.loads(pickle.dumps(loader.state_dict()))
    expected_state = {
        "epoch": 4 + (stop_after == 5),
        "batches_yielded": stop_after % 5,
        "seed": 11,
    }
    assert state == expected_state
    resumed = data.DataLoader(CustomDataset(x, np.arange(23)), 5, shuffle=True, seed=11)
    resumed.load_state_dict(state)
    rest = [b[1].tolist() for b in resumed]
    if stop_after == 5:
        assert got == full and rest == after
    else:
        assert got + rest == full
        assert [b[1].tolist() for b in resumed] == after


def test_load_state_dict_rejects_other_seed():
    loader = data.DataLoader(data.ArrayDataset(np.arange(4)), 2, shuffle=True, seed=1)
    with pytest.raises(ValueError, match="seed=2"):
        loader.load_state_dict({"epoch": 0, "batches_yielded": 0, "seed": 2})


class FailingDataset(CustomDataset):
    def __getitem__(self, index):
        if index == 5:
            raise KeyError("bad sample 5")
        return super().__getitem__(index)


def test_main_process_error_names_sample_and_chains_original():
    x, y = _xy(8)
    loader = data.DataLoader(FailingDataset(x, y), batch_size=3)
    with pytest.raises(KeyError, match="sample 5 of batch 1") as info:
        list(loader)
    assert isinstance(info.value.__cause__, KeyError)
    assert "bad sample 5" in str(info.value.__cause__)


def test_fast_path_error_names_samples():
    loader = data.DataLoader(data.ArrayDataset(np.arange(4)), batch_sampler=[[0, 9]])
    with pytest.raises(IndexError, match=r"samples \[0, 9\]") as info:
        list(loader)
    assert isinstance(info.value.__cause__, IndexError)


class Reversed(data.SequentialSampler):
    """A subclass that changes __iter__ must be iterated, not bypassed."""

    def __iter__(self):
        return iter(range(len(self.data_source) - 1, -1, -1))


def test_sampler_subclass_iter_is_honoured():
    ds = data.ArrayDataset(np.arange(5))
    loader = data.DataLoader(ds, batch_size=2, sampler=Reversed(ds))
    assert [b[0].tolist() for b in loader] == [[4, 3], [2, 1], [0]]


def test_collate_error_names_batch():
    ds = CustomDataset([np.zeros(2), np.zeros(3)], [0, 1])
    with pytest.raises(
        RuntimeError, match=r"stack expects.*collating 2 samples of batch 0"
    ):
        next(iter(data.DataLoader(ds, batch_size=2)))


class Endless(data.IterableDataset):
    def __iter__(self):
        return iter(range(5))


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
