"""from_torch on the six models of issue #24: converted, forward/gradients/one SGD
step within derived tolerances (compare), torch's state-dict names kept; an
unsupported op gives one error listing every bad node with its source line.

Each model is built and converted once per module (``_converted``): the later
tests reuse the conversion the first one checked instead of converting (and
compiling the converted forward) again."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from flax import nnx

from jtoolkit import interop, models

from ._harness import six_models

NAMES = ["simple_nn", "mnist_net", "resnet", "lstm_lm", "encoder", "arithmetic"]


@functools.cache
def _converted(name):
    """(torch module, input, train?, converted model, from_torch's report)."""
    import torch

    module, x, train = six_models(torch)[name]
    return (module, x, train, *interop.from_torch(module, x))


@pytest.mark.parametrize("name", NAMES)
def test_converts_and_compares_equal(torch, name):
    module, x, train, model, report = _converted(name)
    assert report.max_abs_diff < 1e-4, str(report)
    result = interop.compare(module, model, x, grads=True)
    assert result.ok, str(result)
    sections = {r["section"] for r in result.rows}
    assert {"forward", "output", "grad", "sgd step"} <= sections, sections
    grads = [r["name"] for r in result.rows if r["section"] == "grad"]
    assert sorted(grads) == sorted(n for n, _ in module.named_parameters())
    if train:  # BatchNorm on batch statistics, gradients through them
        assert interop.compare(module, model, x, train=True).ok


def test_state_dict_keeps_torchs_names(torch):
    module, _, _, model, _ = _converted("resnet")
    ours = models.torch_state_dict(model)
    theirs = module.state_dict()
    assert sorted(ours) == sorted(theirs)
    for k, v in theirs.items():
        np.testing.assert_array_equal(ours[k], v.numpy(), err_msg=k)


def test_compare_names_the_first_broken_layer(torch):
    module, x, _, model, _ = _converted("mnist_net")
    model = nnx.clone(model)  # the shared conversion stays intact
    model.conv2.kernel[...] = model.conv2.kernel[...] * (1 + 1e-4)
    result = interop.compare(module, model, x, grads=False)
    assert result.first_failure == "forward:conv2", str(result)
    assert "conv2" in str(result) and "NO" in str(result)
    assert result.as_dict()["forward:conv1"]["ok"]


def test_unsupported_ops_are_listed_in_one_error_with_source_lines(torch):
    nn = torch.nn

    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.grouped = nn.Conv2d(4, 4, 3, groups=2)
            self.pixel = nn.PixelShuffle(2)

        def forward(self, x):
            x = self.grouped(x)
            x = torch.cumsum(x, 1)
            return self.pixel(x).cummax(1)

    with pytest.raises(NotImplementedError) as info:
        interop.from_torch(Odd(), torch.ones(1, 4, 6, 6))
    text = str(info.value)
    assert "4 unsupported node(s)" in text, text
    for what in ("groups=2", "torch.cumsum", "PixelShuffle", "Tensor.cummax"):
        assert what in text, text
    assert text.count("test_graph.py:") == 4, text


def test_converted_model_trains_with_jit(torch):
    """The converted graph runs under jax.jit (static graph, NNX split/merge)."""
    import jax
    from flax import nnx

    module, x, _, model, _ = _converted("arithmetic")
    graphdef, state = nnx.split(model)

    @jax.jit
    def forward(state, x):
        return nnx.merge(graphdef, state)(x)

    np.testing.assert_allclose(
        forward(state, x.numpy()), module(x).detach().numpy(), rtol=1e-5, atol=1e-6
    )
