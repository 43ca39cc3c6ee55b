"""Tutorial sections "basic usage" (versions) and "using CUDA", in jtoolkit.

Run: ``python examples/02_devices.py`` (CPU or GPU; a few seconds).

JAX places arrays on its default device (the GPU when JAX's CUDA plugin is
installed: ``pip install -e ".[cuda]"``), so most code never names a device.
``jtoolkit.tensor_ops`` keeps torch's device helpers for code that does. Everything
below runs on a CPU-only machine and takes the GPU branch where one exists.
"""

import jax
import numpy as np

import jtoolkit
import jtoolkit.tensor_ops as T

# torch: print(torch.__version__); print(torch.version.cuda)
#        print(torch.cuda.is_available())
print("jtoolkit version:", jtoolkit.__version__)
print("jax version:", jax.__version__)
print("backend:", jax.default_backend())  # "gpu" with CUDA, else "cpu"
print("cuda available:", T.cuda_is_available())

# torch: device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
device = T.device("cuda" if T.cuda_is_available() else "cpu")
print("device:", device)

# torch: torch.tensor([1,2], device=device)  -- create directly on a device
a = T.tensor([1.0, 2.0], device=device)
# torch: a.device
print("a.device:", a.device)
# torch: A = A.to(device)
A = T.to(T.tensor([[1.0, 2.0], [3.0, 4.0]]), device)
print("A.device after to(device):", A.device)
# torch: A.cpu().device
print("A.cpu().device:", T.cpu(A).device)
# T.to also moves whole pytrees (a batch dict, model parameters) in one call
batch = T.to({"x": np.ones((2, 3)), "y": np.arange(2)}, device)
print("batch devices:", sorted({str(v.device) for v in batch.values()}))

# torch: a + b.to(device)  -- the tutorial says mixed devices are unified to b's
# device automatically. Not so: torch raises "Expected all tensors to be on the same
# device" (0-dim CPU scalars aside). In both libraries move one operand explicitly;
# JAX also refuses to combine arrays committed to different devices.
b = T.tensor([10.0, 20.0])
print("a + b.to(device):", (a + T.to(b, device)).tolist())

# torch: a.cpu().numpy()  -- a CUDA tensor goes through the CPU to numpy
host = T.numpy(a)  # np.asarray(a) also works: it copies to the host as needed
print("numpy:", type(host).__name__, host.tolist())

# torch: torch.cuda.empty_cache(); torch.cuda.device_count()
#        torch.cuda.get_device_name(0); torch.cuda.current_device()
T.empty_cache()  # collects garbage and clears JAX's compiled programs; an array's
# device memory is freed as soon as its last reference goes (``del x``)
print("cuda device count:", T.device_count())
print("current device:", T.current_device())
if T.cuda_is_available():
    print("device name:", T.get_device_name(0))
else:
    # on a CPU-only machine torch raises too; jtoolkit says what is available
    try:
        T.get_device_name(0)
    except RuntimeError as err:
        print("get_device_name(0): RuntimeError:", str(err).split(";")[0])
# `nvidia-smi` in a shell shows the GPUs' state, with JAX as with torch. JAX
# preallocates 75% of GPU memory by default: XLA_PYTHON_CLIENT_PREALLOCATE=false
# turns that off when several processes share a GPU.
