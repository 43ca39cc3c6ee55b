"""Tests of ``jtoolkit/_src/nn/functional/activation.py`` (``gelu``, ``leaky_relu``,
``log_softmax``, ``relu``, ``sigmoid``, ``silu``, ``softmax``, ``tanh``).

Moved from test_functional.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.functional against torch.nn.functional: values, gradients (torch
autograd as the oracle on ``sum(f(x) * w)``), under ``jax.jit``, layouts and
torch's exception types.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from parity import assert_close_to_truth, torch_references

import jtoolkit.functional as F
from tests.nn._harness import RTOL, _x, check

# --------------------------------------------------------------- activations

ACTIVATIONS = {
    "relu": (F.relu, lambda t, x: t.nn.functional.relu(x)),
    "leaky_relu": (
        lambda x: F.leaky_relu(x, 0.2),
        lambda t, x: t.nn.functional.leaky_relu(x, 0.2),
    ),
    "leaky_relu_default": (F.leaky_relu, lambda t, x: t.nn.functional.leaky_relu(x)),
    "gelu": (F.gelu, lambda t, x: t.nn.functional.gelu(x)),
    "gelu_tanh": (
        lambda x: F.gelu(x, approximate="tanh"),
        lambda t, x: t.nn.functional.gelu(x, approximate="tanh"),
    ),
    "silu": (F.silu, lambda t, x: t.nn.functional.silu(x)),
    "sigmoid": (F.sigmoid, lambda t, x: t.sigmoid(x)),
    "tanh": (F.tanh, lambda t, x: t.tanh(x)),
    "softmax": (
        lambda x: F.softmax(x, dim=1),
        lambda t, x: t.nn.functional.softmax(x, dim=1),
    ),
    "log_softmax": (
        lambda x: F.log_softmax(x, -1),
        lambda t, x: t.nn.functional.log_softmax(x, -1),
    ),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_match_torch(torch, rng, name):
    ours, theirs = ACTIVATIONS[name]
    x = _x(rng, 4, 6) * 3
    x[0, :3] = 0.0  # the kinks: torch's gradient at exactly 0
    check(torch, rng, ours, lambda a: theirs(torch, a), [x])


def test_softmax_implicit_dim_warns_as_torch(torch):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        ours = F.softmax(x)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        theirs = torch.nn.functional.softmax(torch.tensor(x))
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=RTOL)


def test_gelu_rejects_unknown_approximation(torch):
    with pytest.raises(RuntimeError, match="none or tanh"):
        torch.nn.functional.gelu(torch.zeros(2), approximate="x")
    with pytest.raises(RuntimeError, match="none or tanh"):
        F.gelu(jnp.zeros(2), approximate="x")


def test_gelu_tanh_tails_match_torch_float64(torch, rng):
    """The tanh form far from 0, values and gradients, to parity.py's derived bound.

    ``1 + tanh(u)`` cancels in the negative tail: XLA's float32 tanh, capped at
    SSE4.2, did not round to -1 there and left gradients of -9e-6 where torch's are
    0 (CONTRIBUTING.md's ISA reruns); the positive tail saturates to ``x``, grad 1.
    """
    tails = np.linspace(3.0, 12.0, 91)
    x = np.concatenate([-tails, tails]).astype(np.float32)
    w = rng.standard_normal(x.shape).astype(np.float32)

    def run(start, dtype):
        t = torch.tensor(start, dtype=dtype, requires_grad=True)
        y = torch.nn.functional.gelu(t, approximate="tanh")
        (y * torch.tensor(w, dtype=dtype)).sum().backward()
        return {"value": y, "grad": t.grad}

    def ours(v):
        return F.gelu(v, approximate="tanh")

    value, vjp = jax.vjp(ours, jnp.asarray(x))
    got = {"value": value, "grad": vjp(jnp.asarray(w))[0]}
    truth, references = torch_references(run, x, torch)
    assert_close_to_truth(got, truth, references, "gelu tanh tails")


# ------------------------------------- the rest: kinks, NaN and inf against torch

KINKS = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 6.0, 2.5, 10.0, -10.0, 100.0]
SPECIAL = [np.nan, np.inf, -np.inf]

ELEMENTWISE = {
    "elu": ((), (0.7,)),
    "celu": ((), (2.0,)),
    "selu": ((), ()),
    "hardshrink": ((), (1.0,)),
    "softshrink": ((), (1.0,)),
    "hardsigmoid": ((), ()),
    "hardswish": ((), ()),
    "hardtanh": ((), (-1.0, 2.5)),
    "relu6": ((), ()),
    "logsigmoid": ((), ()),
    "mish": ((), ()),
    "softplus": ((), (2.0, 5.0)),
    "softsign": ((), ()),
    "tanhshrink": ((), ()),
    "threshold": ((1.0, -2.0), (-1.0, 3.0)),
}
CASES = [(n, a) for n, (first, second) in ELEMENTWISE.items() for a in (first, second)]
# torch's own gradient at a NaN input depends on its CPU kernel and on the NaN's
# position for these: NaN inside a vectorised stride, the positive branch's slope
# in the scalar remainder (elu with a NaN at index 6 of 20 elements: NaN with
# ATEN_CPU_CAPABILITY=default or avx2, 1.0 with avx512, whose stride is longer).
# The oracle has no answer there, so their gradients are compared at every other
# input (their values at NaN still are).
GRAD_AT_NAN_BY_KERNEL = {"elu", "celu", "selu", "hardswish"}


def _kink_input(rng):
    return np.concatenate([KINKS, SPECIAL, 3 * _x(rng, 12)]).astype(np.float32)


def _torch_value_and_grad(torch, fn, x, w):
    t = torch.tensor(x, requires_grad=True)
    y = fn(t)
    (y * torch.tensor(w)).sum().backward()
    return y.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize(("name", "args"), CASES, ids=str)
def test_more_activations_match_torch_at_kinks(torch, rng, name, args):
    x = _kink_input(rng)
    w = _x(rng, x.size)
    y, g = _torch_value_and_grad(
        torch, lambda t: getattr(torch.nn.functional, name)(t, *args), x, w
    )
    ours = getattr(F, name)
    np.testing.assert_allclose(ours(x, *args), y, RTOL, 1e-6)
    grad = jax.grad(lambda v: jnp.sum(ours(v, *args) * w))(jnp.asarray(x))
    compared = ~np.isnan(x) if name in GRAD_AT_NAN_BY_KERNEL else slice(None)
    np.testing.assert_allclose(np.asarray(grad)[compared], g[compared], RTOL, 1e-6)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("glu", lambda rng: (_x(rng, 3, 4, 2), 1)),
        ("glu", lambda rng: (_x(rng, 6), -1)),
        ("softmin", lambda rng: (_x(rng, 3, 4), 0)),
        ("prelu", lambda rng: (_x(rng, 2, 3, 4), _x(rng, 3))),
        ("prelu", lambda rng: (_x(rng, 5), np.float32([0.3]))),
        ("rrelu", lambda rng: (_kink_input(rng)[np.isfinite(_kink_input(rng))], 0.1)),
    ],
    ids=["glu-dim1", "glu-last", "softmin-dim0", "prelu-channels", "prelu-1d", "rrelu"],
)
def test_shaped_activations_match_torch(torch, rng, name, make):
    x, arg = make(rng)
    floats = [x, arg] if isinstance(arg, np.ndarray) else [x]
    rest = [] if isinstance(arg, np.ndarray) else [arg]
    check(
        torch,
        rng,
        lambda *a: getattr(F, name)(*a, *rest),
        lambda *a: getattr(torch.nn.functional, name)(*a, *rest),
        floats,
    )


def test_prelu_channels_last_is_torchs_channel_dim(rng):
    x, w = _x(rng, 2, 3, 4), _x(rng, 3)
    nchw = F.prelu(x, w)
    nhwc = F.prelu(x.transpose(0, 2, 1), w, channels_last=True)
    np.testing.assert_array_equal(nchw, np.asarray(nhwc).transpose(0, 2, 1))


def test_rrelu_training_draws_slopes_in_range_with_their_gradient():
    x = -jnp.linspace(0.0, 2.0, 4000)
    key = jax.random.key(0)
    y = F.rrelu(x, 0.1, 0.3, training=True, key=key)
    slopes = np.asarray(y[1:] / x[1:])
    assert 0.1 <= slopes.min() and slopes.max() <= 0.3
    assert abs(slopes.mean() - 0.2) < 0.005  # U(0.1, 0.3): sd of the mean 0.0009
    grad = jax.grad(lambda v: F.rrelu(v, 0.1, 0.3, True, key=key).sum())(x)
    np.testing.assert_allclose(grad[1:], slopes, rtol=1e-6)
    np.testing.assert_array_equal(y, F.rrelu(x, 0.1, 0.3, True, key=key))


def _ones(*shape):
    return np.ones(shape, np.float32)


BAD = [
    ("glu", (np.float32(1.0),), RuntimeError, "does not support scalars"),
    ("glu", (_ones(2, 3), 1), RuntimeError, "Halving dimension"),
    ("glu", (_ones(2, 4), 2), IndexError, "out of range"),
    ("softshrink", (_ones(2), -1.0), RuntimeError, "lambda must be"),
    ("celu", (_ones(2), 0.0), RuntimeError, "alpha cannot be 0"),
    ("hardtanh", (_ones(2), 2.0, 1.0), ValueError, "min_val cannot"),
    ("rrelu", (_ones(2), 0.5, 0.1, True), RuntimeError, "Lower"),
    ("prelu", (_ones(2, 4), _ones(3)), RuntimeError, "Mismatch"),
    ("prelu", (_ones(2, 3), _ones(3, 1)), RuntimeError, "1D"),
]


@pytest.mark.parametrize(("name", "args", "exc", "match"), BAD, ids=str)
def test_bad_activation_calls_raise_as_torch(torch, name, args, exc, match):
    arrays = np.ndarray | np.generic
    targs = [torch.tensor(a) if isinstance(a, arrays) else a for a in args]
    with pytest.raises(exc, match=match):
        getattr(torch.nn.functional, name)(*targs)
    with pytest.raises(exc, match=match):
        getattr(F, name)(*args)


def test_rrelu_training_needs_a_key():
    with pytest.raises(ValueError, match=r"key=jax\.random\.key"):
        F.rrelu(jnp.ones(2), training=True)
