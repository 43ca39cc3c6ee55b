"""Tests of ``jtoolkit/_src/tensor/random.py`` (``manual_seed``, ``rand``,
``rand_like``, ``randint``, ``randn``, ``randn_like``, ``randperm``).

Moved from test_tensor_ops_devices.py, test_tensor_ops_errors.py,
test_tensor_ops_more.py when the tests were laid out to mirror the code; those files'
notes:

test_tensor_ops_devices.py:
tensor_ops devices (torch.device / torch.cuda) and explicit-key random sampling.

test_tensor_ops_errors.py:
tensor_ops raises torch's exception type with torch's text (plus hints).

Each case runs the same bad call through torch and jtoolkit: the types must be
equal and torch's message must appear in ours. Errors are raised while tracing,
so ``jax.jit`` callers see them too, never an XLA traceback.

test_tensor_ops_more.py:
The second wave of tensor_ops (factories, reductions, matmul family, softmax,
selection, shape and split ops) against torch: values, dtypes, gradients (torch
autograd as the oracle, both sides differentiating ``sum(op(x) * w)``), under
``jax.jit``, and torch's exception types.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.tensor_ops as T
from tests.tensor._harness import CPU


def _jax_dtype(torch_dtype):
    name = str(torch_dtype).removeprefix("torch.")
    return jax.dtypes.canonicalize_dtype(np.dtype(name))


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


def test_missing_key_is_explained():
    with pytest.raises(TypeError, match="explicit PRNG key"):
        T.randn(2, 3)
    with pytest.raises(TypeError, match="explicit PRNG key"):
        T.randint(0, 10, (3,))


def test_random_like_shapes_dtypes_and_keys():
    key = T.manual_seed(0)
    x = jnp.zeros((300, 4), jnp.float32)
    n, u = T.randn_like(key, x), T.rand_like(key, x)
    assert n.shape == u.shape == x.shape and n.dtype == u.dtype == jnp.float32
    assert abs(float(n.mean())) < 0.15 and 0.9 < float(n.std()) < 1.1
    assert float(u.min()) >= 0 and float(u.max()) < 1
    assert bool((T.randn_like(key, x) == n).all())
    with pytest.raises(TypeError, match="PRNG key"):
        T.randn_like(x, x)
    with pytest.raises(NotImplementedError):
        T.rand_like(key, jnp.zeros(3, jnp.int32))
