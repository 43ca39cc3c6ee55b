"""run_as_one_program: the eager numbers and state updates in one cached program;
models that need concrete values fall back to running eagerly, models with an
unhashable static attribute get a program of their own."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtoolkit import models
from jtoolkit._src.interop.program import run_as_one_program

from ._harness import programs_compiled


def _forward(graphdef, state, x, scale):
    model = nnx.merge(graphdef, state)
    return model(x) * scale, nnx.state(model)


class _Net(nnx.Module):
    def __init__(self, host_branch: bool, rngs: nnx.Rngs) -> None:
        self.fc = models.Linear(3, 4, rngs=rngs)
        self.bn = models.BatchNorm1d(4)
        self.host_branch = host_branch
        self.notes = {"why": ["a dict attribute makes the graphdef unhashable"]}

    def __call__(self, x):
        y = self.bn(self.fc(x))
        if self.host_branch and float(y.sum()) > 1e9:  # needs a concrete value
            return -y
        return y


def _no_notes(net: _Net) -> _Net:
    del net.notes
    return net


def test_one_cached_program_with_the_eager_numbers_and_state():
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    eager = _no_notes(_Net(False, nnx.Rngs(0)))
    jitted = nnx.clone(eager)
    want = eager(x) * 2.0
    got, first = programs_compiled(lambda: run_as_one_program(_forward, jitted, x, 2.0))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    # train mode: the running statistics were written back to the model
    stats = [jax.tree.leaves(nnx.state(m, nnx.BatchStat)) for m in (eager, jitted)]
    assert len(stats[0]) == 3  # num_batches_tracked, running mean and var
    for a, b in zip(*stats, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert first == 1
    copy = nnx.clone(jitted)  # same structure: the same program
    _, second = programs_compiled(lambda: run_as_one_program(_forward, copy, x, 2.0))
    assert second == 0


def test_concrete_values_fall_back_to_eager_and_unhashable_structures_still_jit():
    x = jnp.ones((2, 3))
    eager = _Net(True, nnx.Rngs(1))
    eager.eval()
    want = eager(x)
    got = run_as_one_program(_forward, nnx.clone(eager), x, 1.0)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    plain = _Net(False, nnx.Rngs(1))  # notes: an unhashable graphdef
    plain.eval()
    got, programs = programs_compiled(
        lambda: run_as_one_program(_forward, plain, x, 1.0)
    )
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert programs == 1
