"""Helpers shared by the tests of tests/losses/ (one copy per area)."""

from __future__ import annotations

import zlib

import jax
import jax.numpy as jnp
import numpy as np

F32 = np.float32
RTOL = 1e-5
X = np.zeros((3, 5), F32)
T3 = np.array([0, 1, 2])


def _grads_both(torch, jfn, tfn, arrays, diff):
    """Value and gradients of a scalar loss from jtoolkit (eager and jit) and torch."""
    tensors = [torch.tensor(a) for a in arrays]
    for i in diff:
        tensors[i].requires_grad_(True)
    t_out = tfn(*tensors)
    t_grads = torch.autograd.grad(t_out, [tensors[i] for i in diff])
    expected = (t_out.detach().numpy(), [g.numpy() for g in t_grads])

    def value_and_grads(*args):
        def f(diff_values):
            full = list(args)
            for i, v in zip(diff, diff_values, strict=True):
                full[i] = v
            return jfn(*full)

        return jax.value_and_grad(f)([args[i] for i in diff])

    jax_arrays = [jnp.asarray(a) for a in arrays]
    eager = value_and_grads(*jax_arrays)
    jitted = jax.jit(value_and_grads)(*jax_arrays)
    return expected, eager, jitted


def _assert_same(expected, *got, atol=0.0):
    want_value, want_grads = expected
    for value, grads in got:
        np.testing.assert_allclose(value, want_value, rtol=RTOL, atol=atol)
        for g, w in zip(grads, want_grads, strict=True):
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=atol)


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _normal(rng, shape, scale=1.0) -> np.ndarray:
    return rng.normal(0, scale, shape).astype(F32)


def _signs(rng, shape) -> np.ndarray:
    return rng.choice(np.array([-1.0, 1.0], F32), shape)
