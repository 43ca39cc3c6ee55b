"""summary() text, torch state_dict import/export and its errors, safetensors, modes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit import models
from jtoolkit.models import (
    CNN,
    MLP,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Embedding,
    Linear,
    LSTMClassifier,
    ReLU,
    Sequential,
    SimpleNN,
)

TUTORIAL_PRINT = """SimpleNN(
  (fc1): Linear(in_features=1024, out_features=224, bias=True)
  (fc2): Linear(in_features=224, out_features=10, bias=True)
)"""


def test_summary_is_the_tutorials_print():
    assert models.summary(SimpleNN(rngs=nnx.Rngs(0))) == TUTORIAL_PRINT


class ConvNet(nnx.Module):
    """A conv network using every layer's repr, with a torch twin below."""

    def __init__(self, rngs):
        self.conv = Conv2d(3, 8, 3, stride=2, padding=1, bias=False, rngs=rngs)
        self.same = Conv2d(8, 8, (3, 4), padding="same", rngs=rngs)
        self.bn = BatchNorm2d(8, momentum=None)
        self.body = Sequential(ReLU(), models.MaxPool2d(2), models.Flatten())
        self.drop = Dropout(0.25, rngs=rngs)
        self.heads = nnx.List([Linear(8, 2, rngs=rngs), Linear(8, 2, rngs=rngs)])
        self.emb = Embedding(5, 8, rngs=rngs)
        self.acts = nnx.List([models.GELU(), models.LeakyReLU(), models.Tanh()])
        self.plain = nnx.data({"out": Linear(2, 1, bias=False, rngs=rngs)})


def torch_convnet(torch):
    nn = torch.nn

    class ConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
            self.same = nn.Conv2d(8, 8, (3, 4), padding="same")
            self.bn = nn.BatchNorm2d(8, momentum=None)
            self.body = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
            self.drop = nn.Dropout(0.25)
            self.heads = nn.ModuleList([nn.Linear(8, 2), nn.Linear(8, 2)])
            self.emb = nn.Embedding(5, 8)
            self.acts = nn.ModuleList([nn.GELU(), nn.LeakyReLU(), nn.Tanh()])
            self.plain = nn.ModuleDict({"out": nn.Linear(2, 1, bias=False)})

    return ConvNet()


def test_summary_equals_str_of_torch_twins(torch):
    from test_models import torch_cnn, torch_lstm_classifier, torch_mlp

    rngs = nnx.Rngs(0)
    pairs = [
        (CNN(3, 5, rngs=rngs), torch_cnn(torch, 3, 5)),
        (
            MLP([6, 9, 7, 2], "tanh", 0.3, rngs=rngs),
            torch_mlp(torch, [6, 9, 7, 2], 0.3),
        ),
        (
            LSTMClassifier(3, 8, 4, num_layers=2, rngs=rngs),
            torch_lstm_classifier(torch),
        ),
        (ConvNet(rngs), torch_convnet(torch)),
    ]
    for model, twin in pairs:
        assert models.summary(model) == str(twin)


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
    from test_models import torch_cnn

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


def test_train_eval_switch_through_enclosing_module():
    model = ConvNet(nnx.Rngs(0))
    model.eval()
    assert model.bn.use_running_average and model.drop.deterministic
    model.train()
    assert not model.bn.use_running_average and not model.drop.deterministic


@pytest.mark.parametrize("graph_mode", [True, False])
def test_functional_core_returns_batchnorm_stats_in_both_graph_modes(graph_mode):
    with nnx.set_graph_mode(graph_mode):
        model = Sequential(Conv2d(2, 3, 3, rngs=nnx.Rngs(0)), BatchNorm2d(3))
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)

        @jax.jit
        def step(params, rest, x):  # a pure step, as the training engine's
            def loss(params, rest):
                # Fresh Variables at grad's trace level: merging the jit-level ones
                # captured from outside raises flax's TraceContextError on mutation.
                rest = jax.tree.map(lambda leaf: leaf, rest)
                module = nnx.merge(graphdef, params, rest)
                return jnp.mean(module(x) ** 2), nnx.state(module, nnx.BatchStat)

            grads, rest = jax.grad(loss, has_aux=True)(params, rest)
            params = jax.tree.map(lambda p, g: p - 0.1 * g, params, grads)
            return params, rest

        x = jax.random.normal(jax.random.key(0), (4, 6, 6, 2)) + 3.0
        for _ in range(2):
            params, rest = step(params, rest, x)
        new = nnx.merge(graphdef, params, rest)
        assert int(new[1].num_batches_tracked[...]) == 2
        assert float(jnp.abs(new[1].running_mean[...]).min()) > 0.0


def test_count_parameters_and_param_only_leaves(torch):
    from test_models import torch_cnn

    model = CNN(rngs=nnx.Rngs(0))
    assert models.count_parameters(model) == sum(
        p.numel() for p in torch_cnn(torch).parameters()
    )
    assert models.count_parameters(ConvNet(nnx.Rngs(0))) == sum(
        p.numel() for p in torch_convnet(torch).parameters()
    )
    kinds = {type(v) for _, v in nnx.to_flat_state(nnx.state(model))}
    assert kinds == {nnx.Param}
