"""Tests of ``jtoolkit/_src/nn/functional/conv.py`` (``F.conv*``,
``F.conv_transpose*``) against torch: values (eager and jitted) and gradients of
input, weight and bias in torch's layout, the channels-last ``data_format`` giving
the same numbers, and torch's errors (type and text)."""

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.functional as F
from tests.nn._harness import _close, _x, check

# (n, input shape, weight shape, kwargs): groups, depthwise, dilation, strings,
# unbatched, size-1 dims, empty batch.
CONV = [
    (1, (2, 4, 9), (6, 2, 3), {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}),
    (1, (4, 7), (3, 4, 4), {"padding": "same"}),
    (2, (2, 4, 6, 5), (4, 1, 3, 3), {"groups": 4, "padding": (1, 0)}),
    (2, (1, 3, 5, 5), (2, 3, 2, 3), {"dilation": (2, 1), "padding": "valid"}),
    (2, (0, 2, 4, 4), (3, 2, 1, 1), {}),
    (3, (1, 2, 4, 1, 5), (4, 1, 3, 1, 2), {"groups": 2, "stride": (1, 1, 2)}),
    (3, (2, 3, 3, 3), (2, 2, 2, 2, 2), {"padding": "same", "dilation": 2}),
]
CONV_T = [
    (1, (2, 4, 5), (4, 3, 3), {"stride": 2, "output_padding": 1, "groups": 2}),
    (2, (2, 4, 3, 4), (4, 1, 3, 2), {"stride": (2, 1), "padding": 1, "groups": 4}),
    (2, (3, 4, 4), (3, 2, 2, 2), {"dilation": 2, "output_padding": 1}),
    (3, (1, 2, 2, 3, 1), (2, 2, 2, 1, 3), {"stride": 2, "padding": (0, 0, 1)}),
]


def _torch_fn(torch, name, kwargs):
    """torch's function, quiet about its 'same' + even-kernel performance note."""

    def run(*args):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Using padding='same'", UserWarning)
            return getattr(torch.nn.functional, name)(*args, **kwargs)

    return run


def _cases(table, transposed):
    for n, xs, ws, kwargs in table:
        out = ws[1] * kwargs.get("groups", 1) if transposed else ws[0]
        yield pytest.param(n, xs, ws, out, kwargs, id=f"{n}d-{xs}-{kwargs}")


@pytest.mark.parametrize(("n", "xs", "ws", "out", "kwargs"), list(_cases(CONV, False)))
def test_conv_matches_torch(torch, rng, n, xs, ws, out, kwargs):
    name = f"conv{n}d"
    inputs = [_x(rng, *xs), _x(rng, *ws), _x(rng, out)]
    ours = functools.partial(getattr(F, name), **kwargs)
    theirs = _torch_fn(torch, name, kwargs)
    # every case jitted; the first case of each rank eager too (see check)
    eager = next(c for c in CONV if c[0] == n) == (n, xs, ws, kwargs)
    check(torch, rng, ours, theirs, inputs, atol=2e-6, eager=eager)
    _assert_channels_last_agrees(name, n, inputs, kwargs, False, eager)


@pytest.mark.parametrize(("n", "xs", "ws", "out", "kwargs"), list(_cases(CONV_T, True)))
def test_conv_transpose_matches_torch(torch, rng, n, xs, ws, out, kwargs):
    name = f"conv_transpose{n}d"
    inputs = [_x(rng, *xs), _x(rng, *ws), _x(rng, out)]
    ours = functools.partial(getattr(F, name), **kwargs)
    theirs = _torch_fn(torch, name, kwargs)
    # every case jitted; the first case of each rank eager too (see check)
    eager = next(c for c in CONV_T if c[0] == n) == (n, xs, ws, kwargs)
    check(torch, rng, ours, theirs, inputs, atol=2e-6, eager=eager)
    _assert_channels_last_agrees(name, n, inputs, kwargs, True, eager)


def _assert_channels_last_agrees(name, n, inputs, kwargs, transposed, eager):
    x, w, b = inputs
    batched = x.ndim == n + 2
    x_cl = np.moveaxis(x, 1 if batched else 0, -1)
    w_cl = np.moveaxis(w, (0, 1) if transposed else (1, 0), (-2, -1))
    fmt = {1: "NLC", 2: "NHWC", 3: "NDHWC"}[n]
    fn, run = getattr(F, name), (lambda f: f) if eager else jax.jit
    ours = run(functools.partial(fn, **kwargs, data_format=fmt))(x_cl, w_cl, b)
    expected = run(functools.partial(fn, **kwargs))(x, w, b)
    _close(ours, np.moveaxis(np.asarray(expected), 1 if batched else 0, -1), atol=1e-6)


def test_impls_agree_and_forward_mode_works_by_default(rng):
    x, w = _x(rng, 2, 3, 7, 6), _x(rng, 4, 3, 3, 2)
    kwargs = {"stride": 2, "padding": 1, "dilation": (1, 2)}
    base = F.conv2d(x, w, **kwargs)  # eager; the rest in one program

    @jax.jit
    def run(x, w):
        impls = [F.conv2d(x, w, **kwargs, impl=i) for i in ("im2col", "hybrid", "auto")]
        tangent = jax.jvp(lambda x: F.conv2d(x, w), (x,), (jnp.ones_like(x),))[1]
        grouped = [  # once per group
            F.conv2d(x[:, :2], w[:, :1], groups=2, impl=i)
            for i in ("xla", "im2col", "hybrid")
        ]
        return impls, tangent, grouped

    impls, tangent, grouped = run(x, w)
    for ours in impls:
        _close(ours, base, atol=1e-5)
    assert tangent.shape == (2, 4, 5, 5)
    for ours in grouped[1:]:
        _close(ours, grouped[0], atol=1e-5)


ERRORS = [
    ("conv2d", (2, 4, 9, 9), (4, 3, 3, 3), {}),
    ("conv2d", (2, 4, 9, 9), (4, 4, 3, 3), {"stride": 2, "padding": "same"}),
    ("conv2d", (2, 4, 9, 9), (4, 4, 3, 3), {"padding": "foo"}),
    ("conv2d", (2, 4, 9, 9), (4, 4, 10, 10), {}),
    ("conv2d", (2, 4, 9, 9), (4, 2, 3, 3), {"groups": 3}),
    ("conv2d", (2, 4, 9, 9), (4, 4, 3, 3), {"stride": 0}),
    ("conv2d", (2, 4, 9, 9), (4, 4, 3, 3), {"padding": -1}),
    ("conv2d", (2, 4, 9, 9), (4, 4, 3, 3), {"dilation": 0}),
    ("conv2d", (2, 4, 9, 9), (4, 4, 3, 3), {"stride": (1, 1, 1)}),
    ("conv2d", (2, 4, 9, 9), (4, 4, 3, 3), {"groups": 0}),
    ("conv1d", (2, 4, 5), (4, 4, 3), {"dilation": 3}),
    ("conv3d", (1, 2, 3, 3, 3), (2, 2, 3, 3, 3), {"bias": (3,)}),
    (
        "conv_transpose2d",
        (2, 4, 9, 9),
        (4, 2, 3, 3),
        {"stride": 2, "output_padding": 2},
    ),
    ("conv_transpose2d", (2, 4, 9, 9), (3, 2, 3, 3), {}),
    ("conv_transpose1d", (2, 4, 9), (4, 2, 3), {"padding": "same"}),
]


@pytest.mark.parametrize(("name", "xs", "ws", "kwargs"), ERRORS, ids=str)
def test_errors_match_torch(torch, name, xs, ws, kwargs):
    if "bias" in kwargs:
        kwargs = {**kwargs, "bias": np.ones(kwargs["bias"], np.float32)}
    x, w = np.ones(xs, np.float32), np.ones(ws, np.float32)
    tkwargs = {
        k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
        for k, v in kwargs.items()
    }
    with pytest.raises(Exception) as theirs:
        getattr(torch.nn.functional, name)(
            torch.from_numpy(x), torch.from_numpy(w), **tkwargs
        )
    with pytest.raises(type(theirs.value)) as ours:
        getattr(F, name)(x, w, **kwargs)
    if type(theirs.value) is RuntimeError:
        assert str(ours.value) == str(theirs.value)
