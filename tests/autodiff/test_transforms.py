"""Tests of ``jtoolkit/_src/autodiff/transforms.py`` (``backward``, ``grad``,
``hessian``, ``jacobian``, ``jvp``, ``value_and_grad``, ``vjp``).

Moved from test_autodiff.py when the tests were laid out to mirror the code; that file's
notes:

autodiff: the tutorial's autograd example, torch parity of every wrapper, and
``intermediate_grads`` against torch's ``retain_grad``.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.autodiff as A
import jtoolkit.tensor_ops as T
from tests.autodiff._harness import SEED_X, _torch_seed, seed_fn

SEED_OUT = 17.2779
SEED_GRAD = np.array([[2.1396, 2.6982], [5.0345, 3.8248]])


def test_seed_autograd_example_as_printed():
    printed_x = np.array([[-0.5736, -0.2012], [1.3563, 0.5499]])
    assert np.abs(SEED_X - printed_x).max() < 5e-5
    out, grad = A.backward(seed_fn, SEED_X)
    assert abs(float(out) - SEED_OUT) < 5e-5  # rounds to the printed 17.2779
    assert np.abs(np.asarray(grad) - SEED_GRAD).max() < 5e-5


def test_seed_autograd_example_with_ones():
    out, grad = A.backward(seed_fn, jnp.ones((2, 2)))
    assert float(out) == 27.0
    assert grad.tolist() == [[4.5, 4.5], [4.5, 4.5]]


def test_seed_example_matches_torch(torch):
    out, grad = A.backward(seed_fn, SEED_X)
    t_out, t_grad, _, _ = _torch_seed(torch, SEED_X)
    np.testing.assert_allclose(float(out), t_out, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(grad), t_grad, rtol=1e-6)


# --- backward --------------------------------------------------------------------


def test_backward_non_scalar_raises_torch_error(torch):
    with pytest.raises(RuntimeError) as expected:
        (torch.ones(2, requires_grad=True) * 2).backward()
    with pytest.raises(RuntimeError, match=re.escape(str(expected.value))):
        A.backward(lambda x: x * 2, jnp.ones(2))
    with pytest.raises(RuntimeError, match="scalar outputs"):
        A.grad(lambda x: x * 2)(jnp.ones(2))


def test_backward_one_element_output_like_torch(torch):
    out, g = A.backward(lambda x: x.sum().reshape(1), jnp.ones(2))
    assert out.shape == (1,) and g.tolist() == [1.0, 1.0]


def test_backward_int_input_raises_torch_error(torch):
    with pytest.raises(RuntimeError) as expected:
        torch.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match=re.escape(str(expected.value))):
        A.backward(lambda x: x.sum(), [1, 2])


def test_backward_argnums_aux_and_lists(torch, rng):
    a, b = rng.standard_normal((2, 3)).astype(np.float32)
    (value, aux), (ga, gb) = A.backward(
        lambda a, b: ((a * b).sum() ** 2, "aux"), a, b, argnums=(0, 1), has_aux=True
    )
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    t_out = (ta * tb).sum() ** 2
    t_out.backward()
    assert aux == "aux"
    np.testing.assert_allclose(float(value), t_out.item(), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(ga), ta.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(gb), tb.grad.numpy(), rtol=1e-5)
    _, g = A.backward(lambda x: (x * x).sum(), [[1.0, 2.0], [3.0, 4.0]])
    assert g.tolist() == [[2.0, 4.0], [6.0, 8.0]]
    _, g = A.backward(lambda x, y: (x * y).sum(), 2.0, np.float32(3.0), argnums=-1)
    assert float(g) == 2.0


def test_backward_under_jit_and_with_tensor_ops(torch, rng):
    x = rng.standard_normal((3, 3)).astype(np.float32)

    def f(x):
        return T.clamp(T.mm(x, T.transpose(x, 0, 1)), -1.0, 1.0).sum() + T.abs(x).mean()

    out, g = jax.jit(lambda x: A.backward(f, x))(x)
    tx = torch.tensor(x, requires_grad=True)
    t_out = (tx.mm(tx.T)).clamp(-1.0, 1.0).sum() + tx.abs().mean()
    t_out.backward()
    np.testing.assert_allclose(float(out), t_out.item(), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(g), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


# --- thin wrappers ------------------------------------------------------------------


def _f(x):
    return jnp.sin(x) * x**2


def _tf(torch):
    return lambda x: torch.sin(x) * x**2


def test_grad_and_value_and_grad_match_torch(torch, rng):
    x = rng.standard_normal(5).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    _tf(torch)(tx).sum().backward()
    g = A.grad(lambda x: _f(x).sum())(x)
    v, g2 = A.value_and_grad(lambda x: _f(x).sum())(x)
    (g3, aux) = A.grad(lambda x: (_f(x).sum(), 7), has_aux=True)(x)
    for got in (g, g2, g3):
        np.testing.assert_allclose(np.asarray(got), tx.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(
        float(v), _tf(torch)(torch.tensor(x)).sum().item(), rtol=1e-5
    )
    assert aux == 7


def test_jacobian_hessian_vjp_jvp_match_torch(torch, rng):
    x, v = rng.standard_normal((2, 4)).astype(np.float32)
    F = torch.autograd.functional
    tx, tv = torch.tensor(x), torch.tensor(v)
    np.testing.assert_allclose(
        np.asarray(A.jacobian(_f)(x)),
        F.jacobian(_tf(torch), tx).numpy(),
        rtol=1e-5,
        atol=1e-7,
    )
    np.testing.assert_allclose(
        np.asarray(A.hessian(lambda x: _f(x).sum())(x)),
        F.hessian(lambda x: _tf(torch)(x).sum(), tx).numpy(),
        rtol=1e-5,
        atol=1e-6,
    )
    out, pull = A.vjp(_f, x)
    t_out, t_vjp = F.vjp(_tf(torch), tx, tv)
    np.testing.assert_allclose(np.asarray(out), t_out.numpy(), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(pull(v)[0]), t_vjp.numpy(), rtol=1e-5)
    out, tangent = A.jvp(_f, (x,), (v,))
    t_out, t_jvp = F.jvp(_tf(torch), tx, tv)
    np.testing.assert_allclose(np.asarray(tangent), t_jvp.numpy(), rtol=1e-5, atol=1e-7)
