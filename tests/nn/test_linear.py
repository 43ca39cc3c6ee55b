"""Tests of ``jtoolkit/_src/nn/linear.py`` (``Linear``).

Moved from test_models.py when the tests were laid out to mirror the code; that file's
notes:

Layer and network parity with torch: loaded weights, outputs, gradients, init.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit.models import (
    Conv2d,
    Embedding,
    Linear,
)
from tests.nn._harness import _close, _load_from, _t

# ---------------------------------------------------------------- Linear, Conv2d


def test_linear_matches_torch_values_and_grads_eager_and_jit(torch, rng):
    ref = torch.nn.Linear(5, 3)
    layer = _load_from(ref, Linear(5, 3, rngs=nnx.Rngs(0)))
    x = rng.standard_normal((4, 5)).astype(np.float32)
    tx = _t(torch, x).requires_grad_()
    ty = ref(tx)
    (ty**2).sum().backward()

    def loss(m, x):
        return jnp.sum(m(x) ** 2)

    for grad_fn in (jax.grad(loss, (0, 1)), jax.jit(jax.grad(loss, (0, 1)))):
        grads = grad_fn(layer, x)
        _close(grads[0].kernel[...], ref.weight.grad.numpy().T, atol=1e-5)
        _close(grads[0].bias[...], ref.bias.grad.numpy(), atol=1e-5)
        _close(grads[1], tx.grad.numpy(), atol=1e-5)
    _close(layer(x), ty.detach().numpy())
    _close(jax.jit(lambda m, x: m(x))(layer, x), ty.detach().numpy())


@pytest.mark.parametrize(
    "build,match",
    [
        (
            lambda r: Linear(0, 2, rngs=r),
            "Linear: in_features must be an integer >= 1, got 0",
        ),
        (
            lambda r: Linear(3, 2.0, rngs=r),
            "Linear: out_features must be an integer >= 1",
        ),
        (
            lambda r: Conv2d(1, -1, 3, rngs=r),
            "Conv2d: out_channels must be an integer >= 1",
        ),
        (lambda r: Embedding(True, 3, rngs=r), "Embedding: num_embeddings must be an"),
    ],
)
def test_layer_sizes_are_checked(build, match):
    with pytest.raises(ValueError, match=match):
        build(nnx.Rngs(0))


def test_linear_shape_mismatch_is_torch_runtime_error():
    layer = Linear(4, 2, rngs=nnx.Rngs(0))
    with pytest.raises(RuntimeError, match=r"\(3x5 and 4x2\)"):
        layer(jnp.ones((3, 5)))
