"""Prove a port equal: jtoolkit.interop.compare (layers, gradients, one SGD step).

Compares a torch MLP with jtoolkit's hand-written twin (weights copied through the
state dict) and then with a deliberately wrong copy: the report names the first
layer that breaks the derived tolerance. Run: python examples/interop/compare.py
"""

import torch
from flax import nnx

from jtoolkit import models
from jtoolkit.interop import compare


class TorchMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(8, 16)
        self.fc2 = torch.nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


class JtkMLP(nnx.Module):
    def __init__(self, rngs):
        self.fc1 = models.Linear(8, 16, rngs=rngs)
        self.fc2 = models.Linear(16, 3, rngs=rngs)

    def __call__(self, x):
        return self.fc2(models.Tanh()(self.fc1(x)))


torch.manual_seed(0)
net = TorchMLP()
twin = JtkMLP(nnx.Rngs(0))
models.load_torch_state_dict(twin, net.state_dict())
x = torch.randn(5, 8)
report = compare(net, twin, x)  # forward per layer, gradients, one SGD step
print(report)
twin.fc2.bias[...] = twin.fc2.bias[...] + 1e-3  # a port bug
print("\nwith a wrong bias:", compare(net, twin, x).first_failure)
