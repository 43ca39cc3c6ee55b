"""jtoolkit.schedules.ReduceLROnPlateau against torch's, decision for decision."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit.schedules import PlateauState, ReduceLROnPlateau

SEED_METRICS = [
    1,
    0.9,
    0.95,
    0.92,
    0.91,
    0.9,
    0.899995,
    0.85,
    0.86,
    0.87,
    0.88,
    0.89,
    0.84,
    0.841,
    0.842,
    0.843,
    0.844,
    0.845,
]


def _random_walk(n, seed):
    rng = np.random.default_rng(seed)
    return (1.0 + np.cumsum(rng.normal(0.0, 0.05, n))).tolist()


CASES = [
    # (kwargs, initial lr, metrics): each exercises one rule of torch's decisions.
    (dict(patience=2, factor=0.5), 1.0, SEED_METRICS),
    (dict(patience=1, factor=0.5, cooldown=2), 1.0, SEED_METRICS),
    (dict(patience=0, factor=0.5, cooldown=1), 0.3, SEED_METRICS),
    (dict(patience=1, threshold=0.05, threshold_mode="abs"), 0.1, SEED_METRICS),
    (dict(patience=1, threshold=0.02, threshold_mode="rel"), 0.1, SEED_METRICS),
    (dict(mode="max", patience=1, factor=0.5), 1.0, SEED_METRICS),
    (
        dict(mode="max", patience=0, threshold=0.02, threshold_mode="abs"),
        1.0,
        [0.1, 0.11, 0.13, 0.14, 0.2, 0.21, 0.215, 0.3, 0.3, 0.29, 0.35, 0.36],
    ),
    (dict(patience=0, min_lr=0.005), 1.0, [1.0] * 8),
    (dict(patience=0, factor=0.5, eps=3e-8), 1e-7, [1.0] * 6),
    (dict(patience=0, factor=0.5), 1e-7, [1.0] * 6),  # default eps: never reduces
    (dict(patience=1, factor=0.0), 0.1, [1.0, 2.0, 2.0, 2.0, 0.5, 0.6, 0.7]),
    (dict(patience=1), 0.1, [1.0, float("nan"), 0.5, float("nan"), float("nan"), 0.4]),
    (dict(patience=3, cooldown=2, factor=0.7), 0.05, _random_walk(60, 1)),
    (
        dict(
            mode="max",
            patience=2,
            threshold_mode="abs",
            threshold=0.01,
            cooldown=1,
            min_lr=1e-3,
        ),
        0.05,
        _random_walk(60, 2),
    ),
    (dict(), 0.01, _random_walk(80, 3)),
]


def _torch_trace(torch, kwargs, lr, metrics):
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    rows = []
    for metric in metrics:
        sched.step(metric)
        rows.append(
            (
                opt.param_groups[0]["lr"],
                sched.best,
                sched.num_bad_epochs,
                sched.cooldown_counter,
            )
        )
    return [np.asarray(column) for column in zip(*rows, strict=True)]


def _scan(plateau, lr, metrics):
    def body(state, metric):
        state = plateau.step(state, metric)
        return state, state

    _, trace = jax.jit(lambda m: jax.lax.scan(body, plateau.init(lr), m))(
        jnp.asarray(metrics, jnp.float32)
    )
    return trace


@pytest.mark.parametrize("case", range(len(CASES)))
def test_matches_torch_decisions(torch, case):
    kwargs, lr, metrics = CASES[case]
    want_lr, want_best, want_bad, want_cool = _torch_trace(torch, kwargs, lr, metrics)
    trace = _scan(ReduceLROnPlateau(**kwargs), lr, metrics)
    np.testing.assert_allclose(trace.lr, want_lr, rtol=1e-6)
    np.testing.assert_allclose(trace.best, want_best, rtol=1e-6)
    np.testing.assert_array_equal(trace.num_bad_epochs, want_bad)
    np.testing.assert_array_equal(trace.cooldown_counter, want_cool)
    np.testing.assert_array_equal(trace.last_epoch, np.arange(1, len(metrics) + 1))


def test_seed_sequence_numbers():
    """torch-semantics §6: patience=2, factor=0.5 on the documented metrics."""
    trace = _scan(ReduceLROnPlateau(patience=2, factor=0.5), 1.0, SEED_METRICS)
    want = [
        1,
        1,
        1,
        1,
        0.5,
        0.5,
        0.5,
        0.5,
        0.5,
        0.5,
        0.25,
        0.25,
        0.25,
        0.25,
        0.25,
        0.125,
    ]
    np.testing.assert_allclose(trace.lr[:16], want)


def test_eager_step_matches_scan_and_jit_compiles_once():
    plateau = ReduceLROnPlateau(patience=1, cooldown=1, factor=0.5)
    metrics = [float(m) for m in SEED_METRICS[:10]]  # one signature: Python floats
    state = plateau.init(0.2)
    assert isinstance(state, PlateauState)
    step = jax.jit(plateau.step)
    eager = state
    for metric in metrics:
        state = step(state, metric)
        eager = plateau.step(eager, metric)
    assert step._cache_size() == 1
    final = jax.tree.map(lambda x: x[-1], _scan(plateau, 0.2, metrics))
    for got, jitted, want in zip(eager, state, final, strict=True):
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(jitted, want)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(factor=1.0), "Factor should be < 1.0"),
        (dict(factor=1.5), "factor=1.5"),
        (dict(factor=-0.1), "ReduceLROnPlateau: factor must be >= 0, got -0.1"),
        (dict(mode="avg"), "'avg'"),
        (dict(threshold_mode="relative"), "'relative'"),
        (dict(patience=-1), "patience must be an integer >= 0, got -1"),
        (dict(cooldown=-2), "cooldown must be an integer >= 0, got -2"),
        (dict(min_lr=-1.0), "min_lr must be >= 0, got -1.0"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReduceLROnPlateau(**kwargs)
