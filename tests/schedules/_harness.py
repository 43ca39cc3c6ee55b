"""Helpers shared by the tests of tests/schedules/ (one copy per area)."""

import jax
import jax.numpy as jnp
import numpy as np

RTOL = 1e-6
ATOL = 1e-12
COUNTS = jnp.arange(640)


def _values(schedule, n):
    """Eager values at counts ``0..n-1`` (evaluated on the shared ``COUNTS``)."""
    return np.asarray(schedule(COUNTS))[:n]


def _torch_run(torch, build, n, lr=0.1, optimizer="sgd", momentum=0.9):
    """Step torch's scheduler ``n - 1`` times; return the lrs and momenta seen."""
    param = torch.nn.Parameter(torch.zeros(1))
    if optimizer == "sgd":
        opt = torch.optim.SGD([param], lr=lr, momentum=momentum)
    else:
        opt = torch.optim.Adam([param], lr=lr)
    sched = build(opt)
    group = opt.param_groups[0]
    lrs, moms = [], []
    for step in range(n):
        if step:
            opt.step()
            sched.step()
        lrs.append(group["lr"])
        moms.append(group["betas"][0] if optimizer == "adam" else group["momentum"])
    return np.asarray(lrs), np.asarray(moms)


def _check(schedule, expected):
    """Eager, jit and vmap values of ``schedule`` on ``0..n-1`` all match torch.

    Counts always have the same length, so eager ops compile once for all tests.
    """
    n = len(expected)
    counts = COUNTS
    for name, values in (
        ("eager", schedule(counts)),
        ("jit", jax.jit(schedule)(counts)),
        ("vmap", jax.vmap(schedule)(counts)),
    ):
        assert values.dtype == jnp.float32, name
        assert values.shape == counts.shape, name
        np.testing.assert_allclose(
            values[:n], expected, rtol=RTOL, atol=ATOL, err_msg=name
        )
    np.testing.assert_allclose(schedule(n - 1), expected[n - 1], rtol=RTOL, atol=ATOL)


SHORT_COUNTS = jnp.arange(200)


def _torch_lrs(torch, build, n, lr=0.1):
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=lr)
    sched = build(opt)
    lrs = []
    for step in range(n):
        if step:
            opt.step()
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return np.asarray(lrs)


def _check_short(schedule, expected, rtol=RTOL):
    n = len(expected)
    for name, values in (
        ("eager", schedule(SHORT_COUNTS)),
        ("jit", jax.jit(schedule)(SHORT_COUNTS)),
        ("vmap", jax.vmap(schedule)(SHORT_COUNTS)),
    ):
        assert values.dtype == jnp.float32, name
        assert values.shape == SHORT_COUNTS.shape, name
        np.testing.assert_allclose(
            values[:n], expected, rtol=rtol, atol=ATOL, err_msg=name
        )
    np.testing.assert_allclose(schedule(n - 1), expected[n - 1], rtol=rtol, atol=ATOL)
