"""Tests of ``jtoolkit/_src/data/collate.py`` (``default_collate``,
``default_convert``).

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

import jax
import numpy as np
import pytest

from jtoolkit import data

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
