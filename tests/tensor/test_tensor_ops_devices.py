"""tensor_ops devices (torch.device / torch.cuda) and explicit-key random sampling."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.tensor_ops as T

HAS_GPU = any(d.platform == "gpu" for d in jax.devices())
CPU = jax.devices("cpu")[0]


def _jax_dtype(torch_dtype):
    name = str(torch_dtype).removeprefix("torch.")
    return jax.dtypes.canonicalize_dtype(np.dtype(name))


# --- devices ---------------------------------------------------------------------


def test_seed_device_idiom_works_everywhere():
    dev = T.device("cuda" if T.cuda_is_available() else "cpu")
    assert isinstance(dev, jax.Device)
    assert dev.platform == ("gpu" if HAS_GPU else "cpu")
    x = T.to(T.tensor([1, 2]), dev)
    assert x.devices() == {dev}
    assert T.numpy(T.cpu(x)).tolist() == [1, 2]


@pytest.mark.parametrize("spec", ["cpu", "cpu:0", CPU])
def test_device_cpu_specs(spec):
    assert T.device(spec) == CPU


def test_device_accepts_torch_device(torch):
    assert T.device(torch.device("cpu")) == CPU


@pytest.mark.skipif(HAS_GPU, reason="checks the no-GPU error")
@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "gpu", "gpu:1", 0])
def test_missing_gpu_names_available_devices(spec):
    with pytest.raises(RuntimeError, match=r"available devices: .*cpu"):
        T.device(spec)


@pytest.mark.skipif(HAS_GPU, reason="CPU-only counts")
def test_cuda_queries_without_gpu(torch):
    assert T.cuda_is_available() is torch.cuda.is_available() is False
    assert T.device_count() == torch.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="available devices"):
        T.get_device_name()


@pytest.mark.skipif(not HAS_GPU, reason="needs a GPU")
def test_gpu_devices():
    gpus = jax.devices("gpu")
    assert T.cuda_is_available() and T.device_count() == len(gpus)
    assert T.device("cuda") == T.device("cuda:0") == T.device(0) == gpus[0]
    assert T.get_device_name(0) == gpus[0].device_kind
    x = T.to({"w": np.ones(3, np.float32)}, "cuda")
    assert x["w"].devices() == {gpus[0]}
    assert T.cpu(x)["w"].devices() == {CPU}
    with pytest.raises(RuntimeError, match="out of range"):
        T.device(f"cuda:{len(gpus)}")


def test_get_device_name_and_current_device():
    assert T.get_device_name("cpu") == CPU.device_kind
    assert T.current_device() == jax.devices()[0]


class _Batch(NamedTuple):
    x: object
    y: object


def test_to_moves_pytrees_and_keeps_other_leaves():
    tree = {
        "params": [np.ones((2, 2), np.float64), jnp.zeros(3)],
        "batch": _Batch(np.arange(3), 1.5),
        "name": "mlp",
    }
    out = T.to(tree, "cpu")
    assert out["name"] == "mlp" and out["batch"].y == 1.5
    assert isinstance(out["batch"], _Batch)
    for leaf in (out["params"][0], out["params"][1], out["batch"].x):
        assert isinstance(leaf, jax.Array) and leaf.devices() == {CPU}
    assert out["params"][0].dtype == jnp.float32  # numpy float64 without x64
    assert T.cpu(tree)["batch"].x.tolist() == [0, 1, 2]


def test_to_with_dtype(torch):
    x = np.ones(2, np.float32)
    assert T.to(x, jnp.float16).dtype == jnp.float16  # dtype in device's position
    assert T.to(x, "cpu", torch.bfloat16).dtype == jnp.bfloat16
    assert T.to(x, dtype="int32").dtype == jnp.int32  # one array: always cast
    tree = T.to({"w": x, "step": np.int32(3)}, dtype=jnp.bfloat16)
    assert tree["w"].dtype == jnp.bfloat16 and tree["step"].dtype == jnp.int32


def test_to_under_jit():
    out = jax.jit(lambda t: T.to(t, "cpu"))({"a": jnp.ones(2)})
    assert out["a"].tolist() == [1.0, 1.0]


def test_empty_cache_keeps_live_arrays_and_functions():
    f = jax.jit(lambda x: x + 1)
    x = f(jnp.ones(2))
    assert T.empty_cache() is None
    assert f._cache_size() == 1  # compiled programs are kept by default
    assert T.empty_cache(clear_compiled=True) is None
    assert f._cache_size() == 0
    assert x.tolist() == [2.0, 2.0] and f(x).tolist() == [3.0, 3.0]


# --- random ------------------------------------------------------------------


def test_manual_seed_is_a_jax_key():
    key = T.manual_seed(42)
    assert jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    np.testing.assert_array_equal(
        jax.random.key_data(key), jax.random.key_data(jax.random.key(42))
    )


def test_manual_seed_uses_all_64_bits_and_wraps_negatives():
    data = [jax.random.key_data(T.manual_seed(s)) for s in (1, 1 + 2**32, 2**63)]
    assert len({tuple(np.asarray(d).tolist()) for d in data}) == 3
    np.testing.assert_array_equal(
        jax.random.key_data(T.manual_seed(-1)),
        jax.random.key_data(T.manual_seed(2**64 - 1)),
    )


def test_same_key_same_values_and_size_forms():
    key = T.manual_seed(0)
    a, b, c = T.randn(key, 2, 3), T.randn(key, [2, 3]), T.randn(key, (2, 3))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, T.randn(T.manual_seed(1), 2, 3))
    np.testing.assert_array_equal(jax.jit(lambda k: T.randn(k, 2, 3))(key), a)


def test_random_dtypes_match_torch_categories(torch):
    key = T.manual_seed(0)

    # eval_shape: dtypes without compiling a sampler per case
    def dtype(fn, *args, **kwargs):
        return jax.eval_shape(lambda: fn(key, *args, **kwargs)).dtype

    assert dtype(T.randn, 2) == _jax_dtype(torch.randn(2).dtype)
    assert dtype(T.rand, 2) == _jax_dtype(torch.rand(2).dtype)
    assert dtype(T.randint, 0, 5, (2,)) == _jax_dtype(torch.randint(0, 5, (2,)).dtype)
    assert dtype(T.randperm, 3) == _jax_dtype(torch.randperm(3).dtype)
    assert dtype(T.randn, 2, dtype=torch.float64) == jnp.float32  # no x64, no warning
    assert dtype(T.randint, 0, 10, [2, 3], dtype=torch.int8) == jnp.int8
    assert dtype(T.randint, 0, 10, 3, dtype=jnp.float32) == jnp.float32


def test_random_distributions(torch):
    key = T.manual_seed(0)
    n = 20_000
    normal, uniform = np.asarray(T.randn(key, n)), np.asarray(T.rand(key, n))
    ref = torch.randn(n).numpy()
    assert abs(normal.mean()) < 0.03 and abs(normal.std() - ref.std()) < 0.03
    assert uniform.min() >= 0 and uniform.max() < 1 and abs(uniform.mean() - 0.5) < 0.01
    ints = np.asarray(T.randint(key, -3, 4, (n,)))
    assert ints.min() == -3 and ints.max() == 3
    np.testing.assert_allclose(np.bincount(ints + 3) / n, np.full(7, 1 / 7), atol=0.01)


def test_randint_short_form_and_keywords():
    key = T.manual_seed(3)
    a = T.randint(key, 10, (4,))
    np.testing.assert_array_equal(a, T.randint(key, 0, 10, (4,)))
    np.testing.assert_array_equal(a, T.randint(key, high=10, size=(4,)))
    with pytest.raises(TypeError, match="size"):
        T.randint(key, 0, 10)


def test_randperm_is_a_permutation():
    key = T.manual_seed(0)
    assert sorted(T.randperm(key, 10).tolist()) == list(range(10))
    assert T.randperm(key, 0).shape == (0,)


def test_random_device_argument():
    key = T.manual_seed(0)
    assert T.randn(key, 2, device="cpu").devices() == {CPU}
    assert T.randint(key, 0, 2, (2,), device=CPU).devices() == {CPU}
