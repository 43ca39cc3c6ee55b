"""autodiff: the tutorial's autograd example, torch parity of every wrapper, and
``intermediate_grads`` against torch's ``retain_grad``."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.autodiff as A
import jtoolkit.tensor_ops as T

# The seed printed x = [[-0.5736, -0.2012], [1.3563, 0.5499]], out 17.2779 and
# x.grad [[2.1396, 2.6982], [5.0345, 3.8248]] (4 decimals, from an unseeded randn).
# This x agrees with every printed digit of x and x.grad (grad = 1.5 (x + 2)), so
# the printed out must come out too.
SEED_X = np.array([[-0.573591, -0.201190], [1.356332, 0.549881]], np.float32)
SEED_OUT = 17.2779
SEED_GRAD = np.array([[2.1396, 2.6982], [5.0345, 3.8248]])


def seed_fn(x):
    y = x + 2
    z = y * y * 3
    return z.mean()


def seed_fn_retained(x):
    y = A.retain("y", x + 2)
    z = A.retain("z", y * y * 3)
    return z.mean()


def _torch_seed(torch, x):
    tx = torch.tensor(x, requires_grad=True)
    y = tx + 2
    y.retain_grad()
    z = y * y * 3
    z.retain_grad()
    out = z.mean()
    out.backward()
    return out.item(), tx.grad.numpy(), y.grad.numpy(), z.grad.numpy()


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


def test_intermediate_grads_match_retain_grad(torch, rng):
    for x in (SEED_X, rng.standard_normal((3, 4)).astype(np.float32)):
        t_out, t_gx, t_gy, t_gz = _torch_seed(torch, x)
        res = A.intermediate_grads(seed_fn_retained, x)
        value, inter, gx = res  # unpacks like a tuple
        np.testing.assert_allclose(float(value), t_out, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(gx), t_gx, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(inter["y"]), t_gy, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(inter["z"]), t_gz, rtol=1e-6)
        assert set(res.intermediates) == {"y", "z"}


def test_intermediate_grads_under_jit(torch):
    _, t_gx, t_gy, _ = _torch_seed(torch, SEED_X)
    res = jax.jit(lambda x: A.intermediate_grads(seed_fn_retained, x))(SEED_X)
    np.testing.assert_allclose(np.asarray(res.intermediates["y"]), t_gy, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(res.grads), t_gx, rtol=1e-6)


def test_retain_is_identity_outside():
    x = jnp.arange(3.0)
    assert A.retain("y", x) is x
    assert float(seed_fn_retained(jnp.ones((2, 2)))) == 27.0
    assert float(jax.jit(seed_fn_retained)(jnp.ones((2, 2)))) == 27.0


def test_intermediate_grads_options(torch, rng):
    w, b = rng.standard_normal((3, 2)).astype(np.float32), np.float32(0.5)

    def f(w, b, x):
        h = A.retain("hidden", {"pre": x @ w + b})
        return jnp.tanh(h["pre"]).sum(), h["pre"].shape

    x = rng.standard_normal((4, 3)).astype(np.float32)
    (value, shape), inter, (gw, gb) = A.intermediate_grads(
        f, w, b, x, argnums=(0, 1), has_aux=True
    )
    assert shape == (4, 2)
    tw, tb = (torch.tensor(v, requires_grad=True) for v in (w, b))
    pre = torch.tensor(x) @ tw + tb
    pre.retain_grad()
    torch.tanh(pre).sum().backward()
    np.testing.assert_allclose(float(value), torch.tanh(pre).sum().item(), rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(inter["hidden"]["pre"]), pre.grad.numpy(), rtol=1e-5
    )
    np.testing.assert_allclose(np.asarray(gw), tw.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(float(gb), tb.grad.item(), rtol=1e-5)


def test_intermediate_grads_errors():
    with pytest.raises(ValueError, match="called no retain"):
        A.intermediate_grads(seed_fn, jnp.ones(2))
    with pytest.raises(ValueError, match="used twice"):
        A.intermediate_grads(
            lambda x: A.retain("y", x).sum() + A.retain("y", x).sum(), jnp.ones(2)
        )
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor"):
        A.intermediate_grads(lambda x: A.retain("i", jnp.arange(2)).sum() * x, 1.0)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        A.intermediate_grads(lambda x: A.retain("y", x * 2), jnp.ones(2))
    jitted = jax.jit(seed_fn_retained)
    jitted(jnp.ones((2, 2)))  # its cached trace has no markers
    with pytest.raises(ValueError, match=r"jax\.jit"):
        A.intermediate_grads(jitted, jnp.ones((2, 2)))


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


def test_detach_matches_torch(torch, rng):
    x = rng.standard_normal(4).astype(np.float32)
    g = A.grad(lambda x: (x * A.detach(x) ** 2).sum())(x)
    tx = torch.tensor(x, requires_grad=True)
    (tx * tx.detach() ** 2).sum().backward()
    np.testing.assert_allclose(np.asarray(g), tx.grad.numpy(), rtol=1e-6)
    tree = A.detach({"a": jnp.ones(2), "n": 3, "np": np.ones(2)})
    assert tree["n"] == 3 and isinstance(tree["np"], jax.Array)


def test_no_grad_forms(torch, rng):
    x = rng.standard_normal(4).astype(np.float32)

    @A.no_grad
    def double(x):
        return {"y": 2 * x, "tag": "t"}

    @A.no_grad()
    def triple(x):
        return 3 * x

    with A.no_grad():
        assert float(triple(1.0)) == 3.0

    g = A.grad(lambda x: (double(x)["y"] * x + triple(x) + x).sum())(x)
    tx = torch.tensor(x, requires_grad=True)
    with torch.no_grad():
        y2, y3 = 2 * tx, 3 * tx
    (y2 * tx + y3 + tx).sum().backward()
    np.testing.assert_allclose(np.asarray(g), tx.grad.numpy(), rtol=1e-6)
    assert double(x)["tag"] == "t" and double.__name__ == "double"
