"""Helpers shared by the tests of tests/autodiff/ (one copy per area)."""

import numpy as np

# The seed printed x = [[-0.5736, -0.2012], [1.3563, 0.5499]], out 17.2779 and
# x.grad [[2.1396, 2.6982], [5.0345, 3.8248]] (4 decimals, from an unseeded randn).
# This x agrees with every printed digit of x and x.grad (grad = 1.5 (x + 2)), so
# the printed out must come out too.
SEED_X = np.array([[-0.573591, -0.201190], [1.356332, 0.549881]], np.float32)


def seed_fn(x):
    y = x + 2
    z = y * y * 3
    return z.mean()


def _torch_seed(torch, x):
    tx = torch.tensor(x, requires_grad=True)
    y = tx + 2
    y.retain_grad()
    z = y * y * 3
    z.retain_grad()
    out = z.mean()
    out.backward()
    return out.item(), tx.grad.numpy(), y.grad.numpy(), z.grad.numpy()
