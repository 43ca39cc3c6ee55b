"""Tests of ``jtoolkit/_src/nn/conv.py`` (``Conv1d``, ``Conv2d``, ``Conv3d``; the
transposed layers are in test_conv_transpose.py, ``F.conv*`` in
test_functional_conv.py).

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

from jtoolkit import models
from jtoolkit.models import (
    GELU,
    AvgPool2d,
    Conv1d,
    Conv2d,
    Conv3d,
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


# Conv2d/Conv3d: groups, depthwise, dilation, every padding_mode, 'same' with an
# even kernel, size-1 spatial dims; values, input and parameter gradients, summary.
CONV_ND = [
    (2, (4, 6, 3), {"groups": 2, "dilation": 2, "padding": 2}),
    (2, (4, 8, 3), {"groups": 4, "padding": 1, "padding_mode": "reflect"}),
    (2, (4, 4, 3), {"groups": 4, "stride": 2, "dilation": (2, 1), "padding": 1}),
    (2, (3, 4, (3, 2)), {"padding": (1, 2), "padding_mode": "circular"}),
    (
        2,
        (3, 4, 4),
        {"padding": "same", "dilation": (2, 1), "padding_mode": "replicate"},
    ),
    (2, (3, 4, 1), {"stride": 2, "bias": False}),
    (3, (2, 4, 3), {"padding": 1, "stride": (1, 2, 2), "groups": 2}),
    (3, (2, 2, (2, 1, 3)), {"padding": "same", "padding_mode": "reflect"}),
    (3, (3, 3, 2), {"dilation": 2, "groups": 3, "padding": 1}),
]


@pytest.mark.parametrize(("args", "kwargs"), CONV1D, ids=str)
def test_conv1d_matches_torch(torch, rng, args, kwargs):
    x = rng.standard_normal((2, 11, args[0])).astype(np.float32)
    layer = Conv1d(*args, **kwargs, rngs=nnx.Rngs(0))
    eager = (args, kwargs) == CONV1D[0]  # jitted for every case; see _parity
    _parity(torch, rng, torch.nn.Conv1d(*args, **kwargs), layer, x, eager=eager)


@pytest.mark.parametrize(("n", "args", "kwargs"), CONV_ND, ids=str)
def test_conv2d_conv3d_match_torch(torch, rng, n, args, kwargs):
    spatial = (6, 5) if n == 2 else (5, 1, 6)
    x = rng.standard_normal((2, *spatial, args[0])).astype(np.float32)
    layer = getattr(models, f"Conv{n}d")(*args, **kwargs, rngs=nnx.Rngs(0))
    ref = getattr(torch.nn, f"Conv{n}d")(*args, **kwargs)
    eager = (n, args, kwargs) in (CONV_ND[0], CONV_ND[6])  # one Conv2d, one Conv3d
    _parity(torch, rng, ref, layer, x, eager=eager)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_unbatched_and_empty_batch_inputs(torch, rng, n):
    kwargs = {"padding": 1, "groups": 2, "padding_mode": "circular"}
    layer = getattr(models, f"Conv{n}d")(2, 4, 3, **kwargs, rngs=nnx.Rngs(0))
    ref = getattr(torch.nn, f"Conv{n}d")(2, 4, 3, **kwargs)
    _load_from(ref, layer)
    x = rng.standard_normal((*(4,) * n, 2)).astype(np.float32)
    theirs = ref(torch.from_numpy(np.moveaxis(x, -1, 0).copy()))
    # eager for Conv1d; Conv2d/Conv3d run the same code, jitted (one program)
    call = (lambda m, x: m(x)) if n == 1 else jax.jit(lambda m, x: m(x))
    _close(call(layer, x), np.moveaxis(theirs.detach().numpy(), 0, -1), atol=1e-6)
    empty = jnp.zeros((0, *(4,) * n, 2))
    assert call(layer, empty).shape == tuple(
        ref(torch.zeros(0, 2, *(4,) * n)).shape[i] for i in (0, *range(2, n + 2), 1)
    )
    grad = jax.jit(jax.grad(lambda m: m(empty).sum()))(layer)
    assert not np.any(grad.kernel[...])


@pytest.mark.parametrize(
    "name",
    ["Conv1d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"],
)
def test_state_dict_round_trip_through_torch(torch, rng, name):
    """torch_state_dict -> torch's load_state_dict: torch then computes our output."""
    n = int(name[-2])
    layer = getattr(models, name)(4, 6, 3, stride=2, groups=2, rngs=nnx.Rngs(1))
    ref = getattr(torch.nn, name)(4, 6, 3, stride=2, groups=2)
    ref.load_state_dict(
        {k: torch.from_numpy(v) for k, v in models.torch_state_dict(layer).items()}
    )
    x = rng.standard_normal((2, *(5,) * n, 4)).astype(np.float32)
    theirs = ref(torch.from_numpy(np.moveaxis(x, -1, 1).copy())).detach().numpy()
    ours = jax.jit(lambda m, x: m(x))(layer, x)  # one program, not one per op
    _close(ours, np.moveaxis(theirs, 1, -1), atol=1e-6)


def test_dtype_and_device_are_the_parameters(torch):
    cpu = jax.devices("cpu")[0]
    for cls in (Conv3d, models.ConvTranspose1d):
        layer = cls(2, 4, 3, device="cpu", dtype=jnp.bfloat16, rngs=nnx.Rngs(0))
        for p in (layer.kernel[...], layer.bias[...]):
            assert p.dtype == jnp.bfloat16 and p.devices() == {cpu}
    same = Conv2d(2, 4, 3, dtype=torch.float32, device=cpu, rngs=nnx.Rngs(0))
    _close(same.kernel[...], Conv2d(2, 4, 3, rngs=nnx.Rngs(0)).kernel[...], 0, 0)
    if not jax.config.read("jax_enable_x64"):
        with pytest.raises(ValueError, match="jax_enable_x64"):
            Conv2d(2, 4, 3, dtype=torch.float64, rngs=nnx.Rngs(0))


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
    for make in (  # torch prints a set: any order
        lambda: nn.Conv3d(4, 4, 3, padding="full"),
        lambda: Conv3d(4, 4, 3, padding="full", rngs=rngs),
    ):
        with pytest.raises(ValueError, match="Invalid padding string 'full', should"):
            make()
    _same_error(
        lambda: nn.Conv2d(4, 4, 3, groups=0),
        lambda: Conv2d(4, 4, 3, groups=0, rngs=rngs),
        ValueError,
    )
    _same_error(
        lambda: nn.Conv2d(4, 6, 3, groups=4),
        lambda: Conv2d(4, 6, 3, groups=4, rngs=rngs),
        ValueError,
    )
    _same_error(
        lambda: nn.ConvTranspose3d(4, 4, 3, padding_mode="reflect"),
        lambda: models.ConvTranspose3d(4, 4, 3, padding_mode="reflect", rngs=rngs),
        ValueError,
    )
    _same_error(
        lambda: nn.Conv2d(4, 4, 3, padding=-1)(torch.ones(1, 4, 5, 5)),
        lambda: Conv2d(4, 4, 3, padding=-1, rngs=rngs),
        RuntimeError,
    )
    _same_error(
        lambda: nn.Conv2d(4, 4, 3, padding=1, padding_mode="circular")(
            torch.ones(1, 4, 5, 5)[:, :, :0]
        ),
        lambda: Conv2d(4, 4, 3, padding=1, padding_mode="circular", rngs=rngs)(
            jnp.ones((1, 0, 5, 4))
        ),
        RuntimeError,
    )
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect")(torch.ones(1, 4, 1, 5))
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        Conv2d(4, 4, 3, padding=1, padding_mode="reflect", rngs=rngs)(
            jnp.ones((1, 1, 5, 4))
        )
    with pytest.raises(ValueError, match="impl must be one of"):
        Conv2d(4, 4, 3, groups=2, impl="fast", rngs=rngs)
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
        y = m(x)
        return jnp.sum(y**2), y

    grads, jitted = jax.jit(jax.grad(loss, (0, 1), has_aux=True))(layer, x)
    _close(jitted, _nhwc(ty), atol=1e-5)
    if case == CONV_CASES[0]:  # eager once per impl (one program per op and shape)
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
    # one program (eager conv per impl is in test_conv2d_matches_torch_for_every_impl)
    both = jax.jit(lambda a, b, x: (a(x), b(x), jax.jvp(a, (x,), (x,))[1]))
    ya, yb, tangent = both(a, b, x)
    _close(ya, yb, atol=1e-5)
    # forward mode needs impl="xla" (hybrid is a custom_vjp); a is linear in x
    assert tangent.shape == (2, 5, 5, 5)
    _close(tangent, ya - a.bias[...], atol=1e-5)
    with pytest.raises(RuntimeError, match=r"NHWC.*\(2, 3, 10, 10\)"):
        a(x.transpose(0, 3, 1, 2))
    with pytest.raises(ValueError, match="strided"):
        Conv2d(3, 5, 3, stride=2, padding="same", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="impl"):
        Conv2d(3, 5, 3, rngs=nnx.Rngs(0), impl="fast")
