"""Tests of ``jtoolkit/_src/nn/activations.py`` (``GELU``, ``LeakyReLU``,
``LogSoftmax``, ``ReLU``, ``SiLU``, ``Sigmoid``, ``Softmax``, ``Tanh``).

Moved from test_layers_more.py when the tests were laid out to mirror the code; that
file's notes:

Second-wave layers against torch: values, input and parameter gradients, modes,
summary text, state_dict names, init moments and errors.
"""

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
]


@pytest.mark.parametrize(("name", "kwargs", "ours"), ACTIVATIONS, ids=str)
def test_activation_modules_match_torch(torch, rng, name, kwargs, ours):
    x = (rng.standard_normal((3, 4, 5)) * 3).astype(np.float32)
    ref = getattr(torch.nn, name)(**kwargs)
    _parity(torch, rng, ref, ours(**kwargs), x, channels_last=False)


@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)], ids=str)
def test_softmax_implicit_dim_is_torchs_with_its_warning(torch, rng, cls, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        expected = getattr(torch.nn, cls)()(torch.from_numpy(x)).numpy()
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        y = getattr(models, cls)()(x)
    np.testing.assert_allclose(y, expected, 1e-5, 1e-6)
