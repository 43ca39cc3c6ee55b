"""Helpers shared by the tests of tests/losses/ (one copy per area).

Eager and jit, and what each costs. Every eager primitive call with a new shape or
option compiles its own XLA program (~60 ms of CPU here), while ``jax.jit`` compiles a
whole function once. So the parity files compare *every* case with torch under
``jax.jit`` (one program per family) and run the eager path on one representative case
per loss function (:func:`eager_cases`, and ``_grads_both(..., eager=False)`` for the
edge tests whose function already ran eagerly). That still proves eager == jit: both
paths execute the same Python function on the same values; jit only traces it, and
the loss code branches on static facts (shapes, options), never on traced values, so
the only eager-only code is the value checks that raise on bad input, which the
bad-input tests exercise eagerly. One eager case per function shows the primitives it
dispatches agree with their jitted lowering.
"""

from __future__ import annotations

import zlib

import jax
import jax.numpy as jnp
import numpy as np

F32 = np.float32
RTOL = 1e-5
X = np.zeros((3, 5), F32)
T3 = np.array([0, 1, 2])


def eager_cases(families: dict) -> list[tuple[str, str]]:
    """(family, case id) of the first case of each loss function in each family.

    ``families`` maps a family name to {case id: case}, each case with a ``name``
    attribute (the loss function's name). See the module docstring for why one eager
    case per function is enough when every case also runs under ``jax.jit``.
    """
    picked: dict[tuple[str, str], str] = {}
    for family, cases in families.items():
        for cid, case in cases.items():
            picked.setdefault((family, case.name), cid)
    return [(family, cid) for (family, _), cid in picked.items()]


def _grads_both(torch, jfn, tfn, arrays, diff, eager=True):
    """Value and gradients of a scalar loss from jtoolkit (eager and jit) and torch.

    ``eager=False`` skips the eager run (``eager`` is then ``jitted``), for a case
    whose function already ran eagerly elsewhere (module docstring).
    """
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
    jitted = jax.jit(value_and_grads)(*jax_arrays)
    eager = value_and_grads(*jax_arrays) if eager else jitted
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
