"""Tests of ``jtoolkit/_src/autodiff/retain.py`` (``intermediate_grads``, ``retain``).

Moved from test_autodiff.py when the tests were laid out to mirror the code; that file's
notes:

autodiff: the tutorial's autograd example, torch parity of every wrapper, and
``intermediate_grads`` against torch's ``retain_grad``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.autodiff as A
from tests.autodiff._harness import SEED_X, _torch_seed, seed_fn


def seed_fn_retained(x):
    y = A.retain("y", x + 2)
    z = A.retain("z", y * y * 3)
    return z.mean()


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
