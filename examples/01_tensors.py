"""Tutorial sections "Tips", "Tensor" and "creating Tensors", in jtoolkit.

Run: ``python examples/01_tensors.py`` (CPU, a few seconds).

``jtoolkit.tensor_ops`` has torch's tensor functions (``tensor``, ``Tensor``,
``mm``, ``stack``, ...) as pure functions over ``jax.numpy``. Differences that JAX
forces, shown below: arrays are immutable (in-place ``add_``, ``zero_``,
``A[i] = v`` return new arrays), random functions take an explicit key, and without
``jax_enable_x64`` the default integer is int32 (torch: int64) and float64 is float32.
"""

import math

import jax.numpy as jnp
import numpy as np

import jtoolkit.tensor_ops as T


def show(label, value):
    """Print one figure as ``label: value`` (lists for arrays)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    print(f"{label}: {value}")


# --- Tips: torch.Tensor(2,3,4) vs torch.Tensor([2,3,4]) ---------------------------
# torch: torch.Tensor(2,3,4).size()   # torch.Size([2, 3, 4])  (sizes -> uninitialised)
#        torch.Tensor([2,3,4]).size() # torch.Size([3])        (data)
show("Tensor(2, 3, 4).size()", T.size(T.Tensor(2, 3, 4)))  # zeros: JAX has no garbage
show("Tensor([2, 3, 4]).size()", T.size(T.Tensor([2, 3, 4])))

# --- Tips: torch.tensor() vs torch.Tensor() ---------------------------------------
# torch: tensor = torch.tensor(data, dtype=torch.float32, device='cuda')
data = [1, 2, 3]
dev = T.device("cuda" if T.cuda_is_available() else "cpu")  # no GPU here: the CPU
t = T.tensor(data, dtype=jnp.float32, device=dev)
show("tensor(data, dtype=float32)", t)
show("tensor(data).dtype", T.tensor(data).dtype)  # int32 (torch: int64, see docstring)
# torch: tensor = torch.Tensor([1, 2, 3])   # always float32
show("Tensor([1, 2, 3])", T.Tensor([1, 2, 3]))
# torch: tensor = torch.Tensor(2, 3)        # 2x3 uninitialised -> zeros here
show("Tensor(2, 3)", T.Tensor(2, 3))

# --- Tips: torch.mm (matrix product) vs torch.mul (element-wise) ------------------
# torch: A = torch.tensor([[1, 2, 3], [4, 5, 6]]); B = torch.tensor([[1, 4], [2, 5],
#        [3, 6]]); C = torch.mm(A, B)   # tensor([[14, 32], [32, 77]])
A = T.tensor([[1, 2, 3], [4, 5, 6]])  # shape: (2, 3)
B = T.tensor([[1, 4], [2, 5], [3, 6]])  # shape: (3, 2)
show("mm(A, B)", T.mm(A, B))
# torch: A = torch.tensor([[1, 2], [3, 4]]); B = torch.tensor([[5, 6], [7, 8]])
#        C = torch.mul(A, B)            # tensor([[ 5, 12], [21, 32]])
A = T.tensor([[1, 2], [3, 4]])
B = T.tensor([[5, 6], [7, 8]])
show("mul(A, B)", T.mul(A, B))

# --- Tips: t.add vs t.add_ --------------------------------------------------------
# torch: t.add(1) returns a new tensor; t.add_(1) changes t in place.
# JAX arrays are immutable: both are T.add; "in place" is rebinding the name.
t = T.tensor([1, 2, 3])
u = T.add(t, 1)  # t.add(1)
show("t.add(1)", u)
show("t after add", t)
t = T.add(t, 1)  # t.add_(1)  ->  t = t + 1
show("t after 'add_' (rebinding)", t)

# --- Tips: torch.stack vs torch.cat -----------------------------------------------
# torch: C = torch.stack((A, B), dim=0); print(C.shape)   # torch.Size([2, 2, 2])
C = T.stack((A, B), dim=0)
show("stack dim=0 shape", C.shape)
show("stack dim=0", C)  # [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
# torch: D = torch.stack((A, B), dim=1); print(D.shape)   # torch.Size([2, 2, 2])
D = T.stack((A, B), dim=1)
show("stack dim=1 shape", D.shape)
show("stack dim=1", D)  # [[[1, 2], [5, 6]], [[3, 4], [7, 8]]]
# torch: A = torch.randn(2, 3); B = torch.randn(2, 3)
#        torch.cat((A, B), dim=0).shape  # torch.Size([4, 3])
#        torch.cat((A, B), dim=1).shape  # torch.Size([2, 6])
key_a, key_b = T.manual_seed(0), T.manual_seed(1)  # explicit keys (no global RNG)
A, B = T.randn(key_a, 2, 3), T.randn(key_b, 2, 3)
show("cat dim=0 shape", T.cat((A, B), dim=0).shape)
show("cat dim=1 shape", T.cat((A, B), dim=1).shape)
# torch: batch = torch.stack((img1, img2), dim=0)          # (2, 3, 224, 224)
img1, img2 = T.randn(key_a, 3, 224, 224), T.randn(key_b, 3, 224, 224)
show("image batch shape", T.stack((img1, img2), dim=0).shape)
# torch: sequence = torch.stack((frame1, frame2), dim=0)   # (2, 256)
show("frame sequence shape", T.stack((T.randn(key_a, 256), T.randn(key_b, 256))).shape)
# torch: combined = torch.cat((image_features, text_features), dim=1)  # (10, 768)
features = (T.randn(key_a, 10, 512), T.randn(key_b, 10, 256))
show("multimodal cat shape", T.cat(features, dim=1).shape)
# torch: merged = torch.cat((conv_out1, conv_out2), dim=0)  # (64, 64, 64)
convs = (T.randn(key_a, 32, 64, 64), T.randn(key_b, 32, 64, 64))
show("layer outputs cat shape", T.cat(convs, dim=0).shape)

# torch: torch.stack((torch.rand(2,3), torch.rand(3,2)))   # RuntimeError
try:
    T.stack((T.Tensor(2, 3), T.Tensor(3, 2)))
except RuntimeError as err:
    print(f"stack (2,3) with (3,2): RuntimeError: {err}")
# torch: torch.stack((A, B), dim=2)  -- the tutorial says IndexError; it is wrong:
# stack adds a dimension, so 2-D inputs accept dim in [-3, 2]; dim=2 gives (2, 3, 2).
show(
    "stack dim=2 shape (valid, unlike the tutorial says)", T.stack((A, B), dim=2).shape
)
try:
    T.stack((A, B), dim=3)
except IndexError as err:
    print(f"stack dim=3: IndexError: {err}")

# --- Tips: epoch, iteration and batch size ----------------------------------------
image_num, batch_size, epochs = 1797, 64, 10  # e.g. sklearn's digits
iterations = math.ceil(image_num / batch_size)  # batches per epoch (drop_last=False)
print(f"iterations per epoch: {iterations}, total_iteration: {epochs * iterations}")

# --- Data types (torch.ByteTensor ... torch.BoolTensor) ---------------------------
for name in (
    "ByteTensor",
    "CharTensor",
    "ShortTensor",
    "IntTensor",
    "LongTensor",
    "FloatTensor",
    "DoubleTensor",
    "BoolTensor",
):
    show(
        f"{name} dtype", str(getattr(T, name)([1, 0]).dtype)
    )  # Long->int32, Double->f32

# --- Creating tensors -------------------------------------------------------------
# torch: a = np.random.randn(2,3)
#        t = torch.tensor(a, dtype=torch.float32, device=torch.device('cuda:2'))
a = np.array(
    [[0.55657307, -0.56752282, -1.29813938], [0.19568811, -1.58711887, 0.96234087]]
)  # the tutorial's draw
t = T.tensor(a, dtype=jnp.float32, device=dev)  # 'cuda:2' needs 3 GPUs; dev is ours
show(
    "tensor(a) rounded", np.round(np.asarray(t, np.float64), 4)
)  # [[0.5566, -0.5675, -1.2981], ...]
# torch: torch.randn([2,3]); torch.randn([2,3], dtype=torch.float64, device='cuda')
key = T.manual_seed(0)  # torch.manual_seed(0) -> a key passed to every draw
show("randn([2, 3]) shape", T.randn(key, [2, 3]).shape)
show("randn(dtype=float64) dtype", str(T.randn(key, [2, 3], dtype=jnp.float64).dtype))
# torch: torch.randint(0, 10, [2,3]); ...dtype=torch.int8; .dtype -> torch.int64
r = T.randint(key, 0, 10, [2, 3])
show("randint in [0, 10)", bool(jnp.all((r >= 0) & (r < 10))))
show(
    "randint(dtype=int8) dtype",
    str(T.randint(key, 0, 10, [2, 3], dtype=jnp.int8).dtype),
)
show("randint dtype", str(r.dtype))  # int32 without jax_enable_x64 (torch: int64)

# --- Tensor operations (the tutorial's table) -------------------------------------
A = T.tensor([[1.0, -2.0], [3.0, -4.0]])
B = T.tensor([[0.5, 1.0], [2.0, 4.0]])
v = T.tensor([1.0, 2.0])
show("abs(A)", T.abs(A))
show("add(A, B)", T.add(A, B))
show("add(A, 10)", T.add(A, 10))
show("clamp(A, -1, 1)", T.clamp(A, -1, 1))
show("div(A, B)", T.div(A, B))
show("mul(A, 2)", T.mul(A, 2))
show("pow(A, 2)", T.pow(A, 2))
show("mm(A, B.T)", T.mm(A, T.transpose(B, 0, 1)))
show("mv(A, v)", T.mv(A, v))
show("item", T.item(T.tensor([3.5])))  # A.item()
show("numpy type", type(T.numpy(A)).__name__)  # A.numpy()
show("size", T.size(A))  # A.size(); A.shape is the same tuple
show("dtype", str(A.dtype))
show("view(A, 4)", T.view(A, 4))  # A.view(4)
show("view(A, -1, 1) shape", T.view(A, -1, 1).shape)
show("transpose(A, 0, 1)", T.transpose(A, 0, 1))
show("A[1:]", A[1:])  # numpy-style slicing works unchanged
show("A[-1, -1] = 100", T.index_put(A, (-1, -1), 100.0))  # a new array; A unchanged
show("zero_(A)", T.zero_(A))  # functional: zeros like A
show("stack dim=-1 shape", T.stack((A, B), dim=-1).shape)
show("diag(A)", T.diag(A))
show("diag_embed(v)", T.diag_embed(v))
# torch: torch.unqueeze(A, dim) -- a typo in the tutorial; torch's name is unsqueeze
show("unsqueeze(v, 0) shape", T.unsqueeze(v, 0).shape)
show("unsqueeze(v, 1) shape", T.unsqueeze(v, 1).shape)
