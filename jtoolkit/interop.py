"""Bring a torch model over: convert it, prove it equal, measure it.

torch: ``torch.fx`` / forward hooks / torchinfo.

* ``from_torch(module, example_input) -> (model, report)``: trace with torch.fx,
  map every node to a jtoolkit layer (weights and buffers copied) or a jax op with
  torch's signature, and return an NNX module running the graph. Users feed it the
  same tensors as torch (NCHW images: channels-last layers get transposes at their
  boundary). Unsupported nodes are all listed, with source lines, in one error.
* ``compare(torch_module, jtk_module, inputs, *, grads=True)``: per-layer max
  abs/rel errors of activations, gradients and one SGD step against float64 torch,
  with derived tolerances; ``report.first_failure`` names the first layer off.
* ``summary(model, example_input)``: a torchinfo-like table with output shapes,
  parameter counts and XLA's FLOP estimate per layer (``models.summary(model)``
  keeps torch's ``print(model)`` layout).
* ``supported()``: the layers, functions and tensor methods ``from_torch`` maps.

Example:
    >>> import torch
    >>> from jtoolkit.interop import compare, from_torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    >>> model, report = from_torch(net, torch.ones(1, 3))
    >>> compare(net, model, torch.randn(4, 3)).ok
    True
"""

from jtoolkit._src.interop.compare import CompareReport, compare
from jtoolkit._src.interop.graph import (
    ConversionReport,
    TorchGraph,
    from_torch,
    supported,
)
from jtoolkit._src.interop.summary import summary

__all__ = [
    "CompareReport",
    "ConversionReport",
    "TorchGraph",
    "compare",
    "from_torch",
    "summary",
    "supported",
]
