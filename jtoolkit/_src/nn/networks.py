"""The tutorial's networks on jtoolkit layers: SimpleNN, MLP, CNN, LSTMClassifier."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.nn.activations import GELU, LeakyReLU, ReLU, Sigmoid, SiLU, Tanh
from jtoolkit._src.nn.containers import Sequential
from jtoolkit._src.nn.conv import Conv2d
from jtoolkit._src.nn.dropout import Dropout
from jtoolkit._src.nn.eager_call import compiled_forward
from jtoolkit._src.nn.linear import Linear
from jtoolkit._src.nn.pooling import AdaptiveAvgPool2d, MaxPool2d
from jtoolkit._src.nn.recurrent import LSTM
from jtoolkit._src.nn.reshape import Flatten

__all__ = ["CNN", "MLP", "LSTMClassifier", "SimpleNN"]


_ACTIVATIONS = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "gelu": GELU,
    "leaky_relu": LeakyReLU,
    "silu": SiLU,
}


def _flat(x: jax.Array) -> jax.Array:
    """[N, ...] -> [N, features] (images are flattened; [N, F] passes through)."""
    x = jnp.asarray(x)
    return x.reshape(x.shape[0], -1) if x.ndim > 2 else x


class SimpleNN(nnx.Module):
    """The tutorial's network: fc1 (1024 -> 224), ReLU, fc2 (224 -> 10).

    torch: the tutorial's ``SimpleNN(nn.Module)`` with ``self.fc1 = nn.Linear(1024,
    224)``, ``self.fc2 = nn.Linear(224, 10)``, ``forward = fc2(relu(fc1(x)))``.
    Inputs with more than 2 dims are flattened to [N, features] first.

    Args:
      in_features, hidden, out_features: layer widths.
      rngs: ``nnx.Rngs`` with a ``params`` stream.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import SimpleNN
      >>> SimpleNN(64, 32, 10, rngs=nnx.Rngs(0))(jnp.ones((5, 64))).shape
      (5, 10)
    """

    def __init__(
        self,
        in_features: int = 1024,
        hidden: int = 224,
        out_features: int = 10,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        self.fc1 = Linear(in_features, hidden, rngs=rngs)
        self.fc2 = Linear(hidden, out_features, rngs=rngs)

    @compiled_forward
    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fc2(jax.nn.relu(self.fc1(_flat(x))))


class MLP(nnx.Module):
    """Linear layers of ``sizes`` with an activation (and dropout) between them.

    torch: ``nn.Sequential(Linear(s0, s1), ReLU(), [Dropout(p)], Linear(s1, s2), ...)``
    held in ``self.layers`` (no activation after the last Linear). Inputs with more
    than 2 dims are flattened to [N, features] first.

    Args:
      sizes: at least two widths, input first.
      activation: one of "relu", "tanh", "sigmoid", "gelu", "leaky_relu", "silu".
      dropout: drop probability after each hidden activation (0 = no Dropout layer).
      rngs: ``nnx.Rngs`` (``params``, and ``dropout`` when dropout > 0).

    Raises:
      ValueError: fewer than two sizes, an unknown activation or a bad dropout.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import MLP
      >>> MLP([4, 8, 3], rngs=nnx.Rngs(0))(jnp.ones((2, 4))).shape
      (2, 3)
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        dropout: float = 0.0,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least 2 widths (in, out), got {sizes}")
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        layers: list = []
        for index, (width_in, width_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(Linear(width_in, width_out, rngs=rngs))
            if index < len(sizes) - 2:
                layers.append(_ACTIVATIONS[activation]())
                if dropout:
                    layers.append(Dropout(dropout, rngs=rngs))
        self.layers = Sequential(*layers)

    @compiled_forward
    def __call__(self, x: jax.Array) -> jax.Array:
        return self.layers(_flat(x))


class CNN(nnx.Module):
    """A small NHWC image classifier: 2 convs, max-pool, adaptive pool, 2 dense layers.

    torch twin (NCHW)::

        features = Sequential(Conv2d(in_channels, 32, 3, padding=1), ReLU(),
                              Conv2d(32, 64, 3, padding=1), ReLU(), MaxPool2d(2))
        pool = AdaptiveAvgPool2d((4, 4))
        classifier = Sequential(Flatten(), Linear(1024, 128), ReLU(),
                                Linear(128, num_classes))

    Any H, W >= 2 works (8x8 digits, 28x28 MNIST, 32x32 CIFAR); the adaptive pool keeps
    the flatten size at 64*4*4. Before the classifier the NHWC features are transposed
    to torch's NCHW (``Flatten`` itself is row-major, as torch's), so the flattened
    vector is in torch's (C, H, W) order and a torch twin's state_dict loads
    unchanged: with its weights, ``model(x_nhwc)`` equals
    ``twin(x_nhwc.transpose(0, 3, 1, 2))``.

    Args:
      in_channels: C of the [N, H, W, C] input.
      num_classes: logits per example.
      rngs: ``nnx.Rngs`` with a ``params`` stream.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import CNN
      >>> CNN(rngs=nnx.Rngs(0))(jnp.ones((2, 8, 8, 1))).shape
      (2, 10)
    """

    def __init__(
        self, in_channels: int = 1, num_classes: int = 10, *, rngs: nnx.Rngs
    ) -> None:
        self.features = Sequential(
            Conv2d(in_channels, 32, 3, padding=1, rngs=rngs),
            ReLU(),
            Conv2d(32, 64, 3, padding=1, rngs=rngs),
            ReLU(),
            MaxPool2d(2),
        )
        self.pool = AdaptiveAvgPool2d((4, 4))
        self.classifier = Sequential(
            Flatten(),
            Linear(64 * 4 * 4, 128, rngs=rngs),
            ReLU(),
            Linear(128, num_classes, rngs=rngs),
        )

    @compiled_forward
    def __call__(self, x: jax.Array) -> jax.Array:
        features = self.pool(self.features(x))  # NHWC
        return self.classifier(features.transpose(0, 3, 1, 2))  # torch's NCHW


class LSTMClassifier(nnx.Module):
    """An LSTM over [B, T, input_size] and a Linear on the last step's hidden state.

    torch twin: ``self.lstm = nn.LSTM(input_size, hidden_size, num_layers,
    batch_first=True)``, ``self.fc = nn.Linear(hidden_size, num_classes)``,
    ``forward = fc(lstm(x)[0][:, -1])``.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import LSTMClassifier
      >>> LSTMClassifier(3, 8, 4, rngs=nnx.Rngs(0))(jnp.ones((2, 5, 3))).shape
      (2, 4)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_classes: int,
        num_layers: int = 1,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        self.lstm = LSTM(
            input_size, hidden_size, num_layers, batch_first=True, rngs=rngs
        )
        self.fc = Linear(hidden_size, num_classes, rngs=rngs)

    @compiled_forward
    def __call__(self, x: jax.Array) -> jax.Array:
        output, _ = self.lstm(x)
        return self.fc(output[:, -1])
