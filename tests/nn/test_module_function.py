"""Every nn module and its torch.nn.functional twin: one implementation per op.

Each module is driven with the same inputs as its function (kinks included: 0,
ties, NaN, inf); values and gradients must be identical, bit for bit. A few kink
gradients are also checked against torch (LeakyReLU's at 0 was 1 when the module
had its own implementation; torch's is ``negative_slope``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jtoolkit.functional as F
from jtoolkit import models

KINKS = np.array([0.0, -0.0, 1.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 2.5, -3.0])


def _images(rng):
    """[N=2, H=4, W=5, C=3] NHWC with ties, zeros, a NaN and infs."""
    x = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
    x[0, 0, :2, 0] = 1.5  # a tie in one window
    x[0, 1, 1, 1] = 0.0
    x[1, 2, 3, 2] = np.nan
    x[1, 0, 0, 0] = np.inf
    x[1, 3, 4, 1] = -np.inf
    return x


def _vector(rng):
    return np.concatenate([KINKS, rng.standard_normal(6)]).astype(np.float32)


def _matrix(rng):
    return np.stack([_vector(rng), _vector(rng)[::-1]])


def _eval(module):
    module.eval()
    return module


ELEMENTWISE = {
    "ReLU": (lambda: models.ReLU(), F.relu),
    "Tanh": (lambda: models.Tanh(), F.tanh),
    "Sigmoid": (lambda: models.Sigmoid(), F.sigmoid),
    "SiLU": (lambda: models.SiLU(), F.silu),
    "GELU": (lambda: models.GELU(), F.gelu),
    "GELU-tanh": (lambda: models.GELU("tanh"), lambda x: F.gelu(x, "tanh")),
    "LeakyReLU": (lambda: models.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)),
    "Softmax": (lambda: models.Softmax(dim=1), lambda x: F.softmax(x, 1)),
    "LogSoftmax": (lambda: models.LogSoftmax(dim=0), lambda x: F.log_softmax(x, 0)),
    "Softmax-neg": (lambda: models.Softmax(-1), lambda x: F.softmax(x, -1)),
    "ELU": (lambda: models.ELU(0.5), lambda x: F.elu(x, 0.5)),
    "CELU": (lambda: models.CELU(2.0), lambda x: F.celu(x, 2.0)),
    "SELU": (lambda: models.SELU(), F.selu),
    "GLU": (lambda: models.GLU(0), lambda x: F.glu(x, 0)),
    "Hardshrink": (lambda: models.Hardshrink(1.0), lambda x: F.hardshrink(x, 1.0)),
    "Softshrink": (lambda: models.Softshrink(1.0), lambda x: F.softshrink(x, 1.0)),
    "Hardsigmoid": (lambda: models.Hardsigmoid(), F.hardsigmoid),
    "Hardswish": (lambda: models.Hardswish(), F.hardswish),
    "Hardtanh": (
        lambda: models.Hardtanh(-1.0, 2.5),
        lambda x: F.hardtanh(x, -1.0, 2.5),
    ),
    "ReLU6": (lambda: models.ReLU6(), F.relu6),
    "LogSigmoid": (lambda: models.LogSigmoid(), F.logsigmoid),
    "Mish": (lambda: models.Mish(), F.mish),
    "Softplus": (lambda: models.Softplus(2.0, 5.0), lambda x: F.softplus(x, 2.0, 5.0)),
    "Softsign": (lambda: models.Softsign(), F.softsign),
    "Tanhshrink": (lambda: models.Tanhshrink(), F.tanhshrink),
    "Threshold": (
        lambda: models.Threshold(1.0, -2.0),
        lambda x: F.threshold(x, 1.0, -2.0),
    ),
    "Softmin": (lambda: models.Softmin(1), lambda x: F.softmin(x, 1)),
    "PReLU": (
        lambda: models.PReLU(16, 0.1),
        lambda x: F.prelu(x, jnp.full(16, 0.1, jnp.float32), channels_last=True),
    ),
    "RReLU-eval": (
        lambda: _eval(models.RReLU(0.1, 0.4)),
        lambda x: F.rrelu(x, 0.1, 0.4),
    ),
}


def _same(module_fn, function, x):
    """Equal values and equal gradients (of a random cotangent), NaNs in place."""
    ours, theirs = module_fn(x), function(x)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    cot = jnp.asarray(np.random.default_rng(1).standard_normal(np.shape(ours)))
    cot = cot.astype(jnp.asarray(ours).dtype)
    g_mod = jax.grad(lambda v: jnp.sum(module_fn(v) * cot))(jnp.asarray(x))
    g_fn = jax.grad(lambda v: jnp.sum(function(v) * cot))(jnp.asarray(x))
    np.testing.assert_array_equal(np.asarray(g_mod), np.asarray(g_fn))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_module_is_its_function(rng, name):
    build, function = ELEMENTWISE[name]
    _same(build(), function, _matrix(rng))


POOLS = {
    "MaxPool2d": (
        lambda: models.MaxPool2d(2, 1, 1),
        lambda x: F.max_pool2d(x, 2, 1, 1, data_format="NHWC"),
    ),
    "MaxPool2d-ceil-dil": (
        lambda: models.MaxPool2d(2, 2, 0, dilation=2, ceil_mode=True),
        lambda x: F.max_pool2d(x, 2, 2, 0, 2, True, data_format="NHWC"),
    ),
    "AvgPool2d": (
        lambda: models.AvgPool2d(3, 2, 1, count_include_pad=False),
        lambda x: F.avg_pool2d(x, 3, 2, 1, False, False, data_format="NHWC"),
    ),
    "AvgPool2d-ceil": (
        lambda: models.AvgPool2d(2, ceil_mode=True, divisor_override=3),
        lambda x: F.avg_pool2d(x, 2, None, 0, True, True, 3, data_format="NHWC"),
    ),
    "AdaptiveAvgPool2d": (
        lambda: models.AdaptiveAvgPool2d((3, 2)),
        lambda x: F.adaptive_avg_pool2d(x, (3, 2), data_format="NHWC"),
    ),
    "Flatten": (lambda: models.Flatten(), F.flatten),
}


@pytest.mark.parametrize("name", POOLS)
def test_pool_and_shape_modules_are_their_functions(rng, name):
    build, function = POOLS[name]
    _same(build(), function, _images(rng))


def test_max_pool1d_module_is_its_function(rng):
    x = _images(rng)[0]  # [L=4, 5, C=3] read as [N=4, L=5, C=3]
    _same(
        models.MaxPool1d(3, 2, 1),
        lambda v: F.max_pool1d(v, 3, 2, 1, data_format="NLC"),
        x,
    )


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_dropout_modules_are_their_functions(rng, p):
    x = _images(rng)
    pairs = [
        (models.Dropout(p, rngs=nnx.Rngs(0)), F.dropout),
        (
            models.Dropout2d(p, rngs=nnx.Rngs(0)),
            lambda v, p, t, k: F.dropout2d(v, p, t, k, data_format="NHWC"),
        ),
    ]
    for module, function in pairs:
        key = nnx.clone(module).rngs()  # the key the module draws next
        _same(
            lambda v, m=module: nnx.clone(m)(v),
            lambda v, f=function, k=key: f(v, p, True, k),
            x,
        )
        module.eval()
        _same(module, lambda v, f=function: f(v, p, False, None), x)


def test_linear_module_is_its_function(rng):
    layer = models.Linear(3, 4, rngs=nnx.Rngs(0))
    x = _images(rng)
    weight, bias = layer.kernel[...].T, layer.bias[...]
    _same(layer, lambda v: F.linear(v, weight, bias), x)


def test_kink_gradients_match_torch(torch):
    x = KINKS[np.isfinite(KINKS)].astype(np.float32)
    cases = [
        (models.LeakyReLU(0.2), lambda t: torch.nn.functional.leaky_relu(t, 0.2)),
        (models.ReLU(), torch.relu),
        (models.GELU(), torch.nn.functional.gelu),
    ]
    for module, reference in cases:
        t = torch.tensor(x, requires_grad=True)
        reference(t).sum().backward()
        ours = jax.grad(lambda v, m=module: jnp.sum(m(v)))(jnp.asarray(x))
        np.testing.assert_allclose(ours, t.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_module_errors_are_the_functions(torch):
    with pytest.raises(RuntimeError) as ours:
        models.GELU("fast")
    with pytest.raises(RuntimeError) as theirs:
        F.gelu(jnp.ones(1), "fast")
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(RuntimeError):
        torch.nn.GELU("fast")(torch.ones(1))
    for call in (
        lambda: models.Softmax(5)(jnp.ones((2, 2))),
        lambda: F.softmax(jnp.ones((2, 2)), 5),
    ):
        with pytest.raises(IndexError, match="Dimension out of range"):
            call()
    for call in (
        lambda: models.Softmax()(jnp.ones((2, 2))),
        lambda: F.softmax(jnp.ones((2, 2))),
    ):
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
            call()
