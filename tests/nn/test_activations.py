"""Tests of ``jtoolkit/_src/nn/activations.py`` (``GELU``, ``LeakyReLU``,
``LogSoftmax``, ``ReLU``, ``SiLU``, ``Sigmoid``, ``Softmax``, ``Tanh``).

Moved from test_layers_more.py when the tests were laid out to mirror the code; that
file's notes:

Second-wave layers against torch: values, input and parameter gradients, modes,
summary text, state_dict names, init moments and errors.
"""

import jax
import numpy as np
import pytest

from jtoolkit import models
from jtoolkit.models import (
    GELU,
    Identity,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from tests.nn._harness import _parity

ACTIVATIONS = [
    ("ReLU", {"inplace": True}, ReLU),
    ("ReLU", {}, ReLU),
    ("Tanh", {}, Tanh),
    ("Sigmoid", {}, Sigmoid),
    ("SiLU", {"inplace": True}, SiLU),
    ("GELU", {"approximate": "tanh"}, GELU),
    ("LeakyReLU", {"negative_slope": 0.2, "inplace": True}, LeakyReLU),
    ("Softmax", {"dim": -1}, Softmax),
    ("Softmax", {"dim": 0}, Softmax),
    ("LogSoftmax", {"dim": 1}, LogSoftmax),
    ("Identity", {}, Identity),
    ("ELU", {"alpha": 0.5, "inplace": True}, models.ELU),
    ("CELU", {"alpha": 2.0}, models.CELU),
    ("SELU", {}, models.SELU),
    ("GLU", {"dim": 1}, models.GLU),
    ("Hardshrink", {"lambd": 1.0}, models.Hardshrink),
    ("Softshrink", {}, models.Softshrink),
    ("Hardsigmoid", {}, models.Hardsigmoid),
    ("Hardswish", {"inplace": True}, models.Hardswish),
    ("Mish", {"inplace": True}, models.Mish),
    ("Hardtanh", {"min_val": -2.0, "max_val": 3.0}, models.Hardtanh),
    ("ReLU6", {}, models.ReLU6),
    ("LogSigmoid", {}, models.LogSigmoid),
    ("Mish", {}, models.Mish),
    ("Softplus", {"beta": 2.0, "threshold": 4.0}, models.Softplus),
    ("Softsign", {}, models.Softsign),
    ("Tanhshrink", {}, models.Tanhshrink),
    ("Threshold", {"threshold": 0.5, "value": -1.0}, models.Threshold),
    ("Softmin", {"dim": 2}, models.Softmin),
    ("PReLU", {}, models.PReLU),
]


@pytest.mark.parametrize(("name", "kwargs", "ours"), ACTIVATIONS, ids=str)
def test_activation_modules_match_torch(torch, rng, name, kwargs, ours):
    x = (rng.standard_normal((3, 4, 5)) * 3).astype(np.float32)
    ref = getattr(torch.nn, name)(**kwargs)
    eager = next(a for a in ACTIVATIONS if a[0] == name)[1] == kwargs  # see _parity
    _parity(torch, rng, ref, ours(**kwargs), x, channels_last=False, eager=eager)


@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)], ids=str)
def test_softmax_implicit_dim_is_torchs_with_its_warning(torch, rng, cls, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        expected = getattr(torch.nn, cls)()(torch.from_numpy(x)).numpy()
    layer = getattr(models, cls)()
    # eager once per class (one program per op and shape); the same code jitted
    call = layer if len(shape) == 1 else jax.jit(lambda x: layer(x))
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        y = call(x)
    np.testing.assert_allclose(y, expected, 1e-5, 1e-6)


def test_channel_activations_take_jtoolkits_channels_last_layout(torch, rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)  # NHWC, C = 5
    for ref, ours in (
        (torch.nn.PReLU(5, 0.1), models.PReLU(5, 0.1)),
        (torch.nn.Softmax2d(), models.Softmax2d()),
    ):
        _parity(torch, rng, ref, ours, x)  # NCHW for torch, NHWC here
    unbatched = models.Softmax2d()(x[0])
    np.testing.assert_allclose(unbatched, models.Softmax2d()(x)[0], 1e-6)
    with pytest.raises(ValueError, match="expected input to be 3D or 4D, got 2D"):
        models.Softmax2d()(x[0, 0])


def test_prelu_state_dict_init_and_factory_keywords(torch):
    ref = torch.nn.PReLU(3, 0.1)
    layer = models.PReLU(3, 0.1)
    sd = models.torch_state_dict(layer)
    assert list(sd) == list(ref.state_dict()) == ["weight"]
    np.testing.assert_array_equal(sd["weight"], ref.weight.detach().numpy())
    ref.weight.data.fill_(0.7)
    models.load_torch_state_dict(layer, {"weight": ref.weight.detach().numpy()})
    loaded = models.torch_state_dict(layer)["weight"]
    np.testing.assert_array_equal(loaded, np.float32(0.7))

    cpu = jax.devices("cpu")[0]
    placed = models.PReLU(2, device=cpu, dtype=np.float16)
    assert placed.weight.dtype == np.float16
    assert placed.weight[...].devices() == {cpu}
    with pytest.raises(ValueError, match="num_parameters"):
        models.PReLU(0)


def test_rrelu_module_trains_with_random_slopes_and_evaluates_as_torch(torch):
    from flax import nnx

    x = -np.linspace(0.1, 2.0, 500).astype(np.float32)
    layer = models.RReLU(0.1, 0.3, rngs=nnx.Rngs(0))
    first, second = layer(x), layer(x)
    assert not np.array_equal(first, second)  # a fresh draw per call
    slopes = np.asarray(first) / x
    assert 0.1 <= slopes.min() and slopes.max() <= 0.3
    layer.eval()
    expected = torch.nn.RReLU(0.1, 0.3).eval()(torch.tensor(x)).numpy()
    np.testing.assert_array_equal(layer(x), expected)
    assert models.summary(layer) == str(torch.nn.RReLU(0.1, 0.3))
    with pytest.raises(ValueError, match="no rngs"):
        models.RReLU()(x)


def test_hardtanh_checks_and_deprecated_names_as_torch(torch):
    for build in (torch.nn.Hardtanh, models.Hardtanh):
        with pytest.raises(AssertionError, match="must be greater than min_val"):
            build(1.0, 1.0)
        with pytest.warns(FutureWarning, match="min_value"):
            layer = build(min_value=-2.0)
        assert layer.min_val == -2.0
