"""Tests of ``jtoolkit/_src/optim/clipping.py`` (``clip_grad_norm``, ``global_norm``).

Moved from test_optim_tools.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.optim's param groups, clipping, accumulation and lr-in-state vs torch.

Uses the MLP harness of ``test_optim.py`` (base: 8 -> 16 tanh, classifier: 16 -> 4,
MSE, each framework computing its own gradients).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from parity import assert_close_to_truth, torch_references

from jtoolkit import optim
from tests.optim._harness import (
    flat,
    make_problem,
    max_diff,
    numpy_params,
    run_jax,
    torch_loss,
    torch_params,
)


# ---------------------------------------------------------------- clipping
def random_grads(norm: float, seed: int = 0) -> dict:
    """MLP-shaped gradients rescaled to the given global 2-norm."""
    params, _ = make_problem(seed)
    scale = norm / float(np.sqrt(sum(np.sum(a**2) for a in jax.tree.leaves(params))))
    return jax.tree.map(lambda a: a * np.float32(scale), params)


@pytest.mark.parametrize(
    ("norm", "max_norm", "norm_type"),
    [
        (3.0, 1.0, 2.0),  # clipped
        (3.0, 100.0, 2.0),  # untouched (coefficient clamped to 1)
        (1e-5, 1e-5, 2.0),  # tiny: torch's +1e-6 scales by 0.91, optax does not
        (3e-4, 1e-5, 2.0),
        (3.0, 0.5, float("inf")),
        (3.0, 0.5, "inf"),
        (3.0, 0.5, 1.0),
        (3.0, 0.5, 3.0),
    ],
)
def test_clip_grad_norm_matches_torch(torch, norm, max_norm, norm_type):
    grads = random_grads(norm)
    arrays = [g for k in grads for g in grads[k].values()]
    tensors = [torch.tensor(g, requires_grad=True) for g in arrays]
    for t in tensors:
        t.grad = t.detach().clone()
    total = torch.nn.utils.clip_grad_norm_(tensors, max_norm, norm_type=norm_type)
    tx = optim.clip_grad_norm(max_norm, norm_type)
    clipped, state = tx.update(grads, tx.init(grads))
    got = [np.asarray(g) for k in clipped for g in clipped[k].values()]
    for g, t in zip(got, tensors, strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-6, atol=0)
    np.testing.assert_allclose(state.total_norm, total.item(), rtol=1e-6)
    norm_got = optim.global_norm(grads, norm_type)
    np.testing.assert_allclose(norm_got, total.item(), rtol=1e-6)
    if norm == max_norm:  # the test can fail: optax's clip_by_global_norm differs
        ref, _ = optax.clip_by_global_norm(max_norm).update(grads, None)
        biggest = max(float(np.abs(a).max()) for a in arrays)
        assert max_diff(ref, clipped) > 0.05 * biggest


def test_clip_grad_norm_zero_gradient_is_safe():
    grads = {"w": jnp.zeros((3, 2)), "b": jnp.zeros(2)}
    for norm_type in (2.0, "inf"):
        tx = optim.clip_grad_norm(1.0, norm_type)
        clipped, state = jax.jit(tx.update)(grads, tx.init(grads))
        assert float(state.total_norm) == 0.0
        assert all(np.all(np.asarray(g) == 0.0) for g in jax.tree.leaves(clipped))
    with pytest.raises(ValueError, match="clip_grad_norm: norm_type must be a number"):
        optim.clip_grad_norm(1.0, "fro")


def test_clip_then_adam_matches_torch(torch):
    """chain(clip_grad_norm, adam) == clip_grad_norm_ between backward() and step()."""
    params, data = make_problem()
    tx = optax.chain(optim.clip_grad_norm(0.05), optim.adam(lr=1e-2))
    got, _ = run_jax(tx, params, data)

    def run(start, dtype):
        tp = torch_params(torch, start, dtype)
        opt = torch.optim.Adam(flat(tp), lr=1e-2)
        x, y = (torch.tensor(a, dtype=dtype) for a in data[0])
        for _ in range(50):
            opt.zero_grad()
            torch_loss(torch, tp, x, y).backward()
            torch.nn.utils.clip_grad_norm_(flat(tp), 0.05)
            opt.step()
        return numpy_params(tp)

    want, references = torch_references(run, params, torch)
    assert_close_to_truth(got, want, references)
    unclipped, _ = run_jax(optim.adam(lr=1e-2), params, data)
    assert max_diff(unclipped, want) > 1e-3  # clipping changed the trajectory
