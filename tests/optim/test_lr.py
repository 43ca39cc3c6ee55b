"""Tests of ``jtoolkit/_src/optim/lr.py`` (``current_lr``, ``set_lr``).

Moved from test_optim_lr.py, test_optim_more.py when the tests were laid out to mirror
the code; those files' notes:

test_optim_lr.py:
The lr in jtoolkit.optim's state: current_lr / set_lr vs torch's param groups.

test_optim_more.py:
ASGD, Rprop, Adafactor, Muon, L-BFGS and Adam(decoupled_weight_decay) vs torch.

Harness: an 8 -> 16 (tanh) -> 4 MLP with MSE on a fixed batch of 32; each framework
computes its own gradients, so they change along the trajectory. Truth is torch in
float64 (same float32 start and data); the tolerance is derived, not tuned: after
``STEPS`` steps our float32 error must be within ``FACTOR`` x torch float32's own
error plus ``FLOOR`` (a few float32 ulps of parameters of size ~1), so it does not
depend on this CPU's rounding. Adafactor's default ``eps1`` is the parameter dtype's
machine eps (different in float64), so parity runs pass ``eps1`` explicitly. Muon's
Newton-Schulz runs in bfloat16 in both frameworks and is checked bit for bit.
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
    assert_derived,
    flat,
    jit_step,
    make_problem,
    max_diff,
    torch_loss,
    torch_params,
)


def warmup_lr(base_lr: float, epoch: int, warmup_epochs: int = 5) -> float:
    """The tutorial's manual warmup: ``base_lr * min(epoch / warmup_epochs, 1.0)``."""
    return base_lr * min(epoch / warmup_epochs, 1.0)


def run_warmup_jax(tx, params, data, epochs, lrs_for_epoch):
    step = jit_step(tx)
    p = jax.device_put(params)
    state = tx.init(p)
    seen = []
    for epoch in range(epochs):
        state = optim.set_lr(state, lrs_for_epoch(epoch))
        seen.append(optim.current_lr(state))
        for x, y in data:
            p, state, _ = step(p, state, x, y)
    assert step._cache_size() == 1, "set_lr made the jitted step recompile"
    return p, seen


def run_warmup_torch(torch, opt, tp, data, epochs, lrs_for_epoch, dtype=None):
    tdata = [tuple(torch.tensor(a, dtype=dtype) for a in pair) for pair in data]
    for epoch in range(epochs):
        lrs = lrs_for_epoch(epoch)
        for i, group in enumerate(opt.param_groups):
            group["lr"] = lrs[i] if isinstance(lrs, list) else lrs
        for x, y in tdata:
            opt.zero_grad()
            torch_loss(torch, tp, x, y).backward()
            opt.step()
    return {k: {kk: v.detach().numpy() for kk, v in d.items()} for k, d in tp.items()}


def test_set_lr_warmup_loop_matches_torch(torch):
    """Tutorial: ``param_group["lr"] = base_lr * min(epoch / 5, 1)`` every epoch."""
    params, data = make_problem(batches=4)
    epochs, base_lr = 8, 0.1

    def lrs(epoch):
        return warmup_lr(base_lr, epoch)

    got, seen = run_warmup_jax(
        optim.sgd(lr=base_lr, momentum=0.9), params, data, epochs, lrs
    )
    np.testing.assert_allclose(
        [float(v) for v in seen], [lrs(e) for e in range(epochs)], rtol=1e-7
    )

    def run(start, dtype):
        tp = torch_params(torch, start, dtype)
        opt = torch.optim.SGD(flat(tp), lr=base_lr, momentum=0.9)
        return run_warmup_torch(torch, opt, tp, data, epochs, lrs, dtype)

    want, references = torch_references(run, params, torch)
    assert max_diff(want, params) > 0.1
    assert_close_to_truth(got, want, references)


def test_set_lr_per_group_matches_torch(torch):
    """A list sets each param group (clip + param_groups(adam), written per epoch)."""
    params, data = make_problem(batches=3)
    tx = optax.chain(
        optim.clip_grad_norm(1.0),
        optim.param_groups(
            optim.adam, [{"params": "base"}, {"params": "classifier"}], lr=1e-3
        ),
    )

    def lrs(epoch):
        return [warmup_lr(1e-2, epoch, 3), warmup_lr(3e-2, epoch, 3)]

    got, seen = run_warmup_jax(tx, params, data, 6, lrs)
    assert [float(v) for v in seen[4]] == pytest.approx(lrs(4))

    def run(start, dtype):
        tp = torch_params(torch, start, dtype)
        groups = [{"params": list(tp[k].values())} for k in ("base", "classifier")]
        opt = torch.optim.Adam(groups, lr=1e-3)
        adam_step = opt.step

        def torch_clip_then_step(closure=None):  # clip_grad_norm_ before each step
            torch.nn.utils.clip_grad_norm_(flat(tp), 1.0)
            return adam_step(closure)

        opt.step = torch_clip_then_step
        return run_warmup_torch(torch, opt, tp, data, 6, lrs, dtype)

    want, references = torch_references(run, params, torch)
    assert_close_to_truth(got, want, references)


def test_current_lr_of_a_schedule_is_the_last_lr_used():
    tx = optim.adam(lr=lambda t: 0.1 * 0.5**t)
    params = {"w": jnp.ones(2)}
    state = tx.init(params)
    assert float(optim.current_lr(state)) == pytest.approx(0.1)  # before any step
    for t in range(3):
        _, state = tx.update({"w": jnp.ones(2)}, state, params)
        assert float(optim.current_lr(state)) == pytest.approx(0.1 * 0.5**t)
    with pytest.raises(ValueError, match="cannot change a learning rate that comes"):
        optim.set_lr(state, 0.5)


def test_lr_found_through_accumulate_and_chain():
    params = {"w": jnp.ones(2)}
    tx = optim.accumulate(optax.chain(optim.clip_grad_norm(1.0), optim.adam(lr=0.1)), 2)
    state = optim.set_lr(tx.init(params), 0.25)
    assert float(optim.current_lr(state)) == 0.25
    update = jax.jit(tx.update)
    for _ in range(2):
        updates, state = update({"w": jnp.ones(2)}, state, params)
    np.testing.assert_allclose(updates["w"], [-0.25, -0.25], rtol=1e-6)
    # param groups: a scalar sets every group, a list must have one per group
    groups = optim.param_groups(optim.sgd, [{"params": "a"}, {"params": "b"}], lr=1.0)
    gstate = groups.init({"a": jnp.ones(1), "b": jnp.ones(1)})
    assert [float(v) for v in optim.current_lr(optim.set_lr(gstate, 0.5))] == [0.5] * 2
    with pytest.raises(ValueError, match="got 3 learning rates for 2 param groups"):
        optim.set_lr(gstate, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="holds no learning rate"):
        optim.current_lr(optax.adam(1e-3).init(params))


def test_state_is_a_plain_checkpointable_pytree(tmp_path):
    """Every leaf is an array; an orbax round trip restores an equal, usable state."""
    import orbax.checkpoint as ocp

    params, data = make_problem()
    tx = optim.accumulate(
        optim.param_groups(optim.sgd, [{"params": "base", "momentum": 0.9}], lr=0.1),
        2,
    )
    step = jit_step(tx)
    p = jax.device_put(params)
    state = tx.init(p)
    for _ in range(3):
        p, state, _ = step(p, state, *data[0])
    assert all(isinstance(x, jax.Array) for x in jax.tree.leaves(state))
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(tmp_path / "opt", state)
        ckpt.wait_until_finished()
        restored = ckpt.restore(tmp_path / "opt", state)
    assert jax.tree.structure(restored) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(a, b)
    p1, _, _ = step(p, state, *data[0])
    p2, _, _ = step(p, restored, *data[0])
    assert max_diff(p1, jax.tree.map(np.asarray, p2)) == 0.0


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("asgd", dict(lr=0.05)),
        ("rprop", dict(lr=0.01)),
        ("adafactor", dict(lr=0.05, eps=(1e-7, 1e-3))),
    ],
)
def test_set_lr_between_steps_matches_param_group_write(torch, name, kwargs):
    """``set_lr`` at step t == ``group["lr"] = ...`` at step t (inner lr state)."""
    lr_at = {10: kwargs["lr"] * 0.3, 20: kwargs["lr"] * 2}
    state = assert_derived(
        torch, name, getattr(optim, name)(**kwargs), kwargs, lr_at=lr_at
    )
    np.testing.assert_allclose(optim.current_lr(state), lr_at[20], rtol=1e-7)


def test_current_lr_and_set_lr_work_on_every_new_optimizer():
    params = {"w": jnp.ones((2, 2))}
    for tx in [
        optim.asgd(lr=0.3),
        optim.rprop(lr=0.3),
        optim.adafactor(lr=0.3),
        optim.muon(lr=0.3),
        optim.lbfgs(lr=0.3),
    ]:
        state = tx.init(params)
        np.testing.assert_allclose(optim.current_lr(state), 0.3, rtol=1e-7)
        np.testing.assert_allclose(
            optim.current_lr(optim.set_lr(state, 0.1)), 0.1, rtol=1e-7
        )


def test_scheduled_lr_is_read_at_the_update_count():
    tx = optim.asgd(lr=lambda t: 0.1 * 0.5**t, lambd=0.0)
    params = {"w": jnp.zeros(1)}
    state = tx.init(params)
    for _ in range(3):
        u, state = tx.update({"w": jnp.ones(1)}, state, params)
    # eta at update 3 was computed after update 2 with lr(1) (torch's one-step lag)
    np.testing.assert_allclose(float(u["w"][0]), -0.05, rtol=1e-6)
    np.testing.assert_allclose(optim.current_lr(state), 0.025, rtol=1e-6)
