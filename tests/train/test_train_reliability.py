"""Training state reliability: donated-state reuse, huge finite gradients, and fit
resuming from the newest intact checkpoint (never a silent fresh start)."""

import shutil

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jtoolkit.checkpoint import CheckpointCorruptError, all_steps
from jtoolkit.train import TrainState, fit, make_train_step

_X = np.linspace(-1, 1, 24, dtype=np.float32).reshape(12, 2)
_BATCHES = [(_X[:8], _X[:8, :1]), (_X[8:], _X[8:, :1])]
_OPT = optax.sgd(0.1)


def _loss(m, b):
    return ((m(b[0]) - b[1]) ** 2)[:, 0]


_STEP = make_train_step(_loss, _OPT)


def _state():
    return TrainState.create(nnx.Linear(2, 1, rngs=nnx.Rngs(0)), _OPT)


def test_reusing_a_donated_state_says_keep_the_returned_state():
    state = _state()
    new, _ = _STEP(state, _BATCHES[0])
    with pytest.raises(ValueError, match="keep the returned state"):
        _STEP(state, _BATCHES[0])
    new, _ = _STEP(new, _BATCHES[0])  # the returned one works
    assert int(new.step) == 2
    assert _STEP._cache_size() >= 1  # still the jitted function underneath


def test_huge_finite_gradients_are_finite():
    """100 gradients of 1e37 are finite though their sum overflows float32."""
    opt = optax.sgd(0.0)
    step = make_train_step(lambda m, b: jnp.sum(m.kernel) * 1e37, opt)
    state = TrainState.create(nnx.Linear(100, 1, rngs=nnx.Rngs(0)), opt)
    state, metrics = step(state, None)
    assert np.isfinite(float(metrics["loss"]))
    assert bool(metrics["finite"]) and int(state.step) == 1


def test_nonfinite_gradient_with_finite_loss_is_not_called_a_loss():
    opt = optax.sgd(0.0)
    # d/dw of sqrt(|w|) at w = 0 is inf while the loss itself is finite.
    step = make_train_step(lambda m, b: jnp.sum(jnp.sqrt(jnp.abs(m.bias))), opt)
    model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    state = TrainState.create(model, opt)
    with pytest.raises(FloatingPointError, match=r"non-finite gradient \(loss 0\)"):
        fit(state, step, [_X], 1, progress=False)


def test_fit_resume_falls_back_to_the_newest_intact_checkpoint(tmp_path):
    _, straight = fit(_state(), _STEP, _BATCHES, 4, progress=False)
    fit(_state(), _STEP, _BATCHES, 3, checkpoint_dir=str(tmp_path), progress=False)
    shutil.rmtree(tmp_path / "3" / "extra")  # damage: never a fresh start
    with pytest.warns(UserWarning, match=f"{tmp_path / '3'}.*extra"):
        _, resumed = fit(
            _state(),
            _STEP,
            _BATCHES,
            4,
            checkpoint_dir=str(tmp_path),
            resume=True,
            progress=False,
        )
    assert [r["epoch"] for r in resumed] == [1, 2, 3, 4]
    for a, b in zip(resumed, straight, strict=True):
        assert a["train_loss"] == b["train_loss"]
    assert all_steps(tmp_path) == [2, 3, 4]


def test_fit_resume_with_every_checkpoint_damaged_raises(tmp_path):
    fit(_state(), _STEP, _BATCHES, 1, checkpoint_dir=str(tmp_path), progress=False)
    shutil.rmtree(tmp_path / "1" / "state")
    with pytest.raises(CheckpointCorruptError, match="no intact checkpoint"):
        fit(
            _state(),
            _STEP,
            _BATCHES,
            2,
            checkpoint_dir=str(tmp_path),
            resume=True,
            progress=False,
        )


def test_fit_enforces_retention_at_start_up(tmp_path):
    from jtoolkit.checkpoint import save_checkpoint

    for s in range(1, 6):
        save_checkpoint(tmp_path, _state(), s, extra={"epoch": s, "history": []})
    fit(
        _state(),
        _STEP,
        _BATCHES,
        0,
        checkpoint_dir=str(tmp_path),
        max_to_keep=2,
        progress=False,
    )
    assert all_steps(tmp_path) == [4, 5]


def test_fit_rejects_a_checkpoint_dir_that_is_a_file_before_training(tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    seen = []
    with pytest.raises(NotADirectoryError, match="is a file"):
        fit(
            _state(),
            _STEP,
            _BATCHES,
            1,
            checkpoint_dir=str(path),
            progress=False,
            on_epoch_end=seen.append,
        )
    assert seen == []
