"""Second-wave layers against torch: values, input and parameter gradients, modes,
summary text, state_dict names, init moments and errors."""

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
    ConvTranspose2d,
    Dropout,
    Dropout2d,
    Flatten,
    GroupNorm,
    Identity,
    LayerNorm,
    LeakyReLU,
    LogSoftmax,
    MaxPool1d,
    ModuleDict,
    ModuleList,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
    Unflatten,
)


def _to_torch_layout(x):
    """jtoolkit's channels-last array in torch's channels-first layout."""
    x = np.asarray(x)
    if x.ndim == 4:
        return x.transpose(0, 3, 1, 2)
    if x.ndim == 3:
        return x.transpose(0, 2, 1)
    return x


def _from_torch_layout(x):
    x = np.asarray(x)
    if x.ndim == 4:
        return x.transpose(0, 2, 3, 1)
    if x.ndim == 3:
        return x.transpose(0, 2, 1)
    return x


def _randomize(torch, ref):
    """Non-trivial parameters (LayerNorm/GroupNorm start at ones and zeros)."""
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.3 * torch.randn_like(p))


def _parity(torch, rng, ref, layer, x, channels_last=True, atol=1e-6, rtol=1e-5):
    """Load ref's weights into layer; compare output, dL/dx and dL/dparams."""
    _randomize(torch, ref)
    sd = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    models.load_torch_state_dict(layer, sd)
    to_t = _to_torch_layout if channels_last else np.asarray
    from_t = _from_torch_layout if channels_last else np.asarray
    tx = torch.tensor(to_t(x), dtype=torch.float32, requires_grad=True)
    ty = ref(tx.clone())  # inplace=True layers may not write into a leaf
    weights = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    (ty * torch.from_numpy(weights)).sum().backward()
    expected = from_t(ty.detach().numpy())
    np.testing.assert_allclose(layer(jnp.asarray(x)), expected, rtol, atol)  # eager
    graphdef, params, rest = nnx.split(layer, nnx.Param, ...)
    cotangent = jnp.asarray(from_t(weights))

    def loss(params, x):
        return jnp.sum(nnx.merge(graphdef, params, rest)(x) * cotangent)

    gp, gx = jax.jit(jax.grad(loss, argnums=(0, 1)))(params, jnp.asarray(x))
    np.testing.assert_allclose(gx, from_t(tx.grad.numpy()), rtol, atol)
    grads = models.torch_state_dict(nnx.merge(graphdef, gp, rest))
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol, atol, name)
    assert models.summary(layer) == str(ref)


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


CONV_T = [
    ((3, 4, 3), {}),
    ((4, 6, 3), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}),
    ((2, 3, (2, 3)), {"stride": (2, 1), "padding": (0, 1), "dilation": (1, 2)}),
    ((2, 3, 3), {"dilation": 2, "output_padding": 1, "bias": False}),
    ((2, 2, 3), {"stride": 3, "padding": 2}),
]


@pytest.mark.parametrize(("args", "kwargs"), CONV_T, ids=str)
def test_conv_transpose2d_matches_torch(torch, rng, args, kwargs):
    x = rng.standard_normal((2, 5, 4, args[0])).astype(np.float32)
    layer = ConvTranspose2d(*args, **kwargs, rngs=nnx.Rngs(0))
    _parity(torch, rng, torch.nn.ConvTranspose2d(*args, **kwargs), layer, x)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((2,), {}), ((3, 2, 1), {}), ((3, 1), {})],
    ids=str,
)
def test_maxpool1d_matches_torch_with_ties(torch, rng, args, kwargs):
    x = rng.integers(0, 3, (2, 9, 3)).astype(np.float32)  # ties: first max wins
    _parity(torch, rng, torch.nn.MaxPool1d(*args, **kwargs), MaxPool1d(*args), x)


AVG = [
    ((2,), {}),
    ((3, 2, 1), {}),
    ((3, 2, 1), {"count_include_pad": False}),
    (((2, 3), (1, 2), (1, 1)), {"count_include_pad": False}),
    ((3, 1, 1), {"divisor_override": 4}),
]


@pytest.mark.parametrize(("args", "kwargs"), AVG, ids=str)
def test_avgpool2d_matches_torch(torch, rng, args, kwargs):
    x = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    ref = torch.nn.AvgPool2d(*args, **kwargs)
    _parity(torch, rng, ref, AvgPool2d(*args, **kwargs), x)


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        (8, {}),
        ((3, 8), {"eps": 1e-3}),
        (8, {"bias": False}),
        (8, {"elementwise_affine": False}),
    ],
    ids=str,
)
def test_layernorm_matches_torch(torch, rng, shape, kwargs):
    x = (rng.standard_normal((2, 3, 8)) * 3 + 5).astype(np.float32)
    ref = torch.nn.LayerNorm(shape, **kwargs)
    _parity(torch, rng, ref, LayerNorm(shape, **kwargs), x, channels_last=False)


@pytest.mark.parametrize(
    ("x_shape", "groups", "kwargs"),
    [
        ((2, 3, 4, 6), 3, {}),
        ((3, 6), 2, {}),  # 2 channels per group would have an exactly-zero dL/dx
        ((2, 5, 6), 3, {"affine": False}),
        ((2, 3, 4, 6), 1, {"eps": 0.1, "bias": False}),
    ],
    ids=str,
)
def test_groupnorm_channels_last_matches_torch(torch, rng, x_shape, groups, kwargs):
    x = (rng.standard_normal(x_shape) * 2 + 1).astype(np.float32)
    ref = torch.nn.GroupNorm(groups, 6, **kwargs)
    _parity(torch, rng, ref, GroupNorm(groups, 6, **kwargs), x)


ACTIVATIONS = [
    ("ReLU", {"inplace": True}, ReLU),
    ("ReLU", {}, ReLU),
    ("Tanh", {}, Tanh),
    ("Sigmoid", {}, Sigmoid),
    ("SiLU", {"inplace": True}, SiLU),
    ("GELU", {"approximate": "tanh"}, GELU),
    ("LeakyReLU", {"negative_slope": 0.2, "inplace": True}, LeakyReLU),
    ("Softmax", {"dim": -1}, Softmax),
    ("Softmax", {"dim": 0}, Softmax),
    ("LogSoftmax", {"dim": 1}, LogSoftmax),
    ("Identity", {}, Identity),
]


@pytest.mark.parametrize(("name", "kwargs", "ours"), ACTIVATIONS, ids=str)
def test_activation_modules_match_torch(torch, rng, name, kwargs, ours):
    x = (rng.standard_normal((3, 4, 5)) * 3).astype(np.float32)
    ref = getattr(torch.nn, name)(**kwargs)
    _parity(torch, rng, ref, ours(**kwargs), x, channels_last=False)


@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)], ids=str)
def test_softmax_implicit_dim_is_torchs_with_its_warning(torch, rng, cls, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        expected = getattr(torch.nn, cls)()(torch.from_numpy(x)).numpy()
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        y = getattr(models, cls)()(x)
    np.testing.assert_allclose(y, expected, 1e-5, 1e-6)


@pytest.mark.parametrize(
    ("ours", "theirs", "shape"),
    [
        (Flatten(), lambda nn: nn.Flatten(), (2, 3, 4, 5)),
        (Flatten(0, 1), lambda nn: nn.Flatten(0, 1), (2, 3, 4)),
        (Flatten(1, 2), lambda nn: nn.Flatten(1, 2), (2, 3, 4, 5)),
        (Flatten(-3, -2), lambda nn: nn.Flatten(-3, -2), (2, 3, 4, 5)),
        (Unflatten(1, (2, 3)), lambda nn: nn.Unflatten(1, (2, 3)), (4, 6, 5)),
        (Unflatten(-1, [-1, 2]), lambda nn: nn.Unflatten(-1, [-1, 2]), (4, 6)),
    ],
    ids=[
        "flatten",
        "flatten-0-1",
        "flatten-1-2",
        "flatten-neg",
        "unflatten",
        "unflatten-neg",
    ],
)
def test_flatten_unflatten_match_torch(torch, rng, ours, theirs, shape):
    ref = theirs(torch.nn)
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(ours(x), ref(torch.from_numpy(x)).numpy())
    assert models.summary(ours) == str(ref)


def test_dropout2d_drops_whole_channels_and_scales(torch):
    p, x = 0.3, jnp.ones((64, 3, 2, 16))
    layer = Dropout2d(p, rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(layer)
    # merged inside the traced function: its Variables belong to vjp's trace

    def call(x):  # Variables copied inside the trace may be mutated (RNG count)
        return nnx.merge(graphdef, jax.tree.map(lambda leaf: leaf, state))(x)

    y, pullback = jax.vjp(call, x)
    per_channel = np.asarray(y).reshape(64, 6, 16)
    assert (per_channel.min(axis=1) == per_channel.max(axis=1)).all()  # whole maps
    np.testing.assert_array_equal(np.unique(per_channel), [0, np.float32(1 / (1 - p))])
    dropped = float((per_channel[:, 0] == 0).mean())
    assert abs(dropped - p) < 4 * np.sqrt(p * (1 - p) / per_channel[:, 0].size)
    (grad,) = pullback(jnp.ones_like(x))
    np.testing.assert_allclose(grad, y)  # d(mask * x / (1 - p))/dx
    unbatched = np.asarray(layer(jnp.ones((2, 2, 5))))
    assert (unbatched.min(axis=(0, 1)) == unbatched.max(axis=(0, 1))).all()
    layer.eval()
    np.testing.assert_array_equal(layer(x), x)
    assert models.summary(Dropout2d(inplace=True)) == str(
        torch.nn.Dropout2d(inplace=True)
    )
    assert models.summary(Dropout(0.1, True)) == str(torch.nn.Dropout(0.1, True))
    with pytest.raises(RuntimeError, match="NHWC"):
        layer.train()
        layer(jnp.ones((2, 3)))


def test_dropout2d_fresh_masks_through_the_functional_core():
    model = Sequential(Dropout2d(0.5, rngs=nnx.Rngs(1)))
    graphdef, state = nnx.split(model)

    @jax.jit
    def step(state, x):
        module = nnx.merge(graphdef, state)
        return module(x), nnx.state(module)

    x = jnp.ones((4, 2, 2, 8))
    first, state = step(state, x)
    second, _ = step(state, x)
    assert not np.array_equal(first, second)


# ------------------------------------------------ a model of every new layer


class Zoo(nnx.Module):
    def __init__(self, rngs):
        self.conv1 = Conv1d(3, 4, 3, padding=1, groups=1, rngs=rngs)
        self.up = ConvTranspose2d(4, 2, 3, 2, 1, 1, groups=2, rngs=rngs)
        self.norms = ModuleList(
            [LayerNorm(4), LayerNorm(4), GroupNorm(2, 4, affine=False)]
        )
        self.heads = ModuleDict({"a": Identity(), "b": Unflatten(1, (2, 2))})
        self.body = Sequential(
            ReLU(inplace=True), MaxPool1d(2), AvgPool2d(3, 1, 1), Dropout2d(0.1)
        )
        self.acts = ModuleList([Softmax(dim=1), LogSoftmax(), SiLU(), GELU()])
        self.flat = Flatten(2)


def torch_zoo(torch):
    nn = torch.nn

    class Zoo(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv1d(3, 4, 3, padding=1, groups=1)
            self.up = nn.ConvTranspose2d(4, 2, 3, 2, 1, 1, groups=2)
            self.norms = nn.ModuleList(
                [nn.LayerNorm(4), nn.LayerNorm(4), nn.GroupNorm(2, 4, affine=False)]
            )
            self.heads = nn.ModuleDict(
                {"a": nn.Identity(), "b": nn.Unflatten(1, (2, 2))}
            )
            self.body = nn.Sequential(
                nn.ReLU(inplace=True),
                nn.MaxPool1d(2),
                nn.AvgPool2d(3, 1, 1),
                nn.Dropout2d(0.1),
            )
            self.acts = nn.ModuleList(
                [nn.Softmax(dim=1), nn.LogSoftmax(), nn.SiLU(), nn.GELU()]
            )
            self.flat = nn.Flatten(2)

    return Zoo()


def test_summary_and_state_dict_of_every_new_layer_match_torch(torch):
    model, twin = Zoo(nnx.Rngs(0)), torch_zoo(torch)
    assert models.summary(model) == str(twin)
    ours, theirs = models.torch_state_dict(model), twin.state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == tuple(v.shape) for k, v in theirs.items())
    models.load_torch_state_dict(model, theirs)  # torch -> jtoolkit
    fresh = torch_zoo(torch)
    fresh.load_state_dict(
        {k: torch.from_numpy(v) for k, v in models.torch_state_dict(model).items()}
    )  # jtoolkit -> torch
    for key, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), theirs[key].numpy(), key)
    assert models.count_parameters(model) == sum(p.numel() for p in twin.parameters())
    assert list(model.heads) == ["a", "b"] and len(model.norms) == 3


def _moments(weights, bound):
    """U(-bound, bound): support, std and mean, each within ~4 sigma of sampling."""
    w = np.asarray(weights, np.float64).ravel()
    n = w.size
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > (1 - 10 / n) * bound  # P(fail) = e^-10
    # sample std of a uniform: relative sd sqrt((9/5 - 1) / (4 n)) = sqrt(0.2 / n)
    np.testing.assert_allclose(w.std(), bound / np.sqrt(3), rtol=4 * np.sqrt(0.2 / n))
    assert abs(w.mean()) < 4 * bound / np.sqrt(3 * n)


def test_default_inits_are_torchs(torch):
    rngs = nnx.Rngs(0)
    conv = Conv1d(8, 64, 5, groups=2, rngs=rngs)
    ref = torch.nn.Conv1d(8, 64, 5, groups=2)
    for w in (conv.kernel[...], ref.weight.detach(), conv.bias[...]):
        _moments(w, 1 / np.sqrt(4 * 5))
    _moments(ref.bias.detach(), 1 / np.sqrt(4 * 5))
    up = ConvTranspose2d(64, 8, 3, groups=2, rngs=rngs)
    ref = torch.nn.ConvTranspose2d(64, 8, 3, groups=2)
    for w in (up.kernel[...], ref.weight.detach()):
        _moments(w, 1 / np.sqrt(4 * 9))  # fan_in from weight.size(1) = out/groups
    for ours, theirs in (
        (LayerNorm(5), torch.nn.LayerNorm(5)),
        (GroupNorm(1, 5), torch.nn.GroupNorm(1, 5)),
    ):
        for key, value in theirs.state_dict().items():
            np.testing.assert_array_equal(
                models.torch_state_dict(ours)[key], value.numpy()
            )


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
