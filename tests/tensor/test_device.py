"""Tests of ``jtoolkit/_src/tensor/device.py`` (``cpu``, ``cuda_is_available``,
``current_device``, ``device``, ``device_count``, ``empty_cache``,
``get_device_name``, ``to``).

Moved from test_tensor_ops_devices.py when the tests were laid out to mirror the code;
that file's notes:

tensor_ops devices (torch.device / torch.cuda) and explicit-key random sampling.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.tensor_ops as T
from tests.tensor._harness import CPU

HAS_GPU = any(d.platform == "gpu" for d in jax.devices())


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
