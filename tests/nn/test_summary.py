"""Tests of ``jtoolkit/_src/nn/summary.py`` (``count_parameters``, ``summary``).

Moved from test_models_state_dict.py when the tests were laid out to mirror the code;
that file's notes:

summary() text, torch state_dict import/export and its errors, safetensors, modes.
"""

from flax import nnx

from jtoolkit import models
from jtoolkit.models import (
    CNN,
    MLP,
    LSTMClassifier,
    SimpleNN,
)
from tests.nn._harness import ConvNet, torch_convnet

TUTORIAL_PRINT = """SimpleNN(
  (fc1): Linear(in_features=1024, out_features=224, bias=True)
  (fc2): Linear(in_features=224, out_features=10, bias=True)
)"""


def test_summary_is_the_tutorials_print():
    assert models.summary(SimpleNN(rngs=nnx.Rngs(0))) == TUTORIAL_PRINT


def test_summary_equals_str_of_torch_twins(torch):
    from tests.nn._harness import torch_cnn, torch_lstm_classifier, torch_mlp

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


def test_count_parameters_and_param_only_leaves(torch):
    from tests.nn._harness import torch_cnn

    model = CNN(rngs=nnx.Rngs(0))
    assert models.count_parameters(model) == sum(
        p.numel() for p in torch_cnn(torch).parameters()
    )
    assert models.count_parameters(ConvNet(nnx.Rngs(0))) == sum(
        p.numel() for p in torch_convnet(torch).parameters()
    )
    kinds = {type(v) for _, v in nnx.to_flat_state(nnx.state(model))}
    assert kinds == {nnx.Param}
