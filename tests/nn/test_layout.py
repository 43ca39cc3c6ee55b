"""The layout rule (README "What differs from torch", ``Flatten``'s docstring):
``Flatten`` is row-major on the array it gets, as torch; conv networks put NHWC
features into torch's (C, H, W) order themselves before flattening."""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtoolkit import models
from jtoolkit.models import (
    CNN,
    MLP,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
)


def _load(model, twin):
    sd = {k: v.detach().numpy() for k, v in twin.state_dict().items()}
    return models.load_torch_state_dict(model, sd)


def test_a_torch_cnn_loads_into_the_cnn_and_gives_torchs_outputs(torch, rng):
    from test_models import torch_cnn

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


def test_flatten_never_reorders_a_4d_input(rng):
    x = jnp.asarray(rng.standard_normal((2, 3, 4, 5)).astype(np.float32))
    np.testing.assert_array_equal(Flatten()(x), x.reshape(2, -1))
