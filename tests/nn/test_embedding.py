"""Tests of ``jtoolkit/_src/nn/linear.py`` (``Embedding``).

Moved from test_models.py when the tests were laid out to mirror the code; that file's
notes:

Layer and network parity with torch: loaded weights, outputs, gradients, init.
"""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit.models import (
    Embedding,
)
from tests.nn._harness import _close, _load_from


def test_embedding_matches_torch_and_checks_ids(torch):
    ref = torch.nn.Embedding(7, 3)
    emb = _load_from(ref, Embedding(7, 3, rngs=nnx.Rngs(0)))
    ids = np.array([[0, 6, 2], [3, 3, 1]])
    _close(emb(ids), ref(torch.tensor(ids)).detach().numpy(), rtol=0, atol=0)
    with pytest.raises(IndexError, match="index out of range"):
        emb(jnp.array([7]))
