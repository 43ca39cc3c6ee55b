"""ONNX export through jax2onnx (optional: ``pip install "jtoolkit[export]"``).

torch: ``torch.onnx.export(model, (x,), path)``. The jaxpr of the model's forward
pass (eval mode, weights as initializers) goes through jax2onnx's converter; the
result is checked with onnxruntime in the tests (SimpleNN, CNN, LSTM classifier,
BatchNorm, TransformerEncoder agree with jtoolkit to float32 rounding). Layouts are
jtoolkit's (NHWC images), as the model takes them.

Example:
    >>> import os, tempfile
    >>> from flax import nnx
    >>> from jtoolkit.models import Linear
    >>> from jtoolkit.export import onnx
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "linear.onnx")
    ...     onnx(Linear(3, 2, rngs=nnx.Rngs(0)), jnp.ones((1, 3)), path) == path
    True
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from jtoolkit._src.export.forward import forward_fn

__all__ = ["onnx"]


def onnx(
    model: nnx.Module,
    example_input: ArrayLike,
    path: str | os.PathLike[str],
    *,
    dynamic_batch: bool = False,
    opset: int = 23,
) -> str:
    """Write ``model``'s eval-mode forward pass as an ONNX file.

    Args:
      model: any jtoolkit/NNX module taking one array.
      example_input: an array (or ``jax.ShapeDtypeStruct``) giving shape and dtype.
      path: where to write the ``.onnx`` file.
      dynamic_batch: name the leading dimension "batch" (any size at run time).
      opset: the ONNX opset.

    Returns:
      ``path`` as a string.

    Raises:
      ImportError: jax2onnx is not installed (install the ``export`` extra).
    """
    try:
        import jax2onnx
    except ImportError as err:
        raise ImportError(
            "jtoolkit.export.onnx needs jax2onnx: pip install 'jtoolkit[export]'"
        ) from err
    shape, dtype = jnp.shape(example_input), jnp.result_type(example_input)
    spec = (
        ("batch", *shape[1:]) if dynamic_batch else jax.ShapeDtypeStruct(shape, dtype)
    )
    path = os.fspath(path)
    proto = jax2onnx.to_onnx(forward_fn(model), [spec], opset=opset)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())
    return path
