"""Tests of ``jtoolkit/_src/nn/conv.py`` (``Conv1d``, ``Conv2d``).

Moved from test_layers_more.py, test_models.py when the tests were laid out to mirror
the code; those files' notes:

test_layers_more.py:
Second-wave layers against torch: values, input and parameter gradients, modes,
summary text, state_dict names, init moments and errors.

test_models.py:
Layer and network parity with torch: loaded weights, outputs, gradients, init.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit.models import (
    GELU,
    AvgPool2d,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    Flatten,
    GroupNorm,
    LayerNorm,
    MaxPool1d,
    ReLU,
    Unflatten,
)
from tests.nn._harness import _close, _load_from, _nchw, _nhwc, _parity

CONV1D = [
    ((3, 4, 3), {}),
    ((4, 6, 3), {"stride": 2, "padding": 2, "dilation": 2, "groups": 2}),
    ((3, 5, 4), {"padding": "same", "dilation": 3, "bias": False}),
    ((3, 2, 3), {"padding": 2, "padding_mode": "reflect"}),
    ((3, 2, 3), {"padding": 1, "padding_mode": "circular", "stride": 2}),
    ((3, 2, 5), {"padding": "same", "padding_mode": "replicate"}),
    ((2, 2, 1), {"padding": "valid"}),
]


@pytest.mark.parametrize(("args", "kwargs"), CONV1D, ids=str)
def test_conv1d_matches_torch(torch, rng, args, kwargs):
    x = rng.standard_normal((2, 11, args[0])).astype(np.float32)
    layer = Conv1d(*args, **kwargs, rngs=nnx.Rngs(0))
    _parity(torch, rng, torch.nn.Conv1d(*args, **kwargs), layer, x)


def _same_error(torch_call, our_call, exc):
    with pytest.raises(exc) as theirs:
        torch_call()
    with pytest.raises(exc) as ours:
        our_call()
    assert str(ours.value) == str(theirs.value)


def test_errors_match_torch(torch):
    nn, rngs = torch.nn, nnx.Rngs(0)
    _same_error(
        lambda: nn.Conv1d(3, 4, 3, groups=2),
        lambda: Conv1d(3, 4, 3, groups=2, rngs=rngs),
        ValueError,
    )
    _same_error(
        lambda: nn.Conv1d(4, 3, 3, groups=2),
        lambda: Conv1d(4, 3, 3, groups=2, rngs=rngs),
        ValueError,
    )
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv1d(4, 4, 3, padding_mode="foo")  # torch prints a set: any order
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        Conv1d(4, 4, 3, padding_mode="foo", rngs=rngs)
    _same_error(
        lambda: nn.Conv1d(4, 4, 3, stride=2, padding="same"),
        lambda: Conv1d(4, 4, 3, stride=2, padding="same", rngs=rngs),
        ValueError,
    )
    _same_error(
        lambda: nn.ConvTranspose2d(2, 4, 3, stride=2, output_padding=2)(
            torch.ones(1, 2, 4, 4)
        ),
        lambda: ConvTranspose2d(2, 4, 3, stride=2, output_padding=2, rngs=rngs),
        RuntimeError,
    )
    _same_error(
        lambda: nn.Conv1d(2, 2, 3, dilation=3)(torch.ones(1, 2, 5)),
        lambda: Conv1d(2, 2, 3, dilation=3, rngs=rngs)(jnp.ones((1, 5, 2))),
        RuntimeError,
    )
    _same_error(lambda: nn.GroupNorm(4, 6), lambda: GroupNorm(4, 6), ValueError)
    _same_error(
        lambda: nn.Flatten(2, 1)(torch.ones(2, 3, 4)),
        lambda: Flatten(2, 1)(jnp.ones((2, 3, 4))),
        RuntimeError,
    )
    _same_error(
        lambda: nn.Flatten()(torch.ones(3)),
        lambda: Flatten()(jnp.ones(3)),
        IndexError,
    )
    _same_error(
        lambda: nn.Unflatten(1, (2, 4))(torch.ones(4, 6)),
        lambda: Unflatten(1, (2, 4))(jnp.ones((4, 6))),
        RuntimeError,
    )
    _same_error(
        lambda: nn.MaxPool1d(2, padding=2)(torch.ones(1, 2, 8)),
        lambda: MaxPool1d(2, padding=2),
        RuntimeError,
    )
    _same_error(
        lambda: nn.AvgPool2d(2, padding=2)(torch.ones(1, 2, 8, 8)),
        lambda: AvgPool2d(2, padding=2),
        RuntimeError,
    )
    with pytest.raises(RuntimeError, match=r"x.transpose\(0, 2, 1\)"):
        Conv1d(3, 4, 3, rngs=rngs)(jnp.ones((2, 3, 7)))  # NCL given
    with pytest.raises(RuntimeError, match=r"x.transpose\(0, 2, 3, 1\)"):
        ConvTranspose2d(3, 4, 3, rngs=rngs)(jnp.ones((2, 3, 7, 7)))
    with pytest.raises(RuntimeError, match="NHWC"):
        GroupNorm(2, 4)(jnp.ones((2, 4, 3, 3)))  # NCHW given
    with pytest.raises(RuntimeError, match="normalized_shape"):
        LayerNorm(4)(jnp.ones((2, 3)))
    with pytest.raises(TypeError, match="inplace"):
        ReLU(inplace="yes")
    with pytest.raises(RuntimeError, match="approximate"):  # F.gelu's type
        GELU("fast")


CONV_CASES = [
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(0, 1)),
    dict(kernel_size=4, padding="same", bias=False),
    dict(kernel_size=1, stride=2, padding="valid"),
]


@pytest.mark.parametrize("impl", ["xla", "im2col", "hybrid"])
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_matches_torch_for_every_impl(torch, rng, case, impl):
    ref = torch.nn.Conv2d(3, 4, **case)
    layer = _load_from(ref, Conv2d(3, 4, **case, rngs=nnx.Rngs(0), impl=impl))
    x = rng.standard_normal((2, 9, 8, 3)).astype(np.float32)
    tx = _nchw(torch, x).requires_grad_()
    ty = ref(tx)
    (ty**2).sum().backward()

    def loss(m, x):
        return jnp.sum(m(x) ** 2)

    grads = jax.jit(jax.grad(loss, (0, 1)))(layer, x)
    _close(layer(x), _nhwc(ty), atol=1e-5)
    _close(grads[0].kernel[...], ref.weight.grad.numpy().transpose(2, 3, 1, 0), 1e-4)
    _close(grads[1], _nhwc(tx.grad), atol=1e-4)
    if ref.bias is not None:
        _close(grads[0].bias[...], ref.bias.grad.numpy(), rtol=1e-4)


def test_conv2d_impls_agree_and_reject_bad_input():
    from jtoolkit._src.nn.conv_lowering import pick_impl

    assert pick_impl("auto") == ("hybrid" if jax.default_backend() == "cpu" else "xla")
    x = jax.random.normal(jax.random.key(1), (2, 10, 10, 3))
    a = Conv2d(3, 5, 3, stride=2, padding=1, rngs=nnx.Rngs(3), impl="xla")
    b = Conv2d(3, 5, 3, stride=2, padding=1, rngs=nnx.Rngs(3), impl="im2col")
    _close(a(x), b(x), atol=1e-5)
    # forward mode needs impl="xla" (hybrid is a custom_vjp)
    tangent = jax.jvp(lambda x: a(x), (x,), (jnp.ones_like(x),))[1]
    assert tangent.shape == (2, 5, 5, 5)
    with pytest.raises(RuntimeError, match=r"NHWC.*\(2, 3, 10, 10\)"):
        a(x.transpose(0, 3, 1, 2))
    with pytest.raises(ValueError, match="strided"):
        Conv2d(3, 5, 3, stride=2, padding="same", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="impl"):
        Conv2d(3, 5, 3, rngs=nnx.Rngs(0), impl="fast")
