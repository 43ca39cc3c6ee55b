"""Tests of ``jtoolkit/_src/nn/functional/activation.py`` (``gelu``, ``leaky_relu``,
``log_softmax``, ``relu``, ``sigmoid``, ``silu``, ``softmax``, ``tanh``).

Moved from test_functional.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.functional against torch.nn.functional: values, gradients (torch
autograd as the oracle on ``sum(f(x) * w)``), under ``jax.jit``, layouts and
torch's exception types.
"""

import jax.numpy as jnp
import numpy as np
import pytest

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
