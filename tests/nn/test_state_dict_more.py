"""load_torch_state_dict: strict=False, half-precision tensors, key-naming errors,
whole-checkpoint and DataParallel hints."""

import numpy as np
import pytest
from flax import nnx

from jtoolkit import models
from jtoolkit.models import (
    Conv1d,
    ConvTranspose2d,
    LayerNorm,
    Linear,
    Sequential,
)


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
    import jax.numpy as jnp

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
