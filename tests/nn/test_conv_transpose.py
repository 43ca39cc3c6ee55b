"""Tests of ``jtoolkit/_src/nn/conv.py`` (``ConvTranspose1d/2d/3d``).

Against torch with torch's weights loaded: values, input and parameter gradients,
summary text; ``output_size``, unbatched input and torch's errors.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit import models
from tests.nn._harness import _close, _load_from, _parity

CONV_T = [
    (2, (3, 4, 3), {}),
    (2, (4, 6, 3), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}),
    (2, (2, 3, (2, 3)), {"stride": (2, 1), "padding": (0, 1), "dilation": (1, 2)}),
    (2, (2, 3, 3), {"dilation": 2, "output_padding": 1, "bias": False}),
    (2, (2, 2, 3), {"stride": 3, "padding": 2}),
    (2, (4, 4, 3), {"groups": 4, "stride": 2}),  # depthwise
    (1, (4, 6, 3), {"stride": 2, "output_padding": 1, "groups": 2, "dilation": 2}),
    (1, (2, 3, 1), {"padding": 0}),
    (3, (2, 4, 2), {"stride": (2, 1, 2), "padding": 1, "groups": 2}),
    (3, (2, 2, (1, 2, 3)), {"dilation": 2, "output_padding": (0, 1, 1)}),
]


@pytest.mark.parametrize(("n", "args", "kwargs"), CONV_T, ids=str)
def test_conv_transpose_matches_torch(torch, rng, n, args, kwargs):
    spatial = {1: (7,), 2: (5, 4), 3: (3, 1, 4)}[n]
    x = rng.standard_normal((2, *spatial, args[0])).astype(np.float32)
    layer = getattr(models, f"ConvTranspose{n}d")(*args, **kwargs, rngs=nnx.Rngs(0))
    ref = getattr(torch.nn, f"ConvTranspose{n}d")(*args, **kwargs)
    eager = (n, args, kwargs) in (CONV_T[0], CONV_T[6], CONV_T[8])  # one per n
    _parity(torch, rng, ref, layer, x, eager=eager)  # jitted for all; see _parity


@pytest.mark.parametrize("n", [1, 2, 3])
def test_output_size_and_unbatched_input(torch, rng, n):
    layer = getattr(models, f"ConvTranspose{n}d")(4, 2, 3, stride=2, rngs=nnx.Rngs(0))
    ref = getattr(torch.nn, f"ConvTranspose{n}d")(4, 2, 3, stride=2)
    _load_from(ref, layer)
    x = rng.standard_normal((*(3,) * n, 4)).astype(np.float32)
    tx = torch.from_numpy(np.moveaxis(x, -1, 0).copy())
    for i, size in enumerate(([7] * n, [8] * n, [8, *(7,) * (n - 1), 2])):
        theirs = ref(tx, output_size=size[:n]).detach().numpy()  # spatial or [*S, C]
        # eager once (one program per op and shape); the same code jitted after
        call = layer if i == 0 else jax.jit(lambda x, s=size: layer(x, output_size=s))
        ours = call(x, output_size=size) if i == 0 else call(x)
        _close(ours, np.moveaxis(theirs, 0, -1), atol=1e-6)
    with pytest.raises(ValueError) as theirs:
        ref(tx, output_size=[9] * n)
    with pytest.raises(ValueError) as ours:
        layer(x, output_size=[9] * n)
    assert str(ours.value).split(", but")[0] == str(theirs.value).split(", but")[0]
    with pytest.raises(ValueError, match="output_size must have"):
        layer(jnp.asarray(x)[None], output_size=[8] * (n + 1))


def test_transposed_errors_match_torch(torch):
    rngs = nnx.Rngs(0)
    with pytest.raises(RuntimeError) as theirs:
        torch.nn.ConvTranspose2d(2, 4, 3, stride=2, output_padding=2)(
            torch.ones(1, 2, 4, 4)
        )
    with pytest.raises(RuntimeError) as ours:
        models.ConvTranspose2d(2, 4, 3, stride=2, output_padding=2, rngs=rngs)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(RuntimeError, match="output padding must be smaller"):
        models.ConvTranspose3d(2, 4, 3, output_padding=1, rngs=rngs)
    with pytest.raises(TypeError, match="padding"):
        models.ConvTranspose1d(2, 4, 3, padding="same", rngs=rngs)
    with pytest.raises(RuntimeError, match=r"x.transpose\(0, 2, 3, 1\)"):
        models.ConvTranspose2d(3, 4, 3, rngs=rngs)(jnp.ones((2, 3, 7, 7)))
