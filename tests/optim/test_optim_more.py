"""ASGD, Rprop, Adafactor, Muon, L-BFGS and Adam(decoupled_weight_decay) vs torch.

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

from jtoolkit import optim

STEPS = 30
FACTOR = 4.0
FLOOR = 2e-6


def make_problem(seed: int = 0):
    rng = np.random.default_rng(seed)

    def arr(*shape, scale=1.0):
        return (rng.normal(size=shape) * scale).astype(np.float32)

    params = {
        "w1": arr(16, 8, scale=0.5),
        "b1": arr(16, scale=0.5),
        "w2": arr(4, 16, scale=0.5),
        "b2": arr(4, scale=0.5),
    }
    return params, (arr(32, 8), arr(32, 4))


def jax_loss(p, x, y):
    h = jnp.tanh(x @ p["w1"].T + p["b1"])
    return jnp.mean((h @ p["w2"].T + p["b2"] - y) ** 2)


def torch_loss(p, x, y):
    h = (x @ p["w1"].T + p["b1"]).tanh()
    return ((h @ p["w2"].T + p["b2"] - y) ** 2).mean()


NAMES = {
    "asgd": "ASGD",
    "rprop": "Rprop",
    "adafactor": "Adafactor",
    "muon": "Muon",
    "adam": "Adam",
}


def run_torch(torch, name, kwargs, dtype, steps=STEPS, only=None, lr_at=None):
    """torch's params after ``steps`` steps; ``only`` restricts the trained keys."""
    params, (x, y) = make_problem()
    tp = {
        k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in params.items()
    }
    keys = sorted(tp) if only is None else only
    opt = getattr(torch.optim, NAMES[name])([tp[k] for k in keys], **kwargs)
    tx, ty = torch.tensor(x, dtype=dtype), torch.tensor(y, dtype=dtype)
    for t in range(steps):
        if lr_at is not None and t in lr_at:
            opt.param_groups[0]["lr"] = lr_at[t]
        opt.zero_grad()
        torch_loss(tp, tx, ty).backward()
        opt.step()
    return {k: v.detach().numpy() for k, v in tp.items()}, opt


def run_jax(tx, steps=STEPS, only=None, lr_at=None):
    """Our params after ``steps`` jitted steps (one compilation)."""
    params, (x, y) = make_problem()
    params = jax.device_put(params)
    keys = sorted(params) if only is None else only
    frozen = {k: v for k, v in params.items() if k not in keys}
    trained = {k: params[k] for k in keys}

    @jax.jit
    def step(trained, state):
        grads = jax.grad(lambda q: jax_loss({**q, **frozen}, x, y))(trained)
        updates, state = tx.update(grads, state, trained)
        return optax.apply_updates(trained, updates), state

    state = tx.init(trained)
    for t in range(steps):
        if lr_at is not None and t in lr_at:
            state = optim.set_lr(state, lr_at[t])
        trained, state = step(trained, state)
    assert step._cache_size() == 1, "the jitted step recompiled"
    return {**frozen, **trained}, state


def max_err(a, b):
    return max(float(np.abs(np.asarray(a[k], np.float64) - b[k]).max()) for k in b)


def assert_derived(torch, name, tx, kwargs, only=None, lr_at=None):
    truth, _ = run_torch(torch, name, kwargs, torch.float64, only=only, lr_at=lr_at)
    t32, _ = run_torch(torch, name, kwargs, torch.float32, only=only, lr_at=lr_at)
    ours, state = run_jax(tx, only=only, lr_at=lr_at)
    ref = max_err(t32, truth)
    err = max_err(ours, truth)
    assert err <= FACTOR * ref + FLOOR, (err, ref)
    assert max_err(ours, make_problem()[0]) > 1e-3, "the parameters did not move"
    return state


CASES = [
    ("asgd", dict(lr=0.05)),
    ("asgd", dict(lr=0.05, lambd=1e-2, alpha=0.5, t0=5, weight_decay=0.1)),
    ("asgd", dict(lr=0.05, maximize=True)),
    ("rprop", dict(lr=0.01)),
    ("rprop", dict(lr=0.02, etas=(0.3, 1.5), step_sizes=(1e-4, 0.05))),
    ("rprop", dict(lr=0.01, maximize=True)),
    ("adafactor", dict(lr=0.05, eps=(1e-7, 1e-3))),
    ("adafactor", dict(lr=0.5, beta2_decay=-0.5, eps=(1e-6, 1e-2), d=2.0)),
    ("adafactor", dict(lr=0.05, eps=(1e-7, 1e-3), weight_decay=0.2, maximize=True)),
    ("adam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
    ("adam", dict(lr=1e-2, weight_decay=0.1, amsgrad=True, maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=lambda v: str(v))
def test_parity_with_torch(torch, name, kwargs):
    tx = getattr(optim, name)(**kwargs)
    assert_derived(torch, name, tx, kwargs)


def test_adam_decoupled_is_adamw(torch):
    """torch 2.13: Adam(decoupled_weight_decay=True) is AdamW, and so is ours."""
    kw = dict(lr=1e-2, weight_decay=0.3)
    a, _ = run_jax(optim.adam(**kw, decoupled_weight_decay=True))
    b, _ = run_jax(optim.adamw(**kw))
    assert max_err(a, {k: np.asarray(v) for k, v in b.items()}) == 0.0


def test_adafactor_default_eps_float32(torch):
    """eps1=None means finfo(param dtype).eps: compare with torch float32 directly."""
    kwargs = dict(lr=0.05)
    want, _ = run_torch(torch, "adafactor", kwargs, torch.float32)
    got, _ = run_jax(optim.adafactor(**kwargs))
    assert max_err(got, want) <= 1e-5


MUON = ["w1", "w2"]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lr=0.02),
        dict(lr=0.02, nesterov=False, weight_decay=0.0, momentum=0.9),
        dict(lr=0.02, adjust_lr_fn="match_rms_adamw", ns_steps=3),
    ],
    ids=str,
)
def test_muon_parity_with_torch(torch, kwargs):
    assert_derived(torch, "muon", optim.muon(**kwargs), kwargs, only=MUON)


def test_newton_schulz_is_bitwise_torch(torch, rng):
    from torch.optim._muon import _zeropower_via_newtonschulz

    from jtoolkit._src.optim.muon import newton_schulz

    coeffs = (3.4445, -4.775, 2.0315)
    for shape in [(6, 4), (4, 6), (5, 5)]:
        g = rng.normal(size=shape).astype(np.float32)
        want = _zeropower_via_newtonschulz(torch.tensor(g), coeffs, 5, 1e-7)
        got = newton_schulz(jnp.asarray(g), coeffs, 5, 1e-7)
        assert got.dtype == jnp.bfloat16
        np.testing.assert_array_equal(
            np.asarray(got.astype(jnp.float32)), want.float().numpy()
        )


def test_muon_rejects_non_matrix_params(torch):
    with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
        torch.optim.Muon([torch.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
        optim.muon().init({"b": jnp.zeros(3)})


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


def test_rprop_lr_only_fills_the_first_step_sizes(torch):
    """torch reads Rprop's lr once: a later group['lr'] write changes nothing."""
    kwargs = dict(lr=0.01)
    a, _ = run_torch(torch, "rprop", kwargs, torch.float32, lr_at={5: 1.0})
    b, _ = run_torch(torch, "rprop", kwargs, torch.float32)
    assert max_err(a, b) == 0.0
    c, _ = run_jax(optim.rprop(**kwargs), lr_at={5: 1.0})
    d, _ = run_jax(optim.rprop(**kwargs))
    assert max_err(c, {k: np.asarray(v) for k, v in d.items()}) == 0.0


BAD = [
    ("asgd", dict(lr=-1.0), ValueError, "Invalid learning rate: -1.0"),
    ("asgd", dict(weight_decay=-0.1), ValueError, "Invalid weight_decay value"),
    ("rprop", dict(lr=-1.0), ValueError, "Invalid learning rate: -1.0"),
    ("rprop", dict(etas=(1.5, 1.2)), ValueError, "Invalid eta values: 1.5, 1.2"),
    ("rprop", dict(etas=(0.5, 0.9)), ValueError, "Invalid eta values"),
    ("adafactor", dict(lr=-1.0), ValueError, "Learning rate should be >= 0"),
    ("adafactor", dict(beta2_decay=0.5), ValueError, "beta2_decay should be <= 0"),
    ("adafactor", dict(eps=(-1.0, 1e-3)), ValueError, "epsilon1 should be >= 0"),
    ("adafactor", dict(eps=(None, -1.0)), ValueError, "epsilon2 should be >= 0"),
    ("adafactor", dict(d=0.5), ValueError, "Clipping threshold d should be >= 1"),
    ("adafactor", dict(weight_decay=-1.0), ValueError, "weight_decay should be"),
    ("muon", dict(lr=-1.0), ValueError, "Learning rate should be >= 0"),
    ("muon", dict(momentum=-1.0), ValueError, "momentum should be >= 0"),
    ("muon", dict(weight_decay=-1.0), ValueError, "weight decay should be >= 0"),
    ("muon", dict(adjust_lr_fn="x"), ValueError, "Adjust learning rate function x"),
]


@pytest.mark.parametrize("name,kwargs,exc,match", BAD, ids=lambda v: str(v))
def test_validation_matches_torch(torch, name, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        getattr(torch.optim, NAMES[name])([torch.zeros(2, 2)], **kwargs)
    with pytest.raises(exc, match=match):
        getattr(optim, name)(**kwargs)


def test_muon_step_time_checks_raise_at_construction(torch):
    """torch raises these inside its first step(); the type and message agree."""
    p = torch.zeros(2, 2, requires_grad=True)
    for kwargs, match in [
        (dict(ns_steps=100), "Number of steps must be less than 100"),
        (dict(ns_coefficients=(1.0, 2.0)), "exactly 3 values"),
    ]:
        opt = torch.optim.Muon([p], **kwargs)
        p.grad = torch.ones(2, 2)
        with pytest.raises(ValueError, match=match):
            opt.step()
        with pytest.raises(ValueError, match=match):
            optim.muon(**kwargs)


# --- L-BFGS ----------------------------------------------------------------------


def lbfgs_torch(torch, kwargs, dtype, steps):
    params, (x, y) = make_problem(1)
    tp = {
        k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in params.items()
    }
    opt = torch.optim.LBFGS([tp[k] for k in sorted(tp)], **kwargs)
    tx, ty = torch.tensor(x, dtype=dtype), torch.tensor(y, dtype=dtype)

    def closure():
        opt.zero_grad()
        loss = torch_loss(tp, tx, ty)
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(steps)]
    state = opt.state[tp[sorted(tp)[0]]]
    return {k: v.detach().numpy() for k, v in tp.items()}, losses, state


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lr=0.1, max_iter=5, history_size=4),
        dict(lr=1, max_iter=5, history_size=4, line_search_fn="strong_wolfe"),
        dict(lr=0.5, max_iter=4, max_eval=6, history_size=3),
    ],
    ids=str,
)
def test_lbfgs_parity_with_torch(torch, kwargs):
    steps = 4
    truth, t_losses, t_state = lbfgs_torch(torch, kwargs, torch.float64, steps)
    t32, _, _ = lbfgs_torch(torch, kwargs, torch.float32, steps)
    params, (x, y) = make_problem(1)
    opt = optim.lbfgs(**kwargs)
    p = jax.device_put(params)
    state = opt.init(p)
    losses = []

    def loss_fn(q):
        return jax_loss(q, x, y)

    for _ in range(steps):
        p, state = opt.step(loss_fn, p, state)
        losses.append(state.loss)
    assert len(opt._compiled) == 1
    assert next(iter(opt._compiled.values()))._cache_size() == 1, "recompiled"
    err, ref = max_err(p, truth), max_err(t32, truth)
    assert err <= FACTOR * ref + FLOOR, (err, ref)
    np.testing.assert_allclose(losses, t_losses, rtol=1e-4)
    assert state.func_evals == t_state["func_evals"]
    assert state.n_iter == t_state["n_iter"]
    assert max_err(p, make_problem(1)[0]) > 1e-3


def test_lbfgs_set_lr_and_validation(torch):
    opt = optim.lbfgs(lr=0.5)
    state = opt.init({"w": jnp.zeros(2)})
    assert float(optim.current_lr(optim.set_lr(state, 0.25))) == 0.25
    for build, exc, match in [
        (dict(lr=-1.0), ValueError, "Invalid learning rate: -1.0"),
    ]:
        with pytest.raises(exc, match=match):
            torch.optim.LBFGS([torch.zeros(2)], **build)
        with pytest.raises(exc, match=match):
            optim.lbfgs(**build)
    p = torch.full((2,), 2.0, requires_grad=True)
    bad = torch.optim.LBFGS([p], line_search_fn="armijo")

    def closure():
        bad.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        bad.step(closure)
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        optim.lbfgs(line_search_fn="armijo")


def test_lbfgs_set_lr_changes_the_step():
    """A smaller lr after set_lr gives a smaller first step (lr is read per step)."""
    f = lambda q: jnp.sum((q["w"] - 3.0) ** 2)  # noqa: E731
    opt = optim.lbfgs(lr=1.0, max_iter=1)
    p0 = {"w": jnp.zeros(2)}
    p1, _ = opt.step(f, p0, optim.set_lr(opt.init(p0), 0.5))
    p2, _ = opt.step(f, p0, opt.init(p0))
    assert float(p1["w"][0]) == pytest.approx(float(p2["w"][0]) / 2, rel=1e-6)


TORCH_CLASSES = {
    "sgd": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "adadelta": "Adadelta",
    "adamax": "Adamax",
    "nadam": "NAdam",
    "radam": "RAdam",
    "asgd": "ASGD",
    "rprop": "Rprop",
    "adafactor": "Adafactor",
    "muon": "Muon",
    "lbfgs": "LBFGS",
}


@pytest.mark.parametrize("name", sorted(TORCH_CLASSES))
def test_flags_and_defaults_follow_torch(torch, name):
    """Every torch flag we mirror exists here, with torch's default value."""
    import inspect

    theirs = inspect.signature(getattr(torch.optim, TORCH_CLASSES[name])).parameters
    ours = inspect.signature(getattr(optim, name)).parameters
    for flag in ("maximize", "decoupled_weight_decay"):
        assert (flag in theirs) == (flag in ours), flag
    for arg, param in ours.items():
        if arg in theirs:
            assert param.default == theirs[arg].default, arg
