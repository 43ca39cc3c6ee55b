"""Tests of ``jtoolkit/_src/data/datasets.py`` (``ArrayDataset``, ``ChainDataset``,
``ConcatDataset``, ``IterableDataset``, ``StackDataset``, ``Subset``,
``TensorDataset``, ``random_split``).

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

import numpy as np
import pytest

from jtoolkit import data
from tests.data._harness import Count

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
