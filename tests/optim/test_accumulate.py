"""Tests of ``jtoolkit/_src/optim/accumulate.py`` (``accumulate``).

Moved from test_optim_tools.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.optim's param groups, clipping, accumulation and lr-in-state vs torch.

Uses the MLP harness of ``test_optim.py`` (base: 8 -> 16 tanh, classifier: 16 -> 4,
MSE, each framework computing its own gradients).
"""

from __future__ import annotations

import jax
import optax
import pytest
from parity import assert_close_to_truth, torch_references

from jtoolkit import optim
from tests.optim._harness import (
    flat,
    jit_step,
    make_problem,
    max_diff,
    numpy_params,
    torch_loss,
    torch_params,
)

# ---------------------------------------------------------------- accumulation
ACCUM_CASES = [
    # id, jtoolkit optimizer, torch optimizer, torch lr per real step, clip
    pytest.param(
        lambda: optim.sgd(lr=0.1, momentum=0.9),
        lambda torch, ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
        None,
        None,
        id="sgd-momentum",
    ),
    pytest.param(
        lambda: optim.adam(lr=lambda t: 1e-2 * 0.9**t),
        lambda torch, ps: torch.optim.Adam(ps, lr=1e-2),
        lambda s: 1e-2 * 0.9**s,  # the schedule counts real steps, as torch's does
        None,
        id="adam-schedule",
    ),
    pytest.param(
        lambda: optax.chain(optim.clip_grad_norm(0.05), optim.adam(lr=1e-2)),
        lambda torch, ps: torch.optim.Adam(ps, lr=1e-2),
        None,
        0.05,
        id="clip-adam",
    ),
]


@pytest.mark.parametrize(("make_tx", "make_torch", "lr_s", "clip"), ACCUM_CASES)
def test_accumulate_matches_torch_loss_over_k(torch, make_tx, make_torch, lr_s, clip):
    """accumulate(opt, 4) == (loss / 4).backward() per batch, step every 4 batches."""
    k, real_steps = 4, 12
    params, data = make_problem(batches=k)
    tx = optim.accumulate(make_tx(), every_k=k)
    step = jit_step(tx)
    got = jax.device_put(params)
    state = tx.init(got)
    for i in range(k * real_steps):
        before = got
        got, state, _ = step(got, state, *data[i % k])
        if (i + 1) % k:  # intermediate batches leave the parameters alone
            assert max_diff(got, before) == 0.0
    assert step._cache_size() == 1

    def run(start, dtype):
        tp = torch_params(torch, start, dtype)
        opt = make_torch(torch, flat(tp))
        tdata = [tuple(torch.tensor(a, dtype=dtype) for a in pair) for pair in data]
        for s in range(real_steps):
            if lr_s is not None:
                opt.param_groups[0]["lr"] = lr_s(s)
            for x, y in tdata:
                (torch_loss(torch, tp, x, y) / k).backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(flat(tp), clip)
            opt.step()
            opt.zero_grad()
        return numpy_params(tp)

    want, references = torch_references(run, params, torch)
    assert max_diff(want, params) > 1e-2
    assert_close_to_truth(got, want, references)
    if lr_s is not None:
        assert float(optim.current_lr(state)) == pytest.approx(lr_s(real_steps - 1))


def test_accumulate_rejects_bad_every_k():
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="accumulate: every_k must be an integer"):
            optim.accumulate(optim.sgd(), bad)
