"""Tests of ``jtoolkit/_src/checkpoint/integrity.py`` (``CheckpointCorruptError``).

Moved from test_checkpoint_integrity.py when the tests were laid out to mirror the code;
that file's notes:

Damaged checkpoints are detected, named and fallen back from; rewrites are safe.
"""

import json
import os
import pathlib
import shutil
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit._src.checkpoint import steps
from jtoolkit._src.checkpoint.integrity import FILES, KEY_ENV, json_digest
from jtoolkit.checkpoint import (
    CheckpointCorruptError,
    all_steps,
    latest_step,
    restore_checkpoint,
    save_checkpoint,
)
from tests.checkpoint._harness import _TARGET, _state


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


# Issue 22 (hardening):
# A hostile checkpoint directory: nothing outside it is read or written.
#
# Every attempt (a manifest entry with ``..`` or an absolute path, a symlinked step
# directory or ``<N>.jtoolkit-new``, a listed file or folder replaced by a symlink,
# symlinks planted at the names a save writes to) fails closed with a message naming
# the path, and an audit hook proves that the sentinel file outside the directory
# is never opened. ``$JTOOLKIT_CHECKPOINT_KEY`` adds an HMAC that a re-signed
# manifest cannot forge.
_OPENED: list[str] = []
_WATCHED: set[str] = set()


def _hook(event, args):
    if event == "open" and args and isinstance(args[0], str | bytes):
        path = os.fsdecode(args[0])
        if os.path.realpath(path) in _WATCHED:
            _OPENED.append(path)


sys.addaudithook(_hook)


@pytest.fixture
def sentinel(tmp_path):
    """A secret file outside the checkpoint directory; fails the test if opened."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret"
    secret.write_bytes(b"do not read me\n" * 10)
    _WATCHED.add(os.path.realpath(secret))
    _OPENED.clear()
    yield secret
    _WATCHED.discard(os.path.realpath(secret))
    _WATCHED.discard(os.path.realpath(secret))
    assert _OPENED == [], f"the sentinel outside the directory was opened: {_OPENED}"
    assert secret.read_bytes() == b"do not read me\n" * 10


def _small_state(v):
    return {"w": jnp.full((4, 3), float(v))}


_SMALL = {"w": jnp.zeros((4, 3))}


def _ckpt(tmp_path):
    d = tmp_path / "ck"
    for s in (1, 2):
        save_checkpoint(d, _small_state(s), s)
    return d


def _resign(step_dir, edit):
    """Edit ``jtoolkit-files.json`` and recompute its (unkeyed) checksum, as an
    attacker with write access can."""
    path = os.path.join(step_dir, FILES)
    with open(path) as f:
        record = json.load(f)
    edit(record["files"])
    body = {"files": record["files"]}
    with open(path, "w") as f:
        json.dump({**body, "sha256": json_digest(body)}, f)


def _biggest(step_dir):
    files = []
    for root, _, names in os.walk(step_dir):
        files += [os.path.join(root, n) for n in names if n != FILES]
    return max(files, key=os.path.getsize)


def _restores_step_1(d, *needles):
    with pytest.raises(CheckpointCorruptError) as err:
        restore_checkpoint(d, _SMALL, step=2)
    for needle in needles:
        assert needle in str(err.value), err.value
    with pytest.warns(UserWarning, match="skipped 1 damaged"):
        got = restore_checkpoint(d, _SMALL)
    np.testing.assert_array_equal(got["w"], np.ones((4, 3)))
    return str(err.value)


def test_manifest_with_parent_path_is_not_read(tmp_path, sentinel):
    d = _ckpt(tmp_path)
    rel = os.path.relpath(sentinel, d / "2")
    assert rel.startswith("..")
    size = os.path.getsize(sentinel)
    _resign(d / "2", lambda files: files.update({rel: [size, "0" * 64]}))
    msg = _restores_step_1(d, "unsafe path", rel)
    assert f"{size} bytes" not in msg  # nothing about the outside file leaks


def test_manifest_with_absolute_path_is_not_read(tmp_path, sentinel):
    d = _ckpt(tmp_path)
    _resign(d / "2", lambda files: files.update({str(sentinel): [1, "0" * 64]}))
    _restores_step_1(d, "unsafe path", str(sentinel))


def test_listed_file_replaced_by_symlink_is_not_read(tmp_path, sentinel):
    d = _ckpt(tmp_path)
    victim = _biggest(d / "2")
    _WATCHED.discard(os.path.realpath(sentinel))
    original = sentinel.read_bytes()
    shutil.copyfile(victim, sentinel)  # same bytes: only the symlink is wrong
    _WATCHED.add(os.path.realpath(sentinel))
    os.unlink(victim)
    os.symlink(sentinel, victim)
    _restores_step_1(d, "symbolic link", victim)
    _WATCHED.discard(os.path.realpath(sentinel))
    sentinel.write_bytes(original)  # for the fixture's check


def test_listed_folder_replaced_by_symlink_is_not_read(tmp_path, sentinel):
    d = _ckpt(tmp_path)
    copy = sentinel.parent / "state-copy"
    shutil.copytree(d / "2" / "state", copy)
    shutil.rmtree(d / "2" / "state")
    os.symlink(copy, d / "2" / "state")
    _restores_step_1(d, "symbolic link", "state")


def test_unlisted_file_is_damage(tmp_path):
    d = _ckpt(tmp_path)
    (d / "2" / "state" / "planted").write_bytes(b"x")
    _restores_step_1(d, "planted", "not in")


def test_symlinked_step_directories_are_ignored(tmp_path, sentinel):
    d = _ckpt(tmp_path)
    other = tmp_path / "other"
    save_checkpoint(other, _small_state(9), 1)
    os.symlink(other / "1", d / "3")
    os.symlink(other / "1", d / "4.jtoolkit-new")
    with pytest.warns(UserWarning, match="symbolic link"):
        assert all_steps(d) == [1, 2]
    with pytest.warns(UserWarning, match="symbolic link"):
        got = restore_checkpoint(d, _SMALL)
    np.testing.assert_array_equal(got["w"], np.full((4, 3), 2.0))
    with pytest.raises(CheckpointCorruptError, match="symbolic link"):
        steps_dir = str(d / "3")
        from jtoolkit._src.checkpoint.store import _restore_step

        _restore_step(steps_dir, _SMALL, False)


def _listing(path):
    return sorted(
        (os.path.relpath(os.path.join(r, n), path), os.path.getsize(os.path.join(r, n)))
        for r, _, names in os.walk(path)
        for n in names
    )


@pytest.mark.parametrize(
    "planted",
    ["3", "3" + steps.NEW, "3" + steps.OLD, "3.jtoolkit-new.orbax-checkpoint-tmp"],
)
def test_symlinks_planted_at_written_names_are_not_followed(
    tmp_path, sentinel, planted
):
    d = _ckpt(tmp_path)
    outside = sentinel.parent
    before = _listing(outside)
    os.symlink(outside, d / planted)
    save_checkpoint(d, _small_state(3), 3)
    assert _listing(outside) == before
    assert not os.path.islink(d / "3")
    assert latest_step(d) == 3
    got = restore_checkpoint(d, _SMALL)
    np.testing.assert_array_equal(got["w"], np.full((4, 3), 3.0))


def test_keyed_checksum(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "k1")
    d = _ckpt(tmp_path)
    np.testing.assert_array_equal(
        restore_checkpoint(d, _SMALL)["w"], np.full((4, 3), 2.0)
    )
    # A writer without the key re-signs a changed file list: the MAC catches it.
    _resign(d / "2", lambda files: None)
    with pytest.raises(CheckpointCorruptError, match="no keyed checksum"):
        restore_checkpoint(d, _SMALL, step=2)
    monkeypatch.setenv(KEY_ENV, "k2")
    with pytest.raises(CheckpointCorruptError, match="fails its keyed checksum"):
        restore_checkpoint(d, _SMALL, step=1)
    monkeypatch.delenv(KEY_ENV)
    assert restore_checkpoint(d, _SMALL, step=1)["w"][0, 0] == 1.0  # no key: sums
    save_checkpoint(d, _small_state(3), 3)
    monkeypatch.setenv(KEY_ENV, "k1")
    with pytest.raises(CheckpointCorruptError, match="no keyed checksum"):
        restore_checkpoint(d, _SMALL, step=3)
