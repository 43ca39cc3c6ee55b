"""Hypothesis fuzz of ``jtoolkit.functional``'s nn ops against torch 2.13.

Each case runs jtoolkit and torch on the same inputs (kinks included: 0, -0, ties,
NaN, +-inf, empty and 0-d arrays): both return the same value, shape and dtype, or
both raise, ours an instance of torch's builtin exception type. The search is
derandomized with fixed example counts and shapes of at most 4 per dim, so the file
runs in about a minute. ``JTOOLKIT_FUZZ_REPORT=<file>`` appends the case count.
Deliberate differences (documented in docs/migration.md's table) are mapped here:
int64 results are the default int (int32 without ``jax_enable_x64``).
"""

import builtins
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jtoolkit.functional as F
from jtoolkit._src.core import dtypes

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RUN = {"cases": 0, "disagreements": 0}
FUZZ = settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SMALL = settings(FUZZ, max_examples=15)  # every example compiles new shapes

SPECIALS = [0.0, -0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 0.5]


def _builtin_type(err: BaseException) -> type:
    return next(c for c in type(err).__mro__ if getattr(builtins, c.__name__, 0) is c)


def _run(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(), None
        except Exception as err:  # compared below: any exception is a result
            return None, err


def _dtype_of_torch(t) -> np.dtype:
    want = np.dtype(str(t.dtype).removeprefix("torch."))
    if want == np.int64:  # deliberate: JAX's default int
        return np.dtype(dtypes.default_int())
    return want


def same(ours, theirs, *, rtol=1e-5, atol=1e-6):
    """Assert ``ours()`` equals ``theirs()`` (value, shape, dtype) or raises torch's
    exception type."""
    RUN["cases"] += 1
    want, want_err = _run(theirs)
    got, got_err = _run(ours)
    try:
        if want_err is not None:
            assert got_err is not None, f"torch raised {want_err!r}, we returned {got}"
            assert isinstance(got_err, _builtin_type(want_err)), (
                f"torch raised {want_err!r}, we raised {got_err!r}"
            )
            return
        assert got_err is None, f"we raised {got_err!r}, torch returned {want}"
        wants = want if isinstance(want, tuple) else (want,)
        gots = got if isinstance(got, tuple) else (got,)
        for g, w in zip(gots, wants, strict=True):
            assert np.shape(g) == tuple(w.shape), (np.shape(g), tuple(w.shape))
            assert np.asarray(g).dtype == _dtype_of_torch(w), (g.dtype, w.dtype)
            np.testing.assert_allclose(
                np.asarray(g, np.float64),
                w.detach().double().numpy(),
                rtol,
                atol,
                equal_nan=True,
            )
    except AssertionError:
        RUN["disagreements"] += 1
        raise
    finally:
        if os.environ.get("JTOOLKIT_FUZZ_REPORT"):
            with open(os.environ["JTOOLKIT_FUZZ_REPORT"], "a") as f:
                f.write(f"nn.functional {RUN['cases']} {RUN['disagreements']}\n")


_shapes = st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple)


@st.composite
def arrays(draw, shape=None, specials=True):
    """float32 arrays of a small shape, sprinkled with kinks (0, NaN, inf, ties)."""
    shape = draw(_shapes) if shape is None else shape
    seed = draw(st.integers(0, 2**16))
    gen = np.random.default_rng(seed)
    x = (gen.standard_normal(shape) * 2).astype(np.float32)
    if specials and x.size and draw(st.booleans()):
        flat = x.reshape(-1)
        for _ in range(draw(st.integers(1, 3))):
            flat[gen.integers(0, x.size)] = draw(st.sampled_from(SPECIALS))
    if x.size and draw(st.booleans()):
        x = np.round(x)  # ties
    return x


def _t(x):
    return torch.from_numpy(np.array(x))


@FUZZ
@given(arrays(), st.floats(-2, 2, width=32), st.sampled_from(["none", "tanh", "x"]))
def test_elementwise_activations(x, slope, approximate):
    tx = _t(x)
    same(lambda: F.relu(x), lambda: TF.relu(tx))
    same(lambda: F.sigmoid(x), lambda: TF.sigmoid(tx))
    same(lambda: F.tanh(x), lambda: TF.tanh(tx))
    same(lambda: F.silu(x), lambda: TF.silu(tx))
    same(lambda: F.leaky_relu(x, slope), lambda: TF.leaky_relu(tx, slope))
    # documented difference: torch's CPU gelu gives nan at +inf (exact form)
    finite = np.where(x == np.inf, 0, x) if approximate == "none" else x
    same(
        lambda: F.gelu(finite, approximate),
        lambda: TF.gelu(_t(finite), approximate=approximate),
        atol=2e-6,
    )


def test_gelu_at_infinity_is_the_documented_difference():
    x = np.array([np.inf, -np.inf], np.float32)
    ours, theirs = np.asarray(F.gelu(x)), TF.gelu(_t(x)).numpy()
    assert ours[0] == np.inf and np.isnan(theirs[0])  # torch 2.13 on CPU: nan
    assert np.isnan(ours[1]) and np.isnan(theirs[1])  # -inf * 0: nan in both


@FUZZ
@given(arrays(), st.one_of(st.none(), st.integers(-4, 3)))
def test_softmax_and_log_softmax(x, dim):
    tx = _t(x)
    same(lambda: F.softmax(x, dim), lambda: TF.softmax(tx, dim))
    same(lambda: F.log_softmax(x, dim), lambda: TF.log_softmax(tx, dim), atol=2e-6)


_P = st.sampled_from([-np.inf, -2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0, np.inf])


@FUZZ
@given(arrays(), _P, st.integers(-4, 3), st.sampled_from([1e-12, 0.1, 10.0]))
def test_normalize(x, p, dim, eps):
    same(
        lambda: F.normalize(x, p, dim, eps),
        lambda: TF.normalize(_t(x), p, dim, eps),
        rtol=2e-5,
    )


@FUZZ
@given(st.data(), arrays(), st.integers(-4, 3), st.sampled_from([1e-8, 0.5]))
def test_cosine_similarity(d, x, dim, eps):
    shape = x.shape
    if shape and d.draw(st.booleans()):  # broadcast or mismatch one dim
        other = list(shape)
        other[d.draw(st.integers(0, len(shape) - 1))] = d.draw(st.integers(1, 3))
        shape = tuple(other)
    y = d.draw(arrays(shape))
    same(
        lambda: F.cosine_similarity(x, y, dim, eps),
        lambda: TF.cosine_similarity(_t(x), _t(y), dim, eps),
        rtol=2e-5,
        atol=2e-6,
    )


@FUZZ
@given(
    st.lists(st.integers(0, 3), max_size=2).map(tuple),
    st.integers(0, 2**16),
    st.integers(-3, 6),
)
def test_one_hot(shape, seed, num_classes):
    x = np.random.default_rng(seed).integers(-1 if seed % 7 == 0 else 0, 5, shape)
    same(
        lambda: F.one_hot(x.astype(np.int32), num_classes),
        lambda: TF.one_hot(torch.from_numpy(x.astype(np.int64)), num_classes),
    )


@FUZZ
@given(
    arrays(),
    st.lists(st.integers(-2, 3), min_size=1, max_size=6),
    st.sampled_from(["constant", "reflect", "replicate", "circular"]),
    st.sampled_from([None, 0.0, 1.5, -np.inf]),
)
def test_pad(x, pad, mode, value):
    tx = _t(x)
    kwargs = {"value": value} if mode == "constant" else {}
    same(lambda: F.pad(x, pad, mode, **kwargs), lambda: TF.pad(tx, pad, mode, **kwargs))


@FUZZ
@given(arrays(), st.integers(-4, 3), st.integers(-4, 3))
def test_flatten(x, start, end):
    same(lambda: F.flatten(x, start, end), lambda: torch.flatten(_t(x), start, end))


@FUZZ
@given(st.data(), st.integers(0, 3), st.integers(1, 3), st.booleans())
def test_linear(d, n, out, bias):
    x = d.draw(arrays((n, d.draw(st.integers(1, 3)))))
    in_w = x.shape[1] + (1 if d.draw(st.integers(0, 5)) == 0 else 0)
    w = d.draw(arrays((out, in_w)))
    b = d.draw(arrays((out,))) if bias else None
    same(
        lambda: F.linear(x, w, b),
        lambda: TF.linear(_t(x), _t(w), None if b is None else _t(b)),
        rtol=2e-5,
        atol=2e-5,
    )


@FUZZ
@given(arrays(), st.sampled_from([0.0, 0.5, 1.0, 1.5]), st.booleans())
def test_dropout_deterministic_cases(x, p, training):
    if training and 0 < p < 1:
        training = False  # masks come from different RNGs: not comparable
    tx = _t(x)
    same(lambda: F.dropout(x, p, training), lambda: TF.dropout(tx, p, training))
    if x.ndim in (3, 4) or p > 1:
        same(lambda: F.dropout2d(x, p, False), lambda: TF.dropout2d(tx, p, False))


_geometry = st.fixed_dictionaries(
    {
        "k": st.integers(1, 3),
        "s": st.one_of(st.none(), st.integers(1, 2)),
        "p": st.integers(0, 2),
        "d": st.integers(1, 2),
        "ceil": st.booleans(),
    }
)


@SMALL
@given(st.data(), st.integers(3, 4), _geometry)
def test_max_pool2d(d, rank, g):
    shape = tuple(d.draw(st.integers(1, 4)) for _ in range(rank))
    x = d.draw(arrays(shape))
    same(
        lambda: F.max_pool2d(x, g["k"], g["s"], g["p"], g["d"], g["ceil"]),
        lambda: TF.max_pool2d(_t(x), g["k"], g["s"], g["p"], g["d"], g["ceil"]),
    )


@SMALL
@given(st.data(), st.integers(2, 3), _geometry)
def test_max_pool1d(d, rank, g):
    shape = tuple(d.draw(st.integers(1, 4)) for _ in range(rank))
    x = d.draw(arrays(shape))
    same(
        lambda: F.max_pool1d(x, g["k"], g["s"], g["p"], g["d"], g["ceil"]),
        lambda: TF.max_pool1d(_t(x), g["k"], g["s"], g["p"], g["d"], g["ceil"]),
    )


@SMALL
@given(
    st.data(),
    st.integers(3, 4),
    _geometry,
    st.booleans(),
    st.sampled_from([None, 2]),
)
def test_avg_pool2d(d, rank, g, include_pad, divisor):
    shape = tuple(d.draw(st.integers(1, 4)) for _ in range(rank))
    x = d.draw(arrays(shape))
    args = (g["k"], g["s"], g["p"], g["ceil"], include_pad, divisor)
    same(lambda: F.avg_pool2d(x, *args), lambda: TF.avg_pool2d(_t(x), *args))


@SMALL
@given(
    st.data(),
    st.integers(3, 4),
    st.tuples(
        st.one_of(st.none(), st.integers(0, 4)), st.one_of(st.none(), st.integers(0, 4))
    ),
)
def test_adaptive_avg_pool2d(d, rank, size):
    shape = tuple(d.draw(st.integers(1, 4)) for _ in range(rank))
    x = d.draw(arrays(shape))
    same(
        lambda: F.adaptive_avg_pool2d(x, size),
        lambda: TF.adaptive_avg_pool2d(_t(x), size),
    )


def test_the_harness_fails_on_a_disagreement():
    with pytest.raises(AssertionError):
        same(lambda: F.relu(np.ones(2, np.float32)), lambda: TF.relu(-torch.ones(2)))
    with pytest.raises(AssertionError):  # a dtype difference is a disagreement
        same(lambda: np.ones(2, np.float64), lambda: torch.ones(2))
    with pytest.raises(AssertionError):  # one side raising
        same(lambda: 1 / 0, lambda: torch.ones(2))
    RUN["disagreements"] -= 3
