"""Tests of ``jtoolkit/_src/nn/networks.py`` (``CNN``, ``MLP``, ``LSTMClassifier``,
``SimpleNN``).

Moved from test_layout.py, test_models.py when the tests were laid out to mirror the
code; those files' notes:

test_layout.py:
The layout rule (README "What differs from torch", ``Flatten``'s docstring):
``Flatten`` is row-major on the array it gets, as torch; conv networks put NHWC
features into torch's (C, H, W) order themselves before flattening.

test_models.py:
Layer and network parity with torch: loaded weights, outputs, gradients, init.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit import models
from jtoolkit.models import (
    CNN,
    MLP,
    Conv2d,
    Flatten,
    Linear,
    LSTMClassifier,
    MaxPool2d,
    ReLU,
    Sequential,
    SimpleNN,
)
from tests.nn._harness import (
    RTOL,
    _load_from,
    _nchw,
    _t,
    torch_cnn,
    torch_lstm_classifier,
    torch_mlp,
)


def _load(model, twin):
    sd = {k: v.detach().numpy() for k, v in twin.state_dict().items()}
    return models.load_torch_state_dict(model, sd)


def test_a_torch_cnn_loads_into_the_cnn_and_gives_torchs_outputs(torch, rng):
    from tests.nn._harness import torch_cnn

    twin = torch_cnn(torch, 3, 5).eval()
    model = _load(CNN(3, 5, rngs=nnx.Rngs(0)), twin)
    x_nchw = rng.standard_normal((4, 3, 12, 10)).astype(np.float32)
    expected = twin(torch.from_numpy(x_nchw)).detach().numpy()
    y = jax.jit(lambda m, x: m(x))(model, x_nchw.transpose(0, 2, 3, 1))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


class HandCNN(nnx.Module):
    """A user's own conv net: it transposes before Flatten, as the rule says."""

    def __init__(self, rngs):
        self.features = Sequential(Conv2d(2, 4, 3, rngs=rngs), ReLU(), MaxPool2d(2))
        self.head = Sequential(Flatten(), Linear(4 * 3 * 3, 3, rngs=rngs))

    def __call__(self, x_nhwc):
        return self.head(self.features(x_nhwc).transpose(0, 3, 1, 2))


def test_a_hand_written_cnn_that_transposes_matches_torch(torch, rng):
    nn = torch.nn

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(2, 4, 3), nn.ReLU(), nn.MaxPool2d(2)
            )
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(36, 3))

        def forward(self, x):
            return self.head(self.features(x))

    twin = Twin()
    model = _load(HandCNN(nnx.Rngs(0)), twin)
    assert models.summary(model).replace("HandCNN", "Twin") == str(twin)
    x_nchw = rng.standard_normal((3, 2, 8, 8)).astype(np.float32)
    expected = twin(torch.from_numpy(x_nchw)).detach().numpy()
    y = model(x_nchw.transpose(0, 2, 3, 1))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_b_an_mlp_with_flatten_on_an_nchw_batch_gives_torchs_outputs(torch, rng):
    nn = torch.nn
    twin = nn.Sequential(nn.Flatten(), nn.Linear(48, 7), nn.ReLU(), nn.Linear(7, 3))
    model = Sequential(
        Flatten(),
        Linear(48, 7, rngs=nnx.Rngs(0)),
        ReLU(),
        Linear(7, 3, rngs=nnx.Rngs(0)),
    )
    _load(model, twin)
    x_nchw = rng.standard_normal((5, 3, 4, 4)).astype(np.float32)  # as torch feeds
    expected = twin(torch.from_numpy(x_nchw)).detach().numpy()
    np.testing.assert_allclose(model(x_nchw), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        jax.jit(lambda m, x: m(x))(model, x_nchw), expected, rtol=1e-5, atol=1e-6
    )


def test_b_the_shipped_mlp_flattens_an_nchw_batch_as_torch(torch, rng):
    nn = torch.nn
    twin = nn.Module()
    twin.layers = nn.Sequential(nn.Linear(16, 5), nn.ReLU(), nn.Linear(5, 2))
    model = _load(MLP([16, 5, 2], rngs=nnx.Rngs(0)), twin)
    x_nchw = rng.standard_normal((3, 1, 4, 4)).astype(np.float32)
    expected = twin.layers(torch.flatten(torch.from_numpy(x_nchw), 1))
    np.testing.assert_allclose(
        model(x_nchw), expected.detach().numpy(), rtol=1e-5, atol=1e-6
    )


def torch_simple(torch):
    nn = torch.nn

    class SimpleNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(1024, 224)
            self.fc2 = nn.Linear(224, 10)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    return SimpleNN()


def _networks(torch, rng):
    """(name, torch twin, jtoolkit model, jtoolkit input, torch input)."""
    image = rng.standard_normal((2, 11, 13, 3)).astype(np.float32)
    seq = rng.standard_normal((2, 5, 3)).astype(np.float32)
    flat = rng.standard_normal((3, 1024)).astype(np.float32)
    small = rng.standard_normal((3, 6)).astype(np.float32)
    rngs = nnx.Rngs(0)
    return [
        ("simple", torch_simple(torch), SimpleNN(rngs=rngs), flat, _t(torch, flat)),
        (
            "mlp",
            torch_mlp(torch, [6, 9, 7, 2], 0.3),
            MLP([6, 9, 7, 2], "tanh", 0.3, rngs=rngs),
            small,
            _t(torch, small),
        ),
        (
            "cnn",
            torch_cnn(torch, 3, 5),
            CNN(3, 5, rngs=rngs),
            image,
            _nchw(torch, image),
        ),
        (
            "lstm",
            torch_lstm_classifier(torch),
            LSTMClassifier(3, 8, 4, num_layers=2, rngs=rngs),
            seq,
            _t(torch, seq),
        ),
    ]


def test_networks_load_torch_weights_and_export_back(torch, rng):
    for name, ref, model, x, tx in _networks(torch, rng):
        _load_from(ref, model)
        model.eval()
        ref.eval()
        expected = ref(tx).detach().numpy()
        y = jax.jit(lambda m, x: m(x))(model, x)  # one compile, not one per op
        np.testing.assert_allclose(y, expected, RTOL, 1e-5, err_msg=name)
        fresh = type(ref)()  # another torch init; load our export into it
        fresh.load_state_dict(
            {k: torch.from_numpy(v) for k, v in models.torch_state_dict(model).items()}
        )
        fresh.eval()
        np.testing.assert_allclose(fresh(tx).detach().numpy(), expected, RTOL, 1e-6)
        assert models.count_parameters(model) == sum(
            p.numel() for p in ref.parameters()
        )


def test_networks_train_mode_without_dropout_matches_torch(torch, rng):
    for name, ref, model, x, tx in _networks(torch, rng):
        if name == "mlp":
            continue  # random masks differ by design; covered by the Dropout tests
        _load_from(ref, model)
        model.train()
        ref.train()
        y = jax.jit(lambda m, x: m(x))(model, x)
        np.testing.assert_allclose(
            y, ref(tx).detach().numpy(), RTOL, 1e-5, err_msg=name
        )
        leaves = nnx.to_flat_state(nnx.state(model))
        assert all(type(v) is nnx.Param for _, v in leaves), name


def test_cnn_accepts_digits_and_mnist_sizes():
    model = CNN(rngs=nnx.Rngs(0))
    for size in (8, 28, 32):  # shapes only: trace, no compile
        out = jax.eval_shape(lambda m, x: m(x), model, jnp.ones((2, size, size, 1)))
        assert out.shape == (2, 10)
    with pytest.raises(ValueError, match="activation"):
        MLP([2, 3], activation="swish", rngs=nnx.Rngs(0))
