"""Bring a torch model over in one call: jtoolkit.interop.from_torch.

Builds a small torch CNN (the layer sequence of pytorch/examples' MNIST Net),
converts it, and feeds both the same NCHW batch.
Run: python examples/interop/from_torch.py
"""

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from jtoolkit.interop import from_torch


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3)
        self.conv2 = nn.Conv2d(8, 16, 3)
        self.dropout = nn.Dropout(0.25)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        return F.log_softmax(self.fc(torch.flatten(self.dropout(x), 1)), dim=1)


torch.manual_seed(0)
net = Net().eval()
x = torch.randn(4, 1, 12, 12)
model, report = from_torch(net, x)  # an NNX module, torch's weights and names
print(report)
out = model(x.numpy())  # the same NCHW array torch takes
print(
    "max |jtoolkit - torch|:",
    float(np.abs(np.asarray(out) - net(x).detach().numpy()).max()),
)
