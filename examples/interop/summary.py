"""A torchinfo-like table: jtoolkit.interop.summary (shapes, parameters, XLA FLOPs).

Run: python examples/interop/summary.py
"""

import jax.numpy as jnp
from flax import nnx

from jtoolkit import models
from jtoolkit.interop import summary

print(summary(models.CNN(1, 10, rngs=nnx.Rngs(0)), jnp.ones((2, 28, 28, 1))))
