"""Tests of ``jtoolkit/_src/nn/functional/pooling.py`` (``adaptive_avg_pool2d``,
``avg_pool2d``, ``max_pool2d``).

Moved from test_functional.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.functional against torch.nn.functional: values, gradients (torch
autograd as the oracle on ``sum(f(x) * w)``), under ``jax.jit``, layouts and
torch's exception types.
"""

import functools

import jax
import numpy as np
import pytest

import jtoolkit.functional as F
from tests.nn._harness import RTOL, _dtype, _x, check

# ------------------------------------------------------------------- pooling

MAX_POOL = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": (2, 3), "stride": (1, 2)},
    {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "dilation": 2, "padding": 1},
    {"kernel_size": 2, "stride": 1, "dilation": (1, 2), "ceil_mode": True},
]


@pytest.mark.parametrize("kwargs", MAX_POOL)
def test_max_pool2d_matches_torch_on_nchw(torch, rng, kwargs):
    x = rng.integers(-3, 4, (2, 3, 7, 8)).astype(np.float32)  # many ties
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda a: F.max_pool2d(a, **kwargs),
        lambda a: tf.max_pool2d(a, **kwargs),
        [x],
        eager=kwargs == MAX_POOL[0],  # jitted for all; one eager: see check
    )


AVG_POOL = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {
        "kernel_size": 2,
        "stride": 2,
        "padding": 1,
        "ceil_mode": True,
        "count_include_pad": False,
    },
    {"kernel_size": (2, 3), "stride": (3, 1), "divisor_override": 4},
]


@pytest.mark.parametrize("kwargs", AVG_POOL)
def test_avg_pool2d_matches_torch_on_nchw(torch, rng, kwargs):
    x = _x(rng, 2, 3, 7, 8)
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda a: F.avg_pool2d(a, **kwargs),
        lambda a: tf.avg_pool2d(a, **kwargs),
        [x],
        eager=kwargs == AVG_POOL[0],  # jitted for all; one eager: see check
    )


@pytest.mark.parametrize("size", [1, (2, 3), (3, None), 5, (4, 6)])
def test_adaptive_avg_pool2d_matches_torch(torch, rng, size):
    x = _x(rng, 2, 3, 7, 6)
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda a: F.adaptive_avg_pool2d(a, size),
        lambda a: tf.adaptive_avg_pool2d(a, size),
        [x],
        eager=size == 1,  # jitted for all; one eager: see check
    )


def test_pooling_layouts_unbatched_and_nhwc(rng):
    """NCHW is the default (torch's); NHWC only when asked; CHW/HWC unbatched."""
    x = _x(rng, 2, 3, 6, 6)
    nhwc = np.transpose(x, (0, 2, 3, 1))
    for fn, kwargs in [
        (F.max_pool2d, {"kernel_size": 3, "stride": 2, "padding": 1}),
        (F.avg_pool2d, {"kernel_size": 2}),
        (F.adaptive_avg_pool2d, {"output_size": (4, 2)}),
    ]:
        ref = fn(x, **kwargs)
        got = fn(nhwc, **kwargs, data_format="NHWC")
        np.testing.assert_allclose(got, np.transpose(ref, (0, 2, 3, 1)), rtol=RTOL)
        np.testing.assert_allclose(fn(x[0], **kwargs), ref[0], rtol=RTOL)
        with pytest.raises(ValueError, match="data_format"):
            fn(x, **kwargs, data_format="NCWH")


def test_pooling_errors_follow_torch(torch):
    tf = torch.nn.functional
    cases = [
        (
            "max_pool2d",
            (1, 1, 4, 4),
            {"kernel_size": 3, "padding": 2},
            "pad should be at most half",
        ),
        ("max_pool2d", (4, 4), {"kernel_size": 2}, "3D or 4D"),
        (
            "max_pool2d",
            (1, 1, 9, 9),
            {"kernel_size": 3, "padding": 2, "dilation": 2},
            "smaller than or equal to half of kernel size",
        ),
        ("max_pool2d", (1, 1, 1, 1), {"kernel_size": 2}, "Output size is too small"),
        (
            "max_pool2d",
            (1, 1, 4, 4),
            {"kernel_size": 2, "stride": 0},
            "stride should not be zero",
        ),
        ("avg_pool2d", (1, 1, 4, 4), {"kernel_size": 2, "divisor_override": 0}, None),
    ]
    for name, shape, kwargs, text in cases:
        x = np.zeros(shape, np.float32)
        with pytest.raises(RuntimeError, match=text):
            getattr(tf, name)(torch.tensor(x), **kwargs)
        with pytest.raises(RuntimeError, match=text):
            getattr(F, name)(x, **kwargs)


def test_max_pool2d_propagates_nan_as_torch(torch):
    x = np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4)
    x[0, 0, 0, 0] = x[0, 1, 2, 3] = np.nan  # first and last element of a window
    for kwargs in (
        {"kernel_size": 2},
        {"kernel_size": 2, "stride": 3, "ceil_mode": True},
    ):
        ours = F.max_pool2d(x, **kwargs)
        theirs = torch.nn.functional.max_pool2d(torch.tensor(x), **kwargs)
        np.testing.assert_array_equal(ours, theirs.numpy())


def test_pooling_integer_inputs_follow_torch(torch):
    x = np.arange(32).reshape(1, 2, 4, 4) - 15
    tf = torch.nn.functional
    for kwargs in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1}):
        for name in ("max_pool2d", "avg_pool2d"):
            ours = getattr(F, name)(x, **kwargs)
            theirs = getattr(tf, name)(torch.tensor(x), **kwargs)
            assert ours.dtype == _dtype(theirs.dtype)
            np.testing.assert_array_equal(ours, theirs.numpy())
    with pytest.raises(NotImplementedError, match="not implemented for"):
        tf.adaptive_avg_pool2d(torch.tensor(x), 2)
    with pytest.raises(NotImplementedError, match="not implemented for"):
        F.adaptive_avg_pool2d(x, 2)


@pytest.mark.parametrize("kwargs", MAX_POOL)
def test_max_pool2d_return_indices_match_torch(torch, rng, kwargs):
    x = rng.integers(-3, 4, (2, 3, 7, 8)).astype(np.float32)  # many ties
    x[0, 0, 0, 1] = np.nan

    def pool(a, **layout):
        return F.max_pool2d(a, **kwargs, return_indices=True, **layout)

    # eager for one case (one program per op and shape), jitted for the others
    wrap = (lambda f: f) if kwargs == MAX_POOL[0] else jax.jit
    values, indices = wrap(pool)(x)
    t_values, t_indices = torch.nn.functional.max_pool2d(
        torch.tensor(x), **kwargs, return_indices=True
    )
    np.testing.assert_array_equal(values, t_values.numpy())
    np.testing.assert_array_equal(indices, t_indices.numpy())
    assert indices.dtype == _dtype(t_indices.dtype)
    nhwc = np.transpose(x, (0, 2, 3, 1))
    _, idx = wrap(functools.partial(pool, data_format="NHWC"))(nhwc)
    np.testing.assert_array_equal(np.transpose(idx, (0, 3, 1, 2)), indices)


# ------------------------------------------------------- 1-D to 3-D, one core

ND_POOLS = [
    ("max_pool1d", (2, 3, 9), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ("max_pool1d", (3, 8), {"kernel_size": 2, "dilation": 3, "ceil_mode": True}),
    ("max_pool3d", (2, 2, 5, 6, 5), {"kernel_size": 2}),
    (
        "max_pool3d",
        (1, 2, 5, 6, 7),
        {"kernel_size": (3, 2, 3), "stride": (2, 1, 2), "padding": 1},
    ),
    ("max_pool3d", (2, 4, 5, 6), {"kernel_size": 2, "stride": 2, "ceil_mode": True}),
    ("avg_pool1d", (2, 3, 9), {"kernel_size": 3, "stride": 2, "padding": 1}),
    (
        "avg_pool1d",
        (3, 8),
        {"kernel_size": 3, "padding": 1, "ceil_mode": True, "count_include_pad": False},
    ),
    ("avg_pool3d", (2, 2, 5, 6, 5), {"kernel_size": 2, "divisor_override": 3}),
    (
        "avg_pool3d",
        (1, 2, 5, 6, 7),
        {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    ),
    (
        "avg_pool3d",
        (2, 4, 5, 6),
        {"kernel_size": (2, 3, 3), "padding": (1, 1, 0), "count_include_pad": False},
    ),
    ("lp_pool1d", (2, 3, 9), {"norm_type": 2, "kernel_size": 3, "stride": 2}),
    ("lp_pool2d", (2, 3, 7, 6), {"norm_type": 2, "kernel_size": (2, 3)}),
    ("lp_pool2d", (3, 7, 6), {"norm_type": 1.5, "kernel_size": 3, "ceil_mode": True}),
    ("lp_pool3d", (1, 2, 4, 5, 4), {"norm_type": 3, "kernel_size": 2}),
    ("adaptive_avg_pool1d", (2, 3, 7), {"output_size": 3}),
    ("adaptive_avg_pool3d", (1, 2, 5, 6, 7), {"output_size": (2, None, 3)}),
    ("adaptive_max_pool1d", (2, 3, 7), {"output_size": 3}),
    ("adaptive_max_pool2d", (2, 3, 7, 6), {"output_size": (4, 5)}),
    ("adaptive_max_pool2d", (3, 7, 6), {"output_size": (None, 2)}),
    ("adaptive_max_pool3d", (1, 2, 5, 6, 7), {"output_size": (2, 4, 3)}),
]


@pytest.mark.parametrize(("name", "shape", "kwargs"), ND_POOLS, ids=str)
def test_nd_pools_match_torch(torch, rng, name, shape, kwargs):
    """Values (eager and jitted) and input gradients; max pools on integer-valued
    input (ties: the gradient goes to the first maximum, as torch)."""
    if "max" in name:
        x = rng.integers(-3, 4, shape).astype(np.float32)
    elif name.startswith("lp"):
        x = np.abs(_x(rng, *shape)) + 0.1  # torch's formula is nan below zero
    else:
        x = _x(rng, *shape)
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda a: getattr(F, name)(a, **kwargs),
        lambda a: getattr(tf, name)(a, **kwargs),
        [x],
        eager=False,
    )


INDEXED = [
    ("max_pool1d", (2, 3, 9), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ("max_pool1d", (3, 8), {"kernel_size": 2, "dilation": 3, "ceil_mode": True}),
    (
        "max_pool3d",
        (1, 2, 5, 6, 7),
        {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": (1, 2, 1)},
    ),
    ("max_pool3d", (2, 4, 5, 6), {"kernel_size": 2, "stride": 2, "ceil_mode": True}),
    ("adaptive_max_pool1d", (2, 3, 7), {"output_size": 3}),
    ("adaptive_max_pool2d", (2, 3, 7, 6), {"output_size": (4, 5)}),
    ("adaptive_max_pool3d", (1, 2, 5, 6, 7), {"output_size": (2, 4, 3)}),
]


@pytest.mark.parametrize(("name", "shape", "kwargs"), INDEXED, ids=str)
def test_nd_max_pool_indices_match_torch(torch, rng, name, shape, kwargs):
    """torch's flat per-channel indices, with ties and NaN (two NaNs share a
    window: torch's CPU kernels keep the last)."""
    x = rng.integers(-3, 4, shape).astype(np.float32)
    flat = x.reshape(-1)
    flat[[1, 2, flat.size - 3]] = np.nan
    fn = functools.partial(getattr(F, name), **kwargs, return_indices=True)
    values, indices = jax.jit(fn)(x)
    t_values, t_indices = getattr(torch.nn.functional, name)(
        torch.tensor(x), **kwargs, return_indices=True
    )
    np.testing.assert_array_equal(values, t_values.numpy())
    np.testing.assert_array_equal(indices, t_indices.numpy())
    assert indices.dtype == _dtype(t_indices.dtype)


def _tuple(value):
    return value if isinstance(value, tuple) else (value,)


@pytest.mark.parametrize("n", [1, 3])
def test_nd_pools_channels_last_and_empty_batch(torch, rng, n):
    shape = (2, 3) + (5,) * n
    x = _x(rng, *shape)
    last = np.moveaxis(x, 1, -1)
    fmt = {1: "NLC", 3: "NDHWC"}[n]
    for name, kwargs in [
        (f"max_pool{n}d", {"kernel_size": 2, "return_indices": True}),
        (f"avg_pool{n}d", {"kernel_size": 3, "padding": 1}),
        (f"adaptive_max_pool{n}d", {"output_size": 2, "return_indices": True}),
        (f"adaptive_avg_pool{n}d", {"output_size": 3}),
        (f"lp_pool{n}d", {"norm_type": 2, "kernel_size": 2}),
    ]:
        fn = jax.jit(functools.partial(getattr(F, name), **kwargs))
        ref = fn(x)
        got = jax.jit(functools.partial(getattr(F, name), **kwargs, data_format=fmt))(
            last
        )
        for r, g in zip(*(_tuple(v) for v in (ref, got)), strict=True):
            np.testing.assert_allclose(np.moveaxis(np.asarray(g), -1, 1), r)
        theirs = getattr(torch.nn.functional, name)(
            torch.zeros((0, *shape[1:])), **kwargs
        )
        ours = fn(np.zeros((0, *shape[1:]), np.float32))
        for t, o in zip(*(_tuple(v) for v in (theirs, ours)), strict=True):
            assert o.shape == tuple(t.shape), name


def test_nd_pool_errors_follow_torch(torch):
    cases = [
        (
            "max_pool3d",
            (1, 1, 4, 4, 4),
            {"kernel_size": 3, "padding": 2},
            "at most half",
        ),
        ("avg_pool1d", (1, 1, 4), {"kernel_size": 3, "padding": 2}, "at most half"),
        ("max_pool1d", (1, 1, 4), {"kernel_size": 3, "padding": 2}, "at most half"),
        ("max_pool3d", (4, 4, 4), {"kernel_size": 2}, "4D or 5D"),
        ("avg_pool1d", (4,), {"kernel_size": 2}, "dimensions|2D or 3D"),
        ("max_pool3d", (1, 1, 1, 4, 4), {"kernel_size": 2}, "Output size is too small"),
        ("avg_pool3d", (1, 1, 4, 4, 4), {"kernel_size": 2, "stride": 0}, "stride"),
        (
            "avg_pool3d",
            (1, 1, 4, 4, 4),
            {"kernel_size": 2, "divisor_override": 0},
            "divisor",
        ),
        (
            "adaptive_max_pool3d",
            (2, 0, 4, 4, 4),
            {"output_size": 2},
            "non-zero size|positive length",
        ),
    ]
    for name, shape, kwargs, text in cases:
        x = np.zeros(shape, np.float32)
        with pytest.raises(RuntimeError, match=text):
            getattr(torch.nn.functional, name)(torch.tensor(x), **kwargs)
        with pytest.raises(RuntimeError, match=text):
            getattr(F, name)(x, **kwargs)
    xi = np.zeros((1, 1, 4, 4), np.int64)
    with pytest.raises(NotImplementedError, match="not implemented for"):
        torch.nn.functional.adaptive_max_pool2d(torch.tensor(xi), 2)
    with pytest.raises(NotImplementedError, match="not implemented for"):
        F.adaptive_max_pool2d(xi, 2)


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [
        ({"kernel_size": 2, "output_size": (4, 3)}, (2, 3, 7, 6)),
        ({"kernel_size": (3, 2), "output_ratio": (0.5, 0.5)}, (3, 9, 8)),
        ({"kernel_size": 2, "output_size": 1}, (1, 2, 4, 5)),
    ],
    ids=str,
)
def test_fractional_max_pool2d_matches_torch_given_samples(torch, rng, kwargs, shape):
    x = _x(rng, *shape)
    n_c = (shape[0], shape[1]) if len(shape) == 4 else (1, shape[0])
    samples = rng.uniform(size=(*n_c, 2)).astype(np.float32)
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda a: F.fractional_max_pool2d(a, **kwargs, _random_samples=samples),
        lambda a: tf.fractional_max_pool2d(
            a, **kwargs, _random_samples=torch.tensor(samples)
        ),
        [x],
        eager=False,
    )
    _, idx = jax.jit(
        lambda a: F.fractional_max_pool2d(
            a, **kwargs, return_indices=True, _random_samples=samples
        )
    )(x)
    _, t_idx = tf.fractional_max_pool2d(
        torch.tensor(x),
        **kwargs,
        return_indices=True,
        _random_samples=torch.tensor(samples),
    )
    np.testing.assert_array_equal(idx, t_idx.numpy())


def test_fractional_max_pool2d_key_and_errors():
    x = np.arange(2 * 3 * 8 * 8, dtype=np.float32).reshape(2, 3, 8, 8)
    a = F.fractional_max_pool2d(x, 2, output_size=5, key=jax.random.key(0))
    b = F.fractional_max_pool2d(x, 2, output_size=5, key=jax.random.key(0))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 3, 5, 5)
    with pytest.raises(ValueError, match="key="):
        F.fractional_max_pool2d(x, 2, output_size=5)
    with pytest.raises(ValueError, match="output_size or an output_ratio"):
        F.fractional_max_pool2d(x, 2, key=jax.random.key(0))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_max_unpool_inverts_max_pool_as_torch(torch, rng, n):
    shape = (2, 3, *(6, 5, 4)[:n])
    x = _x(rng, *shape)
    kwargs = (
        {"kernel_size": 2, "stride": 2, "padding": 1} if n == 2 else {"kernel_size": 2}
    )
    tf = torch.nn.functional
    _, idx = getattr(F, f"max_pool{n}d")(x, **kwargs, return_indices=True)
    values, t_idx = getattr(tf, f"max_pool{n}d")(
        torch.tensor(x), **kwargs, return_indices=True
    )
    y = values.detach().numpy()
    size = shape[2:] if n != 1 else None
    check(
        torch,
        rng,
        lambda a: getattr(F, f"max_unpool{n}d")(a, idx, **kwargs, output_size=size),
        lambda a: getattr(tf, f"max_unpool{n}d")(a, t_idx, **kwargs, output_size=size),
        [y],
        eager=False,
    )
