"""Helpers shared by the tests of tests/optim/ (one copy per area)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jtoolkit import optim

STEPS = 50


def make_problem(seed: int = 0, batches: int = 1) -> tuple[dict, list]:
    """Initial MLP params (torch layout, [out, in]) and ``batches`` (x, y) pairs."""
    rng = np.random.default_rng(seed)

    def arr(*shape, scale=1.0):
        return (rng.normal(size=shape) * scale).astype(np.float32)

    params = {
        "base": {"weight": arr(16, 8, scale=0.5), "bias": arr(16, scale=0.5)},
        "classifier": {"weight": arr(4, 16, scale=0.5), "bias": arr(4, scale=0.5)},
    }
    data = [(arr(32, 8), arr(32, 4)) for _ in range(batches)]
    return params, data


def jax_loss(params: dict, x: jax.Array, y: jax.Array) -> jax.Array:
    h = jnp.tanh(x @ params["base"]["weight"].T + params["base"]["bias"])
    out = h @ params["classifier"]["weight"].T + params["classifier"]["bias"]
    return jnp.mean((out - y) ** 2)


def torch_loss(torch, params: dict, x, y):
    h = torch.tanh(x @ params["base"]["weight"].T + params["base"]["bias"])
    out = h @ params["classifier"]["weight"].T + params["classifier"]["bias"]
    return torch.mean((out - y) ** 2)


def torch_params(torch, params: dict, dtype=None) -> dict:
    return {
        k: {kk: torch.tensor(v, dtype=dtype, requires_grad=True) for kk, v in d.items()}
        for k, d in params.items()
    }


def flat(tp: dict) -> list:
    return [tp[k][kk] for k in sorted(tp) for kk in sorted(tp[k])]


def jit_step(tx: optax.GradientTransformation):
    """The train step, jitted once: grads, optimizer update, apply."""

    @jax.jit
    def step(params, state, x, y):
        loss, grads = jax.value_and_grad(jax_loss)(params, x, y)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    return step


def run_jax(tx, params, data, steps=STEPS):
    step = jit_step(tx)
    params = jax.device_put(params)  # numpy leaves would key a second compilation
    state = tx.init(params)
    for t in range(steps):
        x, y = data[t % len(data)]
        params, state, _ = step(params, state, x, y)
    assert step._cache_size() == 1, "the jitted step recompiled"
    return params, state


def max_diff(a: dict, b: dict) -> float:
    return max(
        float(np.abs(np.asarray(a[k][kk]) - b[k][kk]).max()) for k in a for kk in a[k]
    )


MLP_STEPS = 30
FACTOR = 4.0
FLOOR = 2e-6


def mlp_problem(seed: int = 0):
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


def mlp_jax_loss(p, x, y):
    h = jnp.tanh(x @ p["w1"].T + p["b1"])
    return jnp.mean((h @ p["w2"].T + p["b2"] - y) ** 2)


def mlp_torch_loss(p, x, y):
    h = (x @ p["w1"].T + p["b1"]).tanh()
    return ((h @ p["w2"].T + p["b2"] - y) ** 2).mean()


TORCH_OPTIMIZERS = {
    "asgd": "ASGD",
    "rprop": "Rprop",
    "adafactor": "Adafactor",
    "muon": "Muon",
    "adam": "Adam",
}


def run_mlp_torch(torch, name, kwargs, dtype, steps=MLP_STEPS, only=None, lr_at=None):
    """torch's params after ``steps`` steps; ``only`` restricts the trained keys."""
    params, (x, y) = mlp_problem()
    tp = {
        k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in params.items()
    }
    keys = sorted(tp) if only is None else only
    opt = getattr(torch.optim, TORCH_OPTIMIZERS[name])([tp[k] for k in keys], **kwargs)
    tx, ty = torch.tensor(x, dtype=dtype), torch.tensor(y, dtype=dtype)
    for t in range(steps):
        if lr_at is not None and t in lr_at:
            opt.param_groups[0]["lr"] = lr_at[t]
        opt.zero_grad()
        mlp_torch_loss(tp, tx, ty).backward()
        opt.step()
    return {k: v.detach().numpy() for k, v in tp.items()}, opt


def run_mlp_jax(tx, steps=MLP_STEPS, only=None, lr_at=None):
    """Our params after ``steps`` jitted steps (one compilation)."""
    params, (x, y) = mlp_problem()
    params = jax.device_put(params)
    keys = sorted(params) if only is None else only
    frozen = {k: v for k, v in params.items() if k not in keys}
    trained = {k: params[k] for k in keys}

    @jax.jit
    def step(trained, state):
        grads = jax.grad(lambda q: mlp_jax_loss({**q, **frozen}, x, y))(trained)
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
    truth, _ = run_mlp_torch(torch, name, kwargs, torch.float64, only=only, lr_at=lr_at)
    t32, _ = run_mlp_torch(torch, name, kwargs, torch.float32, only=only, lr_at=lr_at)
    ours, state = run_mlp_jax(tx, only=only, lr_at=lr_at)
    ref = max_err(t32, truth)
    err = max_err(ours, truth)
    assert err <= FACTOR * ref + FLOOR, (err, ref)
    assert max_err(ours, mlp_problem()[0]) > 1e-3, "the parameters did not move"
    return state


def numpy_params(tp: dict) -> dict:
    return {k: {kk: v.detach().numpy() for kk, v in d.items()} for k, d in tp.items()}
