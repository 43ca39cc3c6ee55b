"""Tests of ``jtoolkit/_src/tensor/create.py`` (``BoolTensor``, ``ByteTensor``,
``CharTensor``, ``DoubleTensor``, ``FloatTensor``, ``IntTensor``, ``LongTensor``,
``ShortTensor``, ...).

Moved from test_tensor_ops.py when the tests were laid out to mirror the code; that
file's notes:

tensor_ops: the tutorial's printed examples, creation and dtype inference.

The seed's numbers are plain tests (no torch needed); dtype inference is also
checked against torch by category (torch's int64/float64 are JAX's default int/
float without ``jax_enable_x64``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.tensor_ops as T


def _jax_dtype(torch_dtype):
    """The dtype JAX stores for a torch dtype (int64 -> int32 without x64)."""
    name = str(torch_dtype).removeprefix("torch.")
    return jax.dtypes.canonicalize_dtype(np.dtype(name))


# --- the seed's printed examples -------------------------------------------------


def test_seed_mm():
    A = T.tensor([[1, 2, 3], [4, 5, 6]])
    B = T.tensor([[1, 4], [2, 5], [3, 6]])
    C = T.mm(A, B)
    assert C.tolist() == [[14, 32], [32, 77]]
    assert C.dtype == T.tensor([1]).dtype  # integer in, integer out


def test_seed_mul():
    A = T.tensor([[1, 2], [3, 4]])
    B = T.tensor([[5, 6], [7, 8]])
    assert T.mul(A, B).tolist() == [[5, 12], [21, 32]]


def test_seed_tensor_sizes_vs_data():
    assert T.size(T.Tensor(2, 3, 4)) == (2, 3, 4)
    assert T.size(T.Tensor([2, 3, 4])) == (3,)
    assert T.Tensor([2, 3, 4]).tolist() == [2.0, 3.0, 4.0]
    assert T.Tensor(2, 3, 4).dtype == jnp.float32
    assert not T.Tensor(2, 3).any()  # zeros: JAX has no uninitialised memory


def test_seed_tensor_with_dtype():
    t = T.tensor([1, 2, 3], dtype=jnp.float32, device="cpu")
    assert t.dtype == jnp.float32 and t.tolist() == [1.0, 2.0, 3.0]


def test_seed_dtype_table(torch):
    names = ["Byte", "Char", "Short", "Int", "Long", "Float", "Double", "Bool"]
    for name in names:
        ours = getattr(T, f"{name}Tensor")([1, 0])
        theirs = getattr(torch, f"{name}Tensor")([1, 0])
        assert ours.dtype == _jax_dtype(theirs.dtype), name
        assert ours.tolist() == theirs.tolist(), name


def test_seed_dtype_table_names():
    expected = {
        "ByteTensor": jnp.uint8,
        "CharTensor": jnp.int8,
        "ShortTensor": jnp.int16,
        "IntTensor": jnp.int32,
        "FloatTensor": jnp.float32,
        "BoolTensor": jnp.bool_,
    }
    for name, dtype in expected.items():
        assert getattr(T, name)(2).dtype == dtype
        assert getattr(T, name)(2, 3).shape == (2, 3)


def test_long_and_double_are_widest_without_warning():
    # warnings are errors in this suite: JAX's float64 warning would fail here
    assert T.LongTensor([1]).dtype == jnp.int32
    assert T.DoubleTensor([1.5]).dtype == jnp.float32
    with jax.enable_x64(True):
        assert T.LongTensor([1]).dtype == jnp.int64
        assert T.DoubleTensor([1.5]).dtype == jnp.float64
        assert T.tensor([1, 2]).dtype == jnp.int64  # torch's int64 exactly
        assert T.tensor(np.array([0.1])).dtype == jnp.float64


# --- creation and dtype inference ---------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        [1, 2, 3],
        [1.0, 2.5],
        [1, 2.5],
        3.0,
        7,
        True,
        [True, False],
        [[1, 2], [3, 4]],
        [],
        np.array([1.0, 2.0], np.float32),
        np.array([1, 2], np.int32),
        np.array([1, 2], np.int64),
        np.array([1, 2], np.uint8),
        np.array([0.25], np.float64),
        np.array([True]),
    ],
    ids=repr,
)
def test_tensor_dtype_inference_matches_torch(torch, data):
    ours = T.tensor(data)
    theirs = torch.tensor(data)
    assert ours.dtype == _jax_dtype(theirs.dtype)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())


def test_tensor_keeps_jax_dtype_and_casts():
    x = jnp.arange(3, dtype=jnp.int16)
    assert T.tensor(x).dtype == jnp.int16
    assert T.tensor(x, dtype="float32").dtype == jnp.float32
    assert T.tensor([1.7, -1.7], dtype=jnp.int32).tolist() == [1, -1]  # truncates


def test_tensor_accepts_torch_dtypes(torch):
    assert T.tensor([1, 2], dtype=torch.float32).dtype == jnp.float32
    assert T.tensor([1, 2], dtype=torch.int64).dtype == T.LongTensor(1).dtype
    assert T.tensor(torch.tensor([1.5, 2.5])).tolist() == [1.5, 2.5]


def test_tensor_under_jit():
    f = jax.jit(lambda x: T.tensor([x, 2 * x]))
    assert f(jnp.float32(1.5)).tolist() == [1.5, 3.0]


def test_tensor_refuses_silent_int_wrap():
    with pytest.raises(OverflowError, match="without overflow"):
        T.tensor(np.array([2**40]))
    with pytest.raises(OverflowError):
        T.tensor([2**40])


@pytest.mark.parametrize(
    "args", [(), (3,), (2, 3), ([2, 3],), ((2, 3),), (np.array([1, 2]),)], ids=repr
)
def test_legacy_tensor_matches_torch(torch, args):
    ours = T.Tensor(*args)
    theirs = torch.Tensor(*args)
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == jnp.float32
    if theirs.numel() and not all(isinstance(a, int) for a in args):
        np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())


def test_int_data_to_typed_constructors_matches_torch(torch):
    data = [3.7, -2.2, 0.0]
    for name in ["Char", "Short", "Int", "Long", "Bool", "Float"]:
        ours = getattr(T, f"{name}Tensor")(data)
        theirs = getattr(torch, f"{name}Tensor")(data)
        assert ours.tolist() == pytest.approx(theirs.tolist()), name


def test_constructor_device():
    assert T.Tensor(2, device="cpu").devices() == {jax.devices("cpu")[0]}
    assert T.tensor([1], device=jax.devices()[0]).devices() == {jax.devices()[0]}
