"""Tests of ``jtoolkit/_src/data/samplers.py`` (``BatchSampler``,
``DistributedSampler``, ``RandomSampler``, ``SequentialSampler``,
``SubsetRandomSampler``, ``WeightedRandomSampler``).

Moved from test_data.py, test_data_more.py when the tests were laid out to mirror the
code; those files' notes:

test_data.py:
jtoolkit.data datasets, samplers and default_collate (against torch).

The DataLoader is tested in test_loader.py and test_workers.py.

test_data_more.py:
jtoolkit.data, second wave: stream datasets, dataset algebra, seeds, collate, errors.

Parity with torch.utils.data: same batches where the orders are comparable, same
collate types and dtypes, same exception types. Worker tests are few: each starts
processes. Two run a script in a fresh interpreter (no main guard): there JAX has
not started, so the workers fork, as torch's do.
"""

import collections
import math

import jax
import numpy as np
import pytest

from jtoolkit import data

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
