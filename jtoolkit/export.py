"""Export a jtoolkit model: StableHLO, ONNX, torch weights.

torch: ``torch.export`` / ``torch.onnx.export`` / ``model.state_dict()``.

* ``stablehlo(model, example_input)``: ``jax.export`` bytes, reloadable with
  ``jax.export.deserialize(blob).call(x)`` in a fresh process (no jtoolkit needed).
* ``onnx(model, example_input, path)``: an ONNX file through jax2onnx (the
  ``export`` extra), checked against onnxruntime.
* ``to_torch(model, path=None)``: torch's state dict (and a safetensors file).

Exports run the model in eval mode by default and take jtoolkit's layouts (NHWC
images).

Example:
    >>> from flax import nnx
    >>> from jtoolkit import export, models
    >>> blob = export.stablehlo(models.Linear(3, 1, rngs=nnx.Rngs(0)), jnp.ones((2, 3)))
    >>> jax.export.deserialize(blob).call(jnp.ones((2, 3))).shape
    (2, 1)
"""

from jtoolkit._src.export.onnx import onnx
from jtoolkit._src.export.stablehlo import stablehlo
from jtoolkit._src.export.torch_weights import to_torch

__all__ = ["onnx", "stablehlo", "to_torch"]
