"""Small jtoolkit models for the export tests (eval mode, fixed seeds)."""

from __future__ import annotations

import jax
from flax import nnx

from jtoolkit import models


def zoo() -> dict[str, tuple[nnx.Module, jax.Array]]:
    """name -> (model, example input) covering dense, conv+BN, RNN, attention."""
    r = nnx.Rngs(0)
    x = jax.random.normal(jax.random.key(1), (2, 8, 8, 3))
    return {
        "simple": (models.SimpleNN(64, 16, 4, rngs=r), x.reshape(2, -1)[:, :64]),
        "cnn": (models.CNN(1, 10, rngs=r), x[..., :1]),
        "conv_bn": (
            models.Sequential(
                models.Conv2d(3, 4, 3, padding=1, rngs=r),
                models.BatchNorm2d(4),
                models.ReLU(),
            ),
            x,
        ),
        "lstm": (models.LSTMClassifier(3, 16, 3, rngs=r), x[:, 0, :5, :]),
        "encoder": (
            models.TransformerEncoder(
                models.TransformerEncoderLayer(
                    8, 2, 16, dropout=0.0, batch_first=True, rngs=r
                ),
                2,
            ),
            x[:, :5, :8, 0],
        ),
    }
