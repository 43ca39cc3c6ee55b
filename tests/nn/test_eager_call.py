"""nn/eager_call.py: an eager forward of a model is one compiled program that leaves
the model (running statistics, RNG counters) as the op-by-op forward does."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from programs import programs as _programs

from jtoolkit import models


def _data(shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def _net(seed=0):
    """Every kind of state a forward writes: BatchNorm's statistics and counter,
    a dropout's RNG counter."""
    return models.Sequential(
        models.Linear(4, 8, rngs=nnx.Rngs(seed)),
        models.BatchNorm1d(8),
        models.Dropout(0.5, rngs=nnx.Rngs(seed + 1)),
        models.ReLU(),
    )


def _leaves(module):
    """Every state array, RNG keys as their key data."""
    leaves = jax.tree_util.tree_leaves(nnx.state(module))
    return [
        np.asarray(jax.random.key_data(leaf))
        if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)
        else np.asarray(leaf)
        for leaf in leaves
    ]


@pytest.mark.parametrize(
    ("build", "inputs"),
    [
        (
            lambda: models.LSTM(
                5, 7, num_layers=2, bidirectional=True, rngs=nnx.Rngs(0)
            ),
            lambda: (_data((6, 3, 5)),),
        ),
        (
            lambda: models.Transformer(8, 2, 1, 1, 16, dropout=0.0, rngs=nnx.Rngs(0)),
            lambda: (_data((5, 2, 8)), _data((4, 2, 8), seed=1)),
        ),
        (_net, lambda: (_data((6, 4)),)),
    ],
    ids=["lstm", "transformer", "sequential"],
)
def test_a_forward_is_one_program_with_the_op_by_op_numbers_and_state(
    build, inputs, monkeypatch
):
    compiled, plain = build(), build()
    args = inputs()
    with _programs() as first:
        out = compiled(*args)
    with _programs() as again:
        out2 = compiled(*args)
    monkeypatch.setenv("JTOOLKIT_EAGER_JIT", "0")
    with _programs() as eager:
        ref = plain(*args)
    ref2 = plain(*args)
    assert first[0] == 1 and again[0] == 0, (first, again)
    assert eager[0] > 3, eager  # op by op: what the compiled forward saves
    for got, want in zip(
        jax.tree_util.tree_leaves((out, out2)),
        jax.tree_util.tree_leaves((ref, ref2)),
        strict=True,
    ):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), 1e-6, 1e-6)
    for got, want in zip(_leaves(compiled), _leaves(plain), strict=True):
        np.testing.assert_allclose(got, want, 1e-6, 1e-6)


def test_written_state_is_written_back_and_eval_is_its_own_program():
    net = _net()
    x = _data((6, 4))
    first, second = net(x), net(x)
    assert not np.array_equal(first, second)  # the dropout mask moved on
    assert int(net[1].num_batches_tracked[...]) == 2
    net.eval()
    with _programs() as evaluated:
        a, b = net(x), net(x)
    np.testing.assert_array_equal(a, b)
    assert evaluated[0] == 1 and int(net[1].num_batches_tracked[...]) == 2


class _Recorder(nnx.Module):
    """A user's module with a Python side effect on every call."""

    def __init__(self):
        self.calls = []

    def __call__(self, x):
        self.calls.append(x.shape)
        return x * 2


def test_a_model_holding_a_users_module_or_function_runs_op_by_op():
    recorder = _Recorder()
    net = models.Sequential(models.Linear(3, 3, rngs=nnx.Rngs(0)), recorder)
    for _ in range(3):
        net(jnp.ones((2, 3)))
    assert recorder.calls == [(2, 3)] * 3
    seen = []
    with_function = models.Sequential(
        models.ReLU(), lambda x: seen.append(x.shape) or x
    )
    with_function(jnp.ones(2))
    with_function(jnp.ones(2))
    assert seen == [(2,), (2,)]


def test_inside_a_transformation_it_is_a_plain_call():
    net = _net()
    x = _data((6, 4))

    @nnx.jit
    def loss(model, x):
        return jnp.sum(model(x) ** 2)

    grads = nnx.grad(loss)(net, x)
    assert np.isfinite(np.asarray(grads[0].kernel[...])).all()
    assert int(net[1].num_batches_tracked[...]) == 1  # written by nnx's own jit

    graphdef, state = nnx.split(net)

    def pure(state, x):
        return nnx.merge(graphdef, state)(x)

    names = {str(e.params.get("name")) for e in jax.make_jaxpr(pure)(state, x).eqns}
    assert "run" not in names, names


def test_errors_are_the_eager_ones():
    lstm = models.LSTM(5, 7, rngs=nnx.Rngs(0))
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to"):
        lstm(jnp.ones((3, 2, 4)))
