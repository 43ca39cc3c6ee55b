"""A hostile checkpoint directory: nothing outside it is read or written.

Every attempt (a manifest entry with ``..`` or an absolute path, a symlinked step
directory or ``<N>.jtoolkit-new``, a listed file or folder replaced by a symlink,
symlinks planted at the names a save writes to) fails closed with a message naming
the path, and an audit hook proves that the sentinel file outside the directory
is never opened. ``$JTOOLKIT_CHECKPOINT_KEY`` adds an HMAC that a re-signed
manifest cannot forge.
"""

import json
import os
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


def _state(v):
    return {"w": jnp.full((4, 3), float(v))}


_TARGET = {"w": jnp.zeros((4, 3))}


def _ckpt(tmp_path):
    d = tmp_path / "ck"
    for s in (1, 2):
        save_checkpoint(d, _state(s), s)
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
        restore_checkpoint(d, _TARGET, step=2)
    for needle in needles:
        assert needle in str(err.value), err.value
    with pytest.warns(UserWarning, match="skipped 1 damaged"):
        got = restore_checkpoint(d, _TARGET)
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
    save_checkpoint(other, _state(9), 1)
    os.symlink(other / "1", d / "3")
    os.symlink(other / "1", d / "4.jtoolkit-new")
    with pytest.warns(UserWarning, match="symbolic link"):
        assert all_steps(d) == [1, 2]
    with pytest.warns(UserWarning, match="symbolic link"):
        got = restore_checkpoint(d, _TARGET)
    np.testing.assert_array_equal(got["w"], np.full((4, 3), 2.0))
    with pytest.raises(CheckpointCorruptError, match="symbolic link"):
        steps_dir = str(d / "3")
        from jtoolkit._src.checkpoint.store import _restore_step

        _restore_step(steps_dir, _TARGET, False)


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
    save_checkpoint(d, _state(3), 3)
    assert _listing(outside) == before
    assert not os.path.islink(d / "3")
    assert latest_step(d) == 3
    got = restore_checkpoint(d, _TARGET)
    np.testing.assert_array_equal(got["w"], np.full((4, 3), 3.0))


def test_keyed_checksum(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "k1")
    d = _ckpt(tmp_path)
    np.testing.assert_array_equal(
        restore_checkpoint(d, _TARGET)["w"], np.full((4, 3), 2.0)
    )
    # A writer without the key re-signs a changed file list: the MAC catches it.
    _resign(d / "2", lambda files: None)
    with pytest.raises(CheckpointCorruptError, match="no keyed checksum"):
        restore_checkpoint(d, _TARGET, step=2)
    monkeypatch.setenv(KEY_ENV, "k2")
    with pytest.raises(CheckpointCorruptError, match="fails its keyed checksum"):
        restore_checkpoint(d, _TARGET, step=1)
    monkeypatch.delenv(KEY_ENV)
    assert restore_checkpoint(d, _TARGET, step=1)["w"][0, 0] == 1.0  # no key: sums
    save_checkpoint(d, _state(3), 3)
    monkeypatch.setenv(KEY_ENV, "k1")
    with pytest.raises(CheckpointCorruptError, match="no keyed checksum"):
        restore_checkpoint(d, _TARGET, step=3)
