"""Damaged checkpoints are detected, named and fallen back from; rewrites are safe."""

import os
import pathlib
import shutil

import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit._src.checkpoint import steps
from jtoolkit._src.checkpoint.lock import LOCK
from jtoolkit._src.checkpoint.store import _checkpointer
from jtoolkit.checkpoint import (
    CheckpointCorruptError,
    all_steps,
    prune_checkpoints,
    restore_checkpoint,
    save_checkpoint,
)

_TARGET = {"b": jnp.zeros(3), "w": jnp.zeros((200, 100))}


def _state(value):
    w = jnp.arange(20000, dtype=jnp.float32).reshape(200, 100) + value
    return {"b": jnp.full(3, float(value)), "w": w}


def _two_steps(tmp_path):
    for s in (1, 2):
        save_checkpoint(tmp_path, _state(s), s, extra={"epoch": s})
    return str(tmp_path / "2")


def _files(step_dir, part):
    out = []
    for root, _, names in os.walk(os.path.join(step_dir, part)):
        out += [os.path.join(root, n) for n in names if n != "commit_success.txt"]
    return sorted(out, key=os.path.getsize)


def _flip(path, where=0.5):
    data = bytearray(pathlib.Path(path).read_bytes())
    data[int(len(data) * where)] ^= 0x04
    pathlib.Path(path).write_bytes(bytes(data))


def _truncate(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def _data_flip(d):
    _flip(_files(d, "state")[-1])  # the largest file: array bytes


def _data_truncate(d):
    _truncate(_files(d, "state")[-1])


def _layout_flip(d):
    _flip(os.path.join(d, "layout", "metadata"), 0.9)


def _extra_flip(d):
    path = pathlib.Path(d, "extra", "metadata")
    text = path.read_text().replace('"epoch": 2', '"epoch": 3')
    assert '"epoch": 3' in text
    path.write_text(text)  # still valid JSON: only the checksum sees it


def _extra_bad_json(d):
    pathlib.Path(d, "extra", "metadata").write_text("{not json")


def _orbax_metadata_flip(d):
    _flip(os.path.join(d, "state", "_METADATA"))


def _ocdbt_manifest_truncate(d):
    _truncate(os.path.join(d, "state", "manifest.ocdbt"))


def _delete_extra(d):
    shutil.rmtree(os.path.join(d, "extra"))


def _delete_state(d):
    shutil.rmtree(os.path.join(d, "state"))


def _delete_data_file(d):
    os.remove(_files(d, "state")[-1])


def _empty_dir(d):
    shutil.rmtree(d)
    os.mkdir(d)


DAMAGE = {
    "truncation: array data": _data_truncate,
    "truncation: ocdbt manifest": _ocdbt_manifest_truncate,
    "bit flip: array data": _data_flip,
    "bit flip: manifest (layout/metadata)": _layout_flip,
    "bit flip: orbax state/_METADATA": _orbax_metadata_flip,
    "changed value: extra/metadata": _extra_flip,
    "bad JSON: extra/metadata": _extra_bad_json,
    "deleted: extra/": _delete_extra,
    "deleted: state/": _delete_state,
    "deleted: array data file": _delete_data_file,
    "empty step dir": _empty_dir,
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damage_is_detected_named_and_fallen_back_from(tmp_path, kind):
    newest = _two_steps(tmp_path)
    DAMAGE[kind](newest)
    with pytest.warns(UserWarning, match="skipped 1 damaged") as record:
        state, extra = restore_checkpoint(tmp_path, _TARGET, with_extra=True)
    assert newest in str(record[0].message)
    assert extra == {"epoch": 1}
    np.testing.assert_array_equal(state["w"], _state(1)["w"])
    with pytest.raises(CheckpointCorruptError, match=newest):
        restore_checkpoint(tmp_path, _TARGET, step=2)


def test_every_checkpoint_damaged_raises_naming_each(tmp_path):
    _two_steps(tmp_path)
    _data_flip(str(tmp_path / "1"))
    _delete_extra(str(tmp_path / "2"))
    with pytest.raises(CheckpointCorruptError, match="no intact checkpoint") as exc:
        restore_checkpoint(tmp_path, _TARGET)
    assert str(tmp_path / "1") in str(exc.value) and "extra" in str(exc.value)


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
