"""Tests of ``jtoolkit/_src/checkpoint/store.py`` (``all_steps``, ``latest_step``,
``prune_checkpoints``, ``restore_checkpoint``, ``save_checkpoint``).

Moved from test_checkpoint.py, test_checkpoint_integrity.py when the tests were laid out
to mirror the code; those files' notes:

test_checkpoint.py:
Atomic orbax checkpoints of a TrainState: round trip, retention, crash safety.

test_checkpoint_integrity.py:
Damaged checkpoints are detected, named and fallen back from; rewrites are safe.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jtoolkit._src.checkpoint import steps
from jtoolkit._src.checkpoint.integrity import FILES, json_digest, write_file_sums
from jtoolkit._src.checkpoint.lock import LOCK
from jtoolkit._src.checkpoint.store import _checkpointer
from jtoolkit.checkpoint import (
    CheckpointCorruptError,
    CheckpointWriteError,
    all_steps,
    latest_step,
    prune_checkpoints,
    restore_checkpoint,
    save_checkpoint,
    wait_until_finished,
)
from jtoolkit.train import TrainState, make_train_step
from tests.checkpoint._harness import (
    _TARGET,
    _layout,
    _placed_state,
    _state,
    cross_topology,
)


class _Net(nnx.Module):
    def __init__(self, rngs):
        self.fc = nnx.Linear(3, 4, rngs=rngs)
        self.bn = nnx.BatchNorm(4, rngs=rngs)
        self.drop = nnx.Dropout(0.5, rngs=rngs)

    def __call__(self, x):
        return self.drop(self.bn(self.fc(x)))


def _loss(model, batch):
    return jnp.mean(model(batch) ** 2)


def _trained_state(steps=2, seed=0):
    opt = optax.adam(1e-2)
    step = make_train_step(_loss, opt)
    state = TrainState.create(_Net(nnx.Rngs(0)), opt, seed=seed)
    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3)
    for _ in range(steps):
        state, _ = step(state, x)
    return state, opt


def _assert_same(a, b):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        if jnp.issubdtype(u.dtype, jax.dtypes.prng_key):
            u, v = jax.random.key_data(u), jax.random.key_data(v)
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def test_roundtrip_train_state_with_extra(tmp_path):
    state, opt = _trained_state()
    extra = {"epoch": 2, "loader": {"epoch": 2, "index": 0}, "history": [{"x": 1.5}]}
    path = save_checkpoint(tmp_path, state, 2, extra=extra)
    assert os.path.isdir(path)
    target = TrainState.create(_Net(nnx.Rngs(9)), opt, seed=5)
    restored, got_extra = restore_checkpoint(tmp_path, target, with_extra=True)
    assert got_extra == extra
    assert isinstance(restored, TrainState) and restored.graphdef == state.graphdef
    _assert_same(restored, state)
    assert int(restored.step) == 2


def test_restore_continues_exactly(tmp_path):
    """Save after 2 steps, restore, step twice more: same as 4 uninterrupted steps."""
    straight, opt = _trained_state(steps=4)
    mid, _ = _trained_state(steps=2)
    save_checkpoint(tmp_path, mid, 2)
    resumed = restore_checkpoint(tmp_path, TrainState.create(_Net(nnx.Rngs(1)), opt))
    step = make_train_step(_loss, opt)
    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3)
    for _ in range(2):
        resumed, _ = step(resumed, x)
    _assert_same(resumed, straight)


def test_max_to_keep_and_step_selection(tmp_path):
    for s in (1, 2, 3):
        save_checkpoint(tmp_path, {"w": jnp.full(2, float(s))}, s, max_to_keep=2)
    assert all_steps(tmp_path) == [2, 3] and latest_step(tmp_path) == 3
    got = restore_checkpoint(tmp_path, {"w": jnp.zeros(2)}, step=2)
    np.testing.assert_array_equal(got["w"], [2.0, 2.0])
    with pytest.raises(FileNotFoundError, match=r"step 1 not found.*\[2, 3\]"):
        restore_checkpoint(tmp_path, {"w": jnp.zeros(2)}, step=1)


def test_crash_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    from orbax.checkpoint._src.path import atomicity

    save_checkpoint(tmp_path, {"w": jnp.ones(2)}, 1)

    def crash(self, *args, **kwargs):
        raise RuntimeError("simulated crash before the rename")

    with monkeypatch.context() as patch:
        patch.setattr(atomicity.AtomicRenameTemporaryPath, "finalize", crash)
        with pytest.raises(RuntimeError, match="simulated crash"):
            save_checkpoint(tmp_path, {"w": jnp.full(2, 9.0)}, 2)
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith("2.")]
    assert leftovers, "the interrupted save should leave its temporary directory"
    assert latest_step(tmp_path) == 1
    np.testing.assert_array_equal(
        restore_checkpoint(tmp_path, {"w": jnp.zeros(2)})["w"], [1.0, 1.0]
    )
    # The next save of that step still works.
    save_checkpoint(tmp_path, {"w": jnp.full(2, 3.0)}, 2)
    np.testing.assert_array_equal(
        restore_checkpoint(tmp_path, {"w": jnp.zeros(2)})["w"], [3.0, 3.0]
    )


def test_missing_and_mismatched_raise_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        restore_checkpoint(tmp_path / "nope", {"w": jnp.zeros(2)})
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        restore_checkpoint(tmp_path, {"w": jnp.zeros(2)})
    save_checkpoint(tmp_path, {"w": jnp.ones(2)}, 0)
    with pytest.raises(ValueError, match="shape"):
        restore_checkpoint(tmp_path, {"w": jnp.zeros(3)})
    with pytest.raises(ValueError, match="holds 1 arrays but the target has 2"):
        restore_checkpoint(tmp_path, {"w": jnp.zeros(2), "b": jnp.zeros(2)})
    with pytest.raises(ValueError, match="step must be an integer >= 0, got -1"):
        save_checkpoint(tmp_path, {"w": jnp.ones(2)}, -1)


def test_restore_is_keyed_by_tree_path(tmp_path):
    save_checkpoint(tmp_path, {"a": jnp.ones(2), "b": jnp.zeros(2)}, 0)
    with pytest.raises(ValueError, match=r"not in the checkpoint: \['c'\]"):
        restore_checkpoint(tmp_path, {"a": jnp.ones(2), "c": jnp.zeros(2)})
    # A mismatch is the caller's error, not damage: no fallback to older steps.
    with pytest.raises(ValueError, match="shape"):
        restore_checkpoint(tmp_path, {"a": jnp.ones(3), "b": jnp.zeros(2)})


@pytest.mark.parametrize("stage", ["new written", "old moved aside", "new in place"])
def test_rewrite_killed_at_any_stage_keeps_a_complete_copy(tmp_path, stage):
    save_checkpoint(tmp_path, _state(1), 7)
    final = str(tmp_path / "7")
    # Reproduce the directory a kill leaves at each stage of replace_step.
    shutil.copytree(final, final + steps.NEW)
    if stage != "new written":
        os.replace(final, final + steps.OLD)
    if stage == "new in place":
        os.replace(final + steps.NEW, final)
    assert all_steps(tmp_path) == [7]
    np.testing.assert_array_equal(restore_checkpoint(tmp_path, _TARGET)["b"], [1] * 3)
    save_checkpoint(tmp_path, _state(2), 7)  # the next save tidies up
    assert sorted(os.listdir(tmp_path)) == ["7", LOCK]
    np.testing.assert_array_equal(restore_checkpoint(tmp_path, _TARGET)["b"], [2] * 3)


def test_rewrite_writes_the_new_copy_before_the_old_goes(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, _state(1), 7)

    def killed(directory, step):
        raise KeyboardInterrupt("killed after the new copy was written")

    monkeypatch.setattr(steps, "replace_step", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, _state(2), 7)
    assert os.path.isdir(tmp_path / "7") and os.path.isdir(tmp_path / "7.jtoolkit-new")
    np.testing.assert_array_equal(restore_checkpoint(tmp_path, _TARGET)["b"], [1] * 3)


def test_retention_at_every_save_and_at_start_up(tmp_path, monkeypatch):
    for s in range(4):
        save_checkpoint(tmp_path, _state(s), s, max_to_keep=2)
    assert all_steps(tmp_path) == [2, 3]
    monkeypatch.setattr(steps, "prune", lambda *a, **k: [])  # killed before pruning
    save_checkpoint(tmp_path, _state(4), 4, max_to_keep=2)
    monkeypatch.undo()
    assert all_steps(tmp_path) == [2, 3, 4]
    assert prune_checkpoints(tmp_path, 2) == [2]
    assert all_steps(tmp_path) == [3, 4]
    os.mkdir(tmp_path / "1.jtoolkit-trash")  # a deletion killed half-way
    save_checkpoint(tmp_path, _state(5), 5, max_to_keep=2)
    assert sorted(os.listdir(tmp_path)) == ["4", "5", LOCK]


def test_one_checkpointer_per_process(tmp_path):
    save_checkpoint(tmp_path, _state(0), 0)
    first = _checkpointer()
    save_checkpoint(tmp_path, _state(1), 1)
    assert _checkpointer() is first


def test_checkpoint_dir_that_is_a_file(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        save_checkpoint(path, _state(0), 0)


# Issue 22 (hardening):
# Saves and restores keep no per-call state (the soak in
# benchmarks/soak_checkpoint.py measures the RSS; this checks the known causes).
def _signals():
    from orbax.checkpoint._src.futures import signaling_client

    return len(getattr(signaling_client.get_signaling_client(), "_data", {}))


def test_orbax_signal_keys_do_not_accumulate(tmp_path):
    state = {"w": jnp.ones(3), "key": jax.random.key(0)}
    save_checkpoint(tmp_path, state, 0)
    restore_checkpoint(tmp_path, state)
    before = _signals()
    for step in range(1, 6):
        save_checkpoint(tmp_path, state, step, max_to_keep=2)
        restore_checkpoint(tmp_path, state)
    assert _signals() == before


def test_key_shapes_are_traced_once(tmp_path):
    from jax._src import pjit

    state = {"key": jax.random.key(0)}
    save_checkpoint(tmp_path, state, 0)
    restore_checkpoint(tmp_path, state)
    traced = pjit._infer_params_cached.cache_info().currsize
    for _ in range(5):
        restore_checkpoint(tmp_path, state)
    assert pjit._infer_params_cached.cache_info().currsize == traced


@pytest.mark.parametrize(
    ("saved", "restored"),
    [
        ("sharded8", "replicated8"),
        ("replicated8", "sharded8"),
        ("sharded8", "sharded2"),
        ("single", "sharded8"),
    ],
)
def test_sharded_checkpoints_restore_onto_any_layout(tmp_path, saved, restored):
    """Each shard is written and digested where it lives; the target's sharding
    decides where the restored arrays land (8 devices <-> 2 <-> 1)."""
    state = _placed_state(_layout(saved), 3.0)
    where = save_checkpoint(tmp_path, state, 1)
    with open(os.path.join(where, "jtoolkit-shards-00000.json")) as f:
        blocks = json.load(f)["blocks"]
    assert len(blocks["2"]) == (8 if saved == "sharded8" else 1)  # "w"'s blocks
    target = _placed_state(_layout(restored), 0.0)
    out = restore_checkpoint(tmp_path, target)
    _assert_same(out, state)
    for got, want in zip(jax.tree.leaves(out), jax.tree.leaves(target), strict=True):
        assert got.sharding == want.sharding


def test_a_block_that_fails_its_digest_is_named(tmp_path):
    """A shard digest that disagrees with the data orbax reads back is damage
    naming the block (the files' checksums re-written to match, as a reader
    that misplaced a shard would look)."""
    where = save_checkpoint(tmp_path, _placed_state(_layout("sharded8")), 1)
    name = os.path.join(where, "jtoolkit-shards-00000.json")
    with open(name) as f:
        record = json.load(f)
    blocks = record["blocks"]["2"]  # "w" (after "key" and "n")
    blocks[0][1], blocks[1][1] = blocks[1][1], blocks[0][1]  # rows 0 and 1 swapped
    body = {"process": 0, "blocks": record["blocks"]}
    with open(name, "w") as f:
        json.dump({**body, "sha256": json_digest(body)}, f)
    os.remove(os.path.join(where, FILES))
    write_file_sums(where)
    with pytest.raises(
        CheckpointCorruptError, match=r"block \[\[0, 1\], \[0, 4\]\] of array \['w'\]"
    ):
        restore_checkpoint(tmp_path, _placed_state(_layout("replicated8")), step=1)


def _launch(nproc, mode, directory, tmp_path):
    """``cross_topology(mode, directory)`` in ``nproc`` processes (1 CPU device
    each) through ``jtoolkit.launch``."""
    root = pathlib.Path(__file__).resolve().parents[2]
    script = tmp_path / f"{mode}{nproc}.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(root)!r})\n"
        "from jtoolkit.train import initialize_distributed\n"
        "initialize_distributed()\n"
        "from tests.checkpoint._harness import cross_topology\n"
        f"cross_topology({mode!r}, {str(directory)!r})\n"
    )
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=1",
        "JAX_PLATFORMS": "cpu",
    }
    cmd = [sys.executable, "-m", "jtoolkit.launch", "--nproc", str(nproc)]
    result = subprocess.run(
        [*cmd, str(script)], capture_output=True, text=True, timeout=240, env=env
    )
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-4000:])


@pytest.fixture(scope="module")
def _saved_by_four(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("four")
    _launch(4, "save", tmp / "ckpt", tmp)
    return tmp / "ckpt"


@pytest.mark.slow
@pytest.mark.parametrize(("saved", "restored"), [(4, 1), (4, 2), (1, 4)])
def test_sharded_checkpoints_move_between_process_counts(
    request, tmp_path, saved, restored
):
    """A state sharded over 4 processes (each writes its own shards and digests)
    restores on 1 process and on 2; one saved by 1 process restores on 4."""
    if saved == 4:
        directory = request.getfixturevalue("_saved_by_four")
    else:
        directory = tmp_path / "ckpt"
        cross_topology("save", directory)
    if restored == 1:
        cross_topology("restore", directory)
    else:
        _launch(restored, "restore", directory, tmp_path)


def test_an_async_save_reports_its_failure_at_the_next_call(tmp_path, monkeypatch):
    """blocking=False: orbax writes in a background thread; its failure raises at
    the next wait_until_finished or save_checkpoint, naming the path, and the
    previous step stays the latest."""
    from orbax.checkpoint._src.path import atomicity

    save_checkpoint(tmp_path, {"w": jnp.ones(2)}, 1, blocking=False)
    wait_until_finished()
    assert latest_step(tmp_path) == 1

    def crash(self, *args, **kwargs):
        raise RuntimeError("simulated failure in the background")

    for finish in (wait_until_finished, lambda: save_checkpoint(tmp_path, {}, 9)):
        with monkeypatch.context() as patch:
            patch.setattr(atomicity.AtomicRenameTemporaryPath, "finalize", crash)
            save_checkpoint(tmp_path, {"w": jnp.full(2, 9.0)}, 2, blocking=False)
            with pytest.raises(CheckpointWriteError, match=rf"{tmp_path}/2: .*simul"):
                finish()
        assert all_steps(tmp_path) == [1]
    _assert_same(restore_checkpoint(tmp_path, {"w": jnp.zeros(2)}), {"w": jnp.ones(2)})
    wait_until_finished()  # nothing pending: a no-op
