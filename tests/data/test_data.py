"""jtoolkit.data datasets, samplers and default_collate (against torch).

The DataLoader is tested in test_data_loader.py and test_data_workers.py.
"""

import collections
import math

import jax
import numpy as np
import pytest

from jtoolkit import data

# ---------------------------------------------------------------- datasets


def _xy(n, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, 10, n)


def test_array_dataset_items_and_torch_alias():
    x, y = _xy(5)
    ds = data.TensorDataset(x, y)
    assert data.TensorDataset is data.ArrayDataset and len(ds) == 5
    xi, yi = ds[2]
    np.testing.assert_array_equal(xi, x[2])
    assert yi == y[2]
    samples = ds.__getitems__([4, 0])
    assert len(samples) == 2
    np.testing.assert_array_equal(samples[0][0], x[4])


def test_array_dataset_size_mismatch_names_lengths():
    with pytest.raises(ValueError, match=r"Size mismatch between tensors.*\[3, 4\]"):
        data.ArrayDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(AssertionError):  # torch's type is AssertionError
        data.ArrayDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="at least one array"):
        data.ArrayDataset()


def test_subset_lazy_and_duplicates():
    ds = data.ArrayDataset(np.arange(10) * 10)
    sub = data.Subset(ds, [9, 2, 2])
    assert len(sub) == 3 and [int(sub[i][0]) for i in range(3)] == [90, 20, 20]
    (batch,) = next(iter(data.DataLoader(sub, batch_size=3)))
    assert batch.tolist() == [90, 20, 20]


@pytest.mark.parametrize(
    ("n", "lengths", "expected"),
    [
        (10, [7, 3], [7, 3]),
        (10, [0.5, 0.3, 0.2], [5, 3, 2]),
        (11, [0.33, 0.33, 0.34], [4, 4, 3]),
        (7, [0.5, 0.5], [4, 3]),
    ],
)
def test_random_split_counts_and_fractions(torch, n, lengths, expected):
    parts = data.random_split(range(n), lengths, seed=1)
    assert [len(p) for p in parts] == expected
    members = [i for p in parts for i in p.indices]
    assert sorted(members) == list(range(n))  # disjoint and complete
    g = torch.Generator().manual_seed(0)
    torch_parts = torch.utils.data.random_split(range(n), lengths, generator=g)
    assert [len(p) for p in torch_parts] == expected
    again = data.random_split(range(n), lengths, seed=1)
    assert [p.indices for p in again] == [p.indices for p in parts]


def test_random_split_errors():
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        data.random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 1 is not between 0 and 1"):
        data.random_split(range(10), [0.5, 1.5, -1.0])


# ----------------------------------------------------------------- collate

Point = collections.namedtuple("Point", ["x", "y"])


@pytest.mark.parametrize(
    "samples",
    [
        [(np.float32(1.5), 1), (np.float32(2.5), 0)],
        [
            {"x": np.ones(2), "y": 1.0, "name": "s0"},
            {"x": np.zeros(2), "y": 2.0, "name": "s1"},
        ],
        [[1, 1.0], [2, 3.0]],
        [True, False],
        [np.arange(3, dtype=np.int32), np.arange(3, dtype=np.int32)],
        [Point(1, 2.0), Point(3, 4.0)],
    ],
    ids=["tuple", "dict", "list", "bool", "int32-array", "namedtuple"],
)
def test_default_collate_matches_torch(torch, samples):
    from torch.utils.data import default_collate as torch_collate

    ours, ref = data.default_collate(samples), torch_collate(samples)
    ours_leaves = jax.tree.leaves(
        ours, is_leaf=lambda t: isinstance(t, list) and t and isinstance(t[0], str)
    )
    if not isinstance(ref, torch.Tensor):
        assert type(ours) is type(ref)  # list for tuples, the namedtuple, dict
    flat_ref = _flatten_torch(ref)
    assert len(ours_leaves) == len(flat_ref)
    for a, b in zip(ours_leaves, flat_ref, strict=True):
        if isinstance(b, list):
            assert a == b
        else:
            assert str(a.dtype) == str(b.dtype).removeprefix("torch.")
            np.testing.assert_array_equal(a, b.numpy())


def _flatten_torch(tree):
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in _flatten_torch(tree[k])]
    if isinstance(tree, (list, tuple)) and not (tree and isinstance(tree[0], str)):
        return [leaf for t in tree for leaf in _flatten_torch(t)]
    return [tree]


def test_default_collate_errors_as_torch():
    msg = (
        r"stack expects each tensor to be equal size, "
        r"but got \[2\] at entry 0 and \[3\] at entry 1"
    )
    with pytest.raises(RuntimeError, match=msg):
        data.default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="each element in list of batch should be"):
        data.default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="found <U1"):
        data.default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(TypeError, match="found <class 'NoneType'>"):
        data.default_collate([None, None])


# ---------------------------------------------------------------- samplers


def test_sequential_and_batch_sampler_match_torch(torch):
    from torch.utils.data import BatchSampler as TorchBatchSampler

    for n, bs, drop in [(10, 3, False), (10, 3, True), (10, 5, False), (2, 4, True)]:
        ours = data.BatchSampler(data.SequentialSampler(range(n)), bs, drop)
        ref = TorchBatchSampler(range(n), bs, drop)
        assert list(ours) == list(ref) and len(ours) == len(ref)


@pytest.mark.parametrize(
    ("n", "replicas", "drop_last"),
    [(10, 3, False), (10, 3, True), (11, 4, False), (11, 4, True), (2, 4, False)],
)
def test_distributed_sampler_matches_torch_unshuffled(torch, n, replicas, drop_last):
    from torch.utils.data import DistributedSampler as TorchDS

    for rank in range(replicas):
        kw = dict(num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        ours, ref = data.DistributedSampler(range(n), **kw), TorchDS(range(n), **kw)
        assert list(ours) == list(ref) and len(ours) == len(ref)


@pytest.mark.parametrize(
    ("n", "replicas", "drop_last"), [(10, 3, False), (11, 4, True)]
)
def test_distributed_sampler_shuffled_structure(n, replicas, drop_last):
    def shards(epoch):
        out = []
        for rank in range(replicas):
            s = data.DistributedSampler(
                range(n), num_replicas=replicas, rank=rank, seed=3, drop_last=drop_last
            )
            s.set_epoch(epoch)
            out.append(list(s))
        return out

    per_rank = shards(0)
    sizes = {len(s) for s in per_rank}
    expected = n // replicas if drop_last else math.ceil(n / replicas)
    assert sizes == {expected}
    flat = [i for s in per_rank for i in s]
    counts = collections.Counter(flat)
    if drop_last:
        assert max(counts.values()) == 1 and len(flat) == expected * replicas
    else:
        assert set(flat) == set(range(n))
        assert sum(c - 1 for c in counts.values()) == expected * replicas - n
    assert shards(1) != per_rank and shards(0) == per_rank


def test_distributed_sampler_defaults_from_jax():
    s = data.DistributedSampler(range(5), shuffle=False)
    assert (s.num_replicas, s.rank) == (jax.process_count(), jax.process_index())
    with pytest.raises(
        ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"
    ):
        data.DistributedSampler(range(5), num_replicas=2, rank=2)


def test_random_sampler_epochs_and_replacement():
    s = data.RandomSampler(range(7), seed=5)
    first = list(s)
    assert sorted(first) == list(range(7)) and list(s) == first
    s.set_epoch(1)
    assert list(s) != first and sorted(s) == list(range(7))
    chained = list(data.RandomSampler(range(4), num_samples=10))
    assert len(chained) == 10 and sorted(chained[:4]) == [0, 1, 2, 3]
    assert sorted(chained[4:8]) == [0, 1, 2, 3]
    drawn = list(data.RandomSampler(range(3), replacement=True, num_samples=50))
    assert len(drawn) == 50 and set(drawn) == {0, 1, 2}
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        data.RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        data.RandomSampler(range(3), num_samples=0)


def test_weighted_sampler_frequencies():
    weights = np.array([1.0, 0.0, 2.0, 3.0, 4.0])
    n = 20000
    counts = np.bincount(
        list(data.WeightedRandomSampler(weights, n, seed=0)), minlength=5
    )
    assert counts[1] == 0
    expected = n * weights / weights.sum()
    keep = weights > 0
    chi2 = float((((counts - expected) ** 2)[keep] / expected[keep]).sum())
    assert chi2 < 16.3  # chi-square, 3 degrees of freedom, p = 0.001


def test_weighted_sampler_without_replacement_and_errors():
    s = data.WeightedRandomSampler([0.1, 0.0, 0.9, 0.5], 4, replacement=False, seed=2)
    drawn = list(s)
    assert sorted(drawn) == [0, 1, 2, 3] and drawn[-1] == 1  # zero weight comes last
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        data.WeightedRandomSampler([[1.0]], 2)
    with pytest.raises(RuntimeError, match="element < 0"):
        data.WeightedRandomSampler([1.0, -1.0], 2)
    with pytest.raises(ValueError, match="without replacement"):
        data.WeightedRandomSampler([1.0, 1.0], 3, replacement=False)
