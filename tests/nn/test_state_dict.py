"""Tests of ``jtoolkit/_src/nn/state_dict.py`` (``IncompatibleKeys``,
``load_safetensors``, ``load_torch_state_dict``, ``save_safetensors``,
``torch_state_dict``).

Moved from test_layers_more.py, test_models_state_dict.py, test_state_dict_more.py when
the tests were laid out to mirror the code; those files' notes:

test_layers_more.py:
Second-wave layers against torch: values, input and parameter gradients, modes,
summary text, state_dict names, init moments and errors.

test_models_state_dict.py:
summary() text, torch state_dict import/export and its errors, safetensors, modes.

test_state_dict_more.py:
load_torch_state_dict: strict=False, half-precision tensors, key-naming errors,
whole-checkpoint and DataParallel hints.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit import models
from jtoolkit.models import (
    CNN,
    GELU,
    AvgPool2d,
    Conv1d,
    ConvTranspose2d,
    Dropout2d,
    Flatten,
    GroupNorm,
    Identity,
    LayerNorm,
    Linear,
    LogSoftmax,
    MaxPool1d,
    ModuleDict,
    ModuleList,
    ReLU,
    Sequential,
    SiLU,
    Softmax,
    Unflatten,
)
from tests.nn._harness import ConvNet, torch_convnet

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


def test_state_dict_names_order_and_layouts_match_torch(torch):
    twin = torch_convnet(torch)
    model = ConvNet(nnx.Rngs(0))
    ours = models.torch_state_dict(model)
    theirs = twin.state_dict()
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        assert ours[key].shape == tuple(value.shape), key
        assert ours[key].dtype == value.numpy().dtype, key
    kernel = np.asarray(model.conv.kernel[...])
    np.testing.assert_array_equal(ours["conv.weight"], kernel.transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(ours["heads.1.weight"], model.heads[1].kernel[...].T)


def test_load_accepts_torch_tensors_and_round_trips(torch):
    twin = torch_convnet(torch)
    model = models.load_torch_state_dict(ConvNet(nnx.Rngs(1)), twin.state_dict())
    for key, value in models.torch_state_dict(model).items():
        np.testing.assert_array_equal(
            value, twin.state_dict()[key].numpy(), err_msg=key
        )


def test_mismatched_state_dict_gives_torchs_error(torch):
    twin = torch_convnet(torch)
    bad = {k: v.clone() for k, v in twin.state_dict().items()}
    del bad["same.bias"], bad["bn.running_var"]
    bad["extra.weight"] = torch.zeros(3)
    bad["heads.0.weight"] = torch.zeros(2, 7)
    bad["conv.weight"] = torch.zeros(8, 3, 5, 3)
    with pytest.raises(RuntimeError) as torch_error:
        twin.load_state_dict(bad)
    model = ConvNet(nnx.Rngs(0))
    before = models.torch_state_dict(model)
    with pytest.raises(RuntimeError) as ours:
        models.load_torch_state_dict(model, {k: v.numpy() for k, v in bad.items()})
    assert str(ours.value) == str(torch_error.value)
    assert 'Missing key(s) in state_dict: "same.bias", "bn.running_var". ' in str(
        ours.value
    )
    after = models.torch_state_dict(model)  # nothing was written
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_safetensors_and_pt_files_round_trip(torch, tmp_path):
    from safetensors.torch import load_file

    model = CNN(rngs=nnx.Rngs(0))
    path = tmp_path / "cnn.safetensors"
    models.save_safetensors(model, path)
    from tests.nn._harness import torch_cnn

    twin = torch_cnn(torch)
    twin.load_state_dict(load_file(path))  # torch reads our file as its own
    other = models.load_safetensors(CNN(rngs=nnx.Rngs(1)), path)
    x = jax.random.normal(jax.random.key(0), (2, 8, 8, 1))
    np.testing.assert_array_equal(other(x), model(x))
    expected = twin(torch.tensor(np.asarray(x).transpose(0, 3, 1, 2))).detach().numpy()
    np.testing.assert_allclose(other(x), expected, rtol=1e-5, atol=1e-6)
    pt = tmp_path / "cnn.pt"
    torch.save(twin.state_dict(), pt)
    third = models.load_torch_state_dict(CNN(rngs=nnx.Rngs(2)), str(pt))
    np.testing.assert_array_equal(third(x), model(x))
    via_path = models.load_torch_state_dict(CNN(rngs=nnx.Rngs(3)), path)
    np.testing.assert_array_equal(via_path(x), model(x))
    with pytest.raises(TypeError, match="mapping"):
        models.load_torch_state_dict(model, 3)


class Net(nnx.Module):
    def __init__(self, rngs):
        self.conv = Conv1d(3, 4, 3, rngs=rngs)
        self.up = ConvTranspose2d(4, 2, 3, rngs=rngs)
        self.norm = LayerNorm(4)
        self.head = Sequential(Linear(4, 2, rngs=rngs))


def torch_net(torch):
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(3, 4, 3)
            self.up = nn.ConvTranspose2d(4, 2, 3)
            self.norm = nn.LayerNorm(4)
            self.head = nn.Sequential(nn.Linear(4, 2))

    return Net()


def _partial(torch):
    sd = dict(torch_net(torch).state_dict())
    del sd["norm.bias"], sd["up.bias"]
    sd["extra.weight"] = torch.ones(2)
    return sd


def test_strict_false_returns_torchs_incompatible_keys_and_loads_the_rest(torch):
    sd = _partial(torch)
    theirs = torch_net(torch).load_state_dict(sd, strict=False)
    model = Net(nnx.Rngs(0))
    before = models.torch_state_dict(model)
    ours = models.load_torch_state_dict(model, sd, strict=False)
    assert isinstance(ours, models.IncompatibleKeys)
    assert tuple(ours) == (theirs.missing_keys, theirs.unexpected_keys)
    assert ours.missing_keys == ["up.bias", "norm.bias"]
    assert repr(ours) == repr(theirs)
    after = models.torch_state_dict(model)
    for key, value in after.items():
        expected = before[key] if key not in sd else sd[key].numpy()
        np.testing.assert_array_equal(value, expected, key)
    full = torch_net(torch).state_dict()
    matched = models.load_torch_state_dict(model, full, strict=False)
    assert repr(matched) == "<All keys matched successfully>"
    assert repr(matched) == repr(torch_net(torch).load_state_dict(full, strict=False))
    with pytest.raises(RuntimeError) as strict:
        models.load_torch_state_dict(model, sd)
    with pytest.raises(RuntimeError) as torch_strict:
        torch_net(torch).load_state_dict(sd)
    assert str(strict.value) == str(torch_strict.value)


def test_strict_false_still_raises_torchs_size_mismatch(torch):
    sd = _partial(torch)
    sd["conv.weight"] = torch.zeros(4, 3, 5)
    with pytest.raises(RuntimeError) as theirs:
        torch_net(torch).load_state_dict(sd, strict=False)
    with pytest.raises(RuntimeError) as ours:
        models.load_torch_state_dict(Net(nnx.Rngs(0)), sd, strict=False)
    assert str(ours.value) == str(theirs.value)
    assert "size mismatch for conv.weight" in str(ours.value)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_torch_tensors_load_keeping_the_models_dtype(torch, dtype):
    twin = torch_net(torch).to(getattr(torch, dtype))
    model = models.load_torch_state_dict(Net(nnx.Rngs(0)), twin.state_dict())
    ours = models.torch_state_dict(model)
    for key, value in twin.state_dict().items():
        assert ours[key].dtype == np.float32, key
        np.testing.assert_array_equal(ours[key], value.float().numpy(), key)


def test_every_error_names_its_key(torch):
    sd = dict(torch_net(torch).state_dict())
    sd["norm.weight"] = "not an array"
    sd["up.weight"] = torch.zeros(4, 2)  # wrong rank: used to fail in a transpose
    with pytest.raises(RuntimeError) as err:
        models.load_torch_state_dict(Net(nnx.Rngs(0)), sd)
    text = str(err.value)
    assert 'While copying the parameter named "norm.weight"' in text
    assert (
        "size mismatch for up.weight: copying a param with shape "
        "torch.Size([4, 2]) from checkpoint, the shape in current model is "
        "torch.Size([4, 2, 3, 3])." in text
    )


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: {"epoch": 3, "model_state_dict": sd, "optimizer_state_dict": {}},
        lambda sd: {"state_dict": sd},
        lambda sd: {"model": sd, "ema": {"x": 1}},
    ],
)
def test_whole_checkpoint_says_which_key_to_pass(torch, wrap):
    ckpt = wrap(torch_net(torch).state_dict())
    best = next(k for k, v in ckpt.items() if isinstance(v, dict) and "conv.bias" in v)
    for strict in (True, False):  # never a silent no-op, even with strict=False
        with pytest.raises(RuntimeError, match="whole checkpoint") as err:
            models.load_torch_state_dict(Net(nnx.Rngs(0)), ckpt, strict=strict)
        assert f'pass state_dict["{best}"] instead' in str(err.value)
    model = models.load_torch_state_dict(Net(nnx.Rngs(0)), ckpt[best])  # the fix
    assert isinstance(model, Net)


def test_dataparallel_prefix_hint(torch):
    sd = {f"module.{k}": v for k, v in torch_net(torch).state_dict().items()}
    with pytest.raises(RuntimeError, match=r'"module\." prefix'):
        models.load_torch_state_dict(Net(nnx.Rngs(0)), sd)


def test_a_bf16_model_stays_bf16(torch):

    layer = Linear(3, 2, rngs=nnx.Rngs(0))
    for variable in (layer.kernel, layer.bias):
        variable.set_value(variable[...].astype(jnp.bfloat16))
    twin = torch.nn.Linear(3, 2).to(torch.bfloat16)
    models.load_torch_state_dict(layer, twin.state_dict())
    assert layer.kernel[...].dtype == jnp.bfloat16
    np.testing.assert_array_equal(
        np.asarray(layer.kernel[...], np.float32),
        twin.weight.detach().float().numpy().T,
    )


def test_load_safetensors_passes_strict(torch, tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "partial.safetensors"
    save_file(_partial(torch), path)
    keys = models.load_safetensors(Net(nnx.Rngs(0)), path, strict=False)
    assert keys == (["up.bias", "norm.bias"], ["extra.weight"])


def test_loading_compiles_nothing_and_keeps_placement():
    """Loading converts on the host and transfers each array to where the old one
    lived: no program per parameter shape (it was three: stage, squeeze, scatter)."""
    from jax import monitoring

    model = CNN(1, 10, rngs=nnx.Rngs(0))
    new = {k: v + 1 for k, v in models.torch_state_dict(model).items()}
    before = {k: v[...].sharding for k, v in nnx.state(model).flat_state()}
    compiled = []

    def listen(event, duration, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            compiled.append(event)

    monitoring.register_event_duration_secs_listener(listen)
    try:
        models.load_torch_state_dict(model, new)
    finally:
        monitoring.unregister_event_duration_listener(listen)
    assert compiled == []
    after = models.torch_state_dict(model)
    for k, v in new.items():
        np.testing.assert_array_equal(after[k], v, err_msg=k)
    for k, v in nnx.state(model).flat_state():
        assert v[...].sharding == before[k], k
