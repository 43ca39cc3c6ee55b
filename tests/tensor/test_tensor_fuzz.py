"""Fuzz tensor_ops against torch 2.13: values, dtypes, shapes and exception types.

Complements tests/repo/test_fuzz.py (shape ops, pointwise, cat/stack) with
selection, gathering, matrix products, reductions, softmax and splitting on small
random shapes, empty ones included. Derandomized, fixed example counts.
"""

from __future__ import annotations

import numpy as np
import pytest
from fuzzing import FUZZ, report, same
from hypothesis import given
from hypothesis import strategies as st

from jtoolkit import tensor_ops as T

torch = pytest.importorskip("torch")
AREA = "tensor"

_shape = st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    report(__name__)


def _array(draw, shape, dtype=np.float32):
    seed = draw(st.integers(0, 2**16))
    x = np.random.default_rng(seed).standard_normal(shape) * 3
    if dtype == np.int32:
        return np.asarray(np.round(x), np.int32)
    return np.asarray(x, dtype)


def _torch(x):
    t = torch.from_numpy(np.asarray(x))
    return t.long() if t.dtype == torch.int32 else t


@FUZZ
@given(st.data(), _shape)
def test_where_and_nonzero(d, shape):
    cond = np.asarray(_array(d.draw, shape) > 0)
    x, y = _array(d.draw, shape), _array(d.draw, shape[1:])
    tc, tx, ty = torch.from_numpy(cond), torch.from_numpy(x), torch.from_numpy(y)
    same(AREA, lambda: T.where(cond, x, y), lambda: torch.where(tc, tx, ty))
    same(AREA, lambda: T.where(cond), lambda: torch.where(tc))


@FUZZ
@given(st.data(), _shape, st.integers(-4, 3))
def test_gather(d, shape, dim):
    x = _array(d.draw, shape)
    index_shape = tuple(d.draw(st.integers(0, max(s, 1))) for s in shape)
    high = max(shape[dim], 1) if shape and -len(shape) <= dim < len(shape) else 1
    idx = np.asarray(
        np.random.default_rng(d.draw(st.integers(0, 99))).integers(
            0, high, index_shape
        ),
        np.int32,
    )
    same(
        AREA,
        lambda: T.gather(x, dim, idx),
        lambda: torch.gather(torch.from_numpy(x), dim, _torch(idx)),
    )


@FUZZ
@given(st.data(), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3))
def test_matrix_products(d, n, k, m):
    k2 = d.draw(st.sampled_from([k, k + 1]))
    a, b = _array(d.draw, (n, k)), _array(d.draw, (k2, m))
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    same(AREA, lambda: T.mm(a, b), lambda: torch.mm(ta, tb), atol=1e-5)
    same(AREA, lambda: T.matmul(a, b), lambda: torch.matmul(ta, tb), atol=1e-5)
    v = _array(d.draw, (k2,))
    same(AREA, lambda: T.mv(a, v), lambda: torch.mv(ta, torch.from_numpy(v)), atol=1e-5)
    ba, bb = _array(d.draw, (2, n, k)), _array(d.draw, (2, k2, m))
    same(
        AREA,
        lambda: T.bmm(ba, bb),
        lambda: torch.bmm(torch.from_numpy(ba), torch.from_numpy(bb)),
        atol=1e-5,
    )


@FUZZ
@given(st.data(), _shape, st.integers(-4, 3), st.booleans())
def test_reductions(d, shape, dim, keepdim):
    dtype = d.draw(st.sampled_from([np.float32, np.int32]))
    x = _array(d.draw, shape, dtype)
    tx = _torch(x)
    same(AREA, lambda: T.sum(x, dim, keepdim), lambda: torch.sum(tx, dim, keepdim))
    if dtype == np.float32:
        same(
            AREA, lambda: T.mean(x, dim, keepdim), lambda: torch.mean(tx, dim, keepdim)
        )
        same(AREA, lambda: T.softmax(x, dim), lambda: torch.softmax(tx, dim))
        same(AREA, lambda: T.log_softmax(x, dim), lambda: torch.log_softmax(tx, dim))
    same(
        AREA,
        lambda: T.argmax(x, dim, keepdim),
        lambda: torch.argmax(tx, dim, keepdim),
    )
    same(
        AREA,
        lambda: T.max(x, dim, keepdim),
        lambda: tuple(torch.max(tx, dim, keepdim)),
    )


@FUZZ
@given(st.data(), _shape, st.integers(-4, 3), st.integers(0, 3))
def test_split_chunk_and_cat(d, shape, dim, size):
    x = _array(d.draw, shape)
    tx = torch.from_numpy(x)
    same(AREA, lambda: T.split(x, size, dim), lambda: torch.split(tx, size, dim))
    same(AREA, lambda: T.chunk(x, size, dim), lambda: torch.chunk(tx, size, dim))
    y = _array(d.draw, (*shape[:1], 0, *shape[2:]) if len(shape) > 1 else (0,))
    same(
        AREA,
        lambda: T.cat([x, y], dim),
        lambda: torch.cat([tx, torch.from_numpy(y)], dim),
    )


@FUZZ
@given(st.data(), _shape)
def test_division(d, shape):
    dtype = d.draw(st.sampled_from([np.float32, np.int32]))
    x = _array(d.draw, shape, dtype)
    y = _array(d.draw, shape[d.draw(st.integers(0, len(shape))) :], dtype)
    mode = d.draw(st.sampled_from([None, "trunc", "floor"]))
    same(
        AREA,
        lambda: T.div(x, y, rounding_mode=mode),
        lambda: torch.div(_torch(x), _torch(y), rounding_mode=mode),
    )
