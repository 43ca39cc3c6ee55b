"""Helpers shared by the tests of tests/tensor/ (one copy per area)."""

import jax
import numpy as np

CPU = jax.devices("cpu")[0]

Z23, Z32, Z231 = np.zeros((2, 3), np.float32), np.zeros((3, 2), np.float32), None
Z231 = np.zeros((2, 3, 1), np.float32)

RTOL = 1e-5  # float32, short reductions (<= 60 terms)


def _dtype(torch_dtype):
    name = str(torch_dtype).removeprefix("torch.")
    return jax.dtypes.canonicalize_dtype(np.dtype(name))


def _leaves(out):
    return list(out) if isinstance(out, tuple | list) else [out]


def check(torch, rng, jfn, tfn, inputs, grad=True, rtol=RTOL, atol=1e-6):
    """Values and dtypes eager and jitted; gradients of float inputs vs autograd."""
    tin = [torch.tensor(x, requires_grad=grad and x.dtype.kind == "f") for x in inputs]
    theirs = _leaves(tfn(*tin))
    for ours in (_leaves(jfn(*inputs)), _leaves(jax.jit(jfn)(*inputs))):
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs, strict=True):
            assert o.dtype == _dtype(t.dtype), (o.dtype, t.dtype)
            assert o.shape == tuple(t.shape)
            np.testing.assert_allclose(o, t.detach().numpy(), rtol=rtol, atol=atol)
    diff = [i for i, x in enumerate(inputs) if grad and x.dtype.kind == "f"]
    floats = [i for i, t in enumerate(theirs) if t.dtype.is_floating_point]
    if not diff or not floats:
        return
    ws = [
        rng.standard_normal(tuple(theirs[i].shape)).astype(np.float32) for i in floats
    ]
    pairs = list(zip(floats, ws, strict=True))
    sum((theirs[i] * torch.tensor(w)).sum() for i, w in pairs).backward()

    def loss(*args):
        outs = _leaves(jfn(*args))
        return sum((outs[i] * w).sum() for i, w in zip(floats, ws, strict=True))

    grads = jax.grad(loss, argnums=tuple(diff))(*inputs)
    for g, i in zip(grads, diff, strict=True):
        np.testing.assert_allclose(g, tin[i].grad.numpy(), rtol=rtol, atol=atol)


def _x(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _jax_dtype(torch_dtype):
    name = str(torch_dtype).removeprefix("torch.")
    return jax.dtypes.canonicalize_dtype(np.dtype(name))


def _inputs(rng, specs):
    """Random float32 arrays; a spec is a shape or (shape, kind)."""
    out = []
    for spec in specs:
        shape, kind = spec if spec and isinstance(spec[-1], str) else (spec, "normal")
        x = rng.standard_normal(shape).astype(np.float32)
        if kind == "pos":
            x = np.abs(x) + 0.5
        elif kind == "nonzero":
            x = np.where(x < 0, x - 0.5, x + 0.5)
        elif kind == "wide":
            x = x * 4
        out.append(x.astype(np.float32))
    return out


def _close(ours, theirs, rtol, atol):
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=rtol, atol=atol)


def check_op(torch, rng, jfn, tfn, inputs, diff=(), rtol=RTOL, atol=0.0, jit=True):
    """Compare values (eager, jit), dtype and gradients of ``diff`` inputs."""
    tin = [
        torch.tensor(x, requires_grad=i in diff and x.dtype.kind == "f")
        for i, x in enumerate(inputs)
    ]
    theirs = tfn(*tin)
    ours = jfn(*inputs)
    assert ours.dtype == _jax_dtype(theirs.dtype)
    assert ours.shape == tuple(theirs.shape)
    _close(ours, theirs.detach().numpy(), rtol, atol)
    if jit:
        _close(jax.jit(jfn)(*inputs), theirs.detach().numpy(), rtol, atol)
    if not diff:
        return
    w = rng.standard_normal(tuple(theirs.shape)).astype(np.float32)
    (theirs * torch.tensor(w)).sum().backward()
    # one compiled gradient per case: eager grads run the same rules op by op
    gfn = jax.jit(jax.grad(lambda *a: (jfn(*a) * w).sum(), argnums=tuple(diff)))
    for g, i in zip(gfn(*inputs), diff, strict=True):
        _close(g, tin[i].grad.numpy(), rtol, 1e-6)
