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

from jtoolkit import models
from jtoolkit.models import (
    Conv2d,
    Embedding,
    Linear,
)
from tests.nn._harness import _close, _load_from, _t, _x

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


def test_bilinear_matches_torch_init_state_dict_and_grads(torch, rng):
    ref = torch.nn.Bilinear(3, 2, 4)
    ours = models.Bilinear(3, 2, 4, rngs=nnx.Rngs(0))
    sd = models.torch_state_dict(ours)
    assert list(sd) == list(ref.state_dict()) == ["weight", "bias"]
    assert sd["weight"].shape == (4, 3, 2) and np.abs(sd["weight"]).max() <= 3**-0.5
    assert models.summary(ours) == str(ref)
    _load_from(ref, ours)
    x1, x2 = _x(rng, 5, 3), _x(rng, 5, 2)
    t1, t2 = (torch.tensor(v, requires_grad=True) for v in (x1, x2))
    ref(t1, t2).sum().backward()
    _close(ours(x1, x2), ref(t1, t2).detach().numpy())
    graphdef, params = nnx.split(ours)

    def loss(params, a, b):
        return nnx.merge(graphdef, params)(a, b).sum()

    gp, g1, g2 = jax.grad(loss, argnums=(0, 1, 2))(params, x1, x2)
    _close(g1, t1.grad.numpy())
    _close(g2, t2.grad.numpy())
    grads = models.torch_state_dict(nnx.merge(graphdef, gp))
    _close(grads["weight"], ref.weight.grad.numpy())
    nobias = models.Bilinear(3, 2, 4, False, dtype=jnp.bfloat16, rngs=nnx.Rngs(0))
    assert nobias.bias is None and nobias.weight.dtype == jnp.bfloat16


def test_distance_modules_call_their_functions(torch, rng):
    a, b = _x(rng, 4, 3), _x(rng, 4, 3)
    for name, args in (
        ("PairwiseDistance", (1.0, 1e-3, True)),
        ("CosineSimilarity", (0, 1e-6)),
    ):
        ref, ours = getattr(torch.nn, name)(*args), getattr(models, name)(*args)
        expected = ref(torch.tensor(a), torch.tensor(b)).numpy()
        _close(ours(a, b), expected)
        assert models.summary(ours) == str(ref)
