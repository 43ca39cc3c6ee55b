"""torch's tensor basics as pure functions over ``jax.numpy``.

Every function takes Python numbers/lists, numpy arrays or ``jax.Array``s and
returns ``jax.Array``s with torch's dtypes, defaults, errors and gradients; they
work under ``jax.jit``, ``jax.grad`` and ``jax.vmap`` (shape errors are raised while
tracing, before any computation).

Where JAX forces a difference from torch:

* **int32 by default.** Without ``jax_enable_x64`` JAX has no 64-bit types, so
  torch's int64 (``tensor([1, 2])``, ``randint``, ``LongTensor``) is int32 and
  float64 (numpy float64 data, ``DoubleTensor``) is float32. Integers that do not
  fit raise OverflowError instead of wrapping. With x64 on, you get int64/float64.
* **Explicit randomness.** ``manual_seed(seed)`` returns a key; samplers take it
  first: ``randn(key, 2, 3)``.
* **Immutability.** In-place methods are functional: ``a = zero_(a)``,
  ``a = index_put(a, idx, v)``; ``view`` and ``transpose`` return new arrays.
* **Devices** are ``jax.Device``s; ``device("cuda")`` means JAX's GPU.
* ``empty`` is zeros (no uninitialised memory); ``from_numpy`` copies.
* ``max(x, dim)``/``min(x, dim)`` return a ``ValuesIndices(values, indices)`` named
  tuple (a pytree), torch's ``return_types.max``.

Example:
    >>> import jtoolkit.tensor_ops as T
    >>> A = T.tensor([[1, 2, 3], [4, 5, 6]])
    >>> T.mm(A, T.transpose(A, 0, 1)).tolist()
    [[14, 32], [32, 77]]
"""

from jtoolkit._src.tensor.convert import item, numpy, size, zero_
from jtoolkit._src.tensor.create import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
    Tensor,
    arange,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)
from jtoolkit._src.tensor.device import (
    cpu,
    cuda_is_available,
    current_device,
    device,
    device_count,
    empty_cache,
    get_device_name,
    to,
)
from jtoolkit._src.tensor.index import gather, index_put, where
from jtoolkit._src.tensor.matmul import bmm, einsum, matmul, mm, mv
from jtoolkit._src.tensor.pointwise import abs, add, clamp, div, mul, pow
from jtoolkit._src.tensor.random import (
    manual_seed,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
)
from jtoolkit._src.tensor.reduce import (
    ValuesIndices,
    amax,
    amin,
    argmax,
    argmin,
    max,
    mean,
    min,
    std,
    sum,
    var,
)
from jtoolkit._src.tensor.shape import (
    cat,
    chunk,
    diag,
    diag_embed,
    flatten,
    permute,
    repeat,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
    view,
)
from jtoolkit._src.tensor.softmax import log_softmax, softmax

__all__ = [
    "BoolTensor",
    "ByteTensor",
    "CharTensor",
    "DoubleTensor",
    "FloatTensor",
    "IntTensor",
    "LongTensor",
    "ShortTensor",
    "Tensor",
    "ValuesIndices",
    "abs",
    "add",
    "amax",
    "amin",
    "arange",
    "argmax",
    "argmin",
    "bmm",
    "cat",
    "chunk",
    "clamp",
    "cpu",
    "cuda_is_available",
    "current_device",
    "device",
    "device_count",
    "diag",
    "diag_embed",
    "div",
    "einsum",
    "empty",
    "empty_cache",
    "eye",
    "flatten",
    "from_numpy",
    "full",
    "full_like",
    "gather",
    "get_device_name",
    "index_put",
    "item",
    "linspace",
    "log_softmax",
    "manual_seed",
    "matmul",
    "max",
    "mean",
    "min",
    "mm",
    "mul",
    "mv",
    "numpy",
    "ones",
    "ones_like",
    "permute",
    "pow",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "randperm",
    "repeat",
    "reshape",
    "size",
    "softmax",
    "split",
    "squeeze",
    "stack",
    "std",
    "sum",
    "tensor",
    "to",
    "transpose",
    "unsqueeze",
    "var",
    "view",
    "where",
    "zero_",
    "zeros",
    "zeros_like",
]
