"""Export a model: StableHLO bytes, an ONNX file, torch weights (safetensors).

Run: python examples/interop/export.py
"""

import os
import shutil
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtoolkit import export, models

model = models.CNN(1, 10, rngs=nnx.Rngs(0))
model.eval()
x = jax.random.normal(jax.random.key(0), (2, 28, 28, 1))
out = tempfile.mkdtemp(prefix="jtoolkit-export-")  # removed at the end

blob = export.stablehlo(model, x, dynamic_batch=True)  # any batch size
exported = jax.export.deserialize(blob)  # in any process, without jtoolkit
print(
    "stablehlo:",
    len(blob),
    "bytes; max diff",
    float(jnp.abs(exported.call(x) - model(x)).max()),
)

try:
    import onnxruntime

    path = export.onnx(model, x, os.path.join(out, "cnn.onnx"))
    session = onnxruntime.InferenceSession(path)
    (got,) = session.run(None, {session.get_inputs()[0].name: np.asarray(x)})
    print("onnx:", path, "max diff", float(np.abs(got - np.asarray(model(x))).max()))
except ImportError:
    print("onnx: pip install 'jtoolkit[export]' for jax2onnx and onnxruntime")

state_dict = export.to_torch(model, os.path.join(out, "cnn.safetensors"))
print("to_torch:", list(state_dict)[:4], "...")
shutil.rmtree(out)
