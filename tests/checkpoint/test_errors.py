"""File-system failures: an OSError naming operation and path, nothing lost.

A full disk and a read-only file system are real ones (a small tmpfs, a read-only
bind mount: root only, skipped otherwise); the previous step stays the latest and
restores, and orbax's own log lines are not printed.
"""

import contextlib
import errno
import os
import shutil
import subprocess

import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit._src.checkpoint.lock import release_writer_lock
from jtoolkit.checkpoint import (
    CheckpointWriteError,
    all_steps,
    latest_step,
    restore_checkpoint,
    save_checkpoint,
)


def _mount(*args):
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@contextlib.contextmanager
def mounted(path, *args):
    """``mount *args path`` for the block; skips the test where not permitted."""
    path.mkdir(exist_ok=True)
    if os.geteuid() != 0 or not _mount(*args, str(path)):
        pytest.skip("needs root and permission to mount (tmpfs, bind)")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _random(n, seed=0):
    return jnp.asarray(np.random.default_rng(seed).random(n, np.float32))


def test_disk_full(tmp_path, capfd):
    with mounted(tmp_path / "fs", "-t", "tmpfs", "-o", "size=700k", "tmpfs") as fs:
        ck = fs / "ck"
        try:
            save_checkpoint(ck, {"w": _random(1000)}, 1)
            capfd.readouterr()
            with pytest.raises(CheckpointWriteError) as err:
                save_checkpoint(
                    ck, {"w": _random(1000, 1)}, 2, extra={"x": "y" * 2**20}
                )
            assert isinstance(err.value, OSError) and err.value.errno == errno.ENOSPC
            msg = str(err.value)
            assert "save_checkpoint: writing step 2" in msg and str(ck) in msg, msg
            assert "No space left on device" in msg and "\n" not in msg, msg
            out = capfd.readouterr()
            assert out.err == "" and out.out == "", out  # no orbax ERROR lines
            assert all_steps(ck) == [1]
            assert sorted(os.listdir(ck)) == ["1", "jtoolkit-writer.lock"]
            got = restore_checkpoint(ck, {"w": jnp.zeros(1000)})
            np.testing.assert_array_equal(got["w"], _random(1000))
            with pytest.raises(CheckpointWriteError, match="No space left"):
                save_checkpoint(ck, {"w": _random(200_000, 2)}, 2)  # arrays too big
            assert latest_step(ck) == 1
            save_checkpoint(ck, {"w": _random(1000, 3)}, 2)  # space enough again
            assert all_steps(ck) == [1, 2]
        finally:
            release_writer_lock(str(ck))


def test_read_only_file_system_mid_run(tmp_path):
    ck = tmp_path / "ck"
    save_checkpoint(ck, {"w": _random(100)}, 1)  # holds the lock, as a run does
    with mounted(ck, "--bind", str(ck)):
        if not _mount("-o", "remount,bind,ro", str(ck)):
            pytest.skip("cannot remount read-only")
        with pytest.raises(CheckpointWriteError) as err:
            save_checkpoint(ck, {"w": _random(100, 1)}, 2)
        assert err.value.errno == errno.EROFS and str(ck) in str(err.value)
        assert "Read-only file system" in str(err.value)
        assert all_steps(ck) == [1]
    save_checkpoint(ck, {"w": _random(100, 1)}, 2)
    assert all_steps(ck) == [1, 2]


def test_no_permission(tmp_path, monkeypatch):
    ck = tmp_path / "ck"
    save_checkpoint(ck, {"w": _random(10)}, 1)
    real = os.makedirs

    def denied(path, *args, **kwargs):
        if "2.jtoolkit-new" in str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "makedirs", denied)
    with pytest.raises(CheckpointWriteError) as err:
        save_checkpoint(ck, {"w": _random(10, 1)}, 2)
    assert err.value.errno == errno.EACCES and "step 2" in str(err.value)
    monkeypatch.undo()
    assert all_steps(ck) == [1]


def test_vanished_directory(tmp_path):
    ck = tmp_path / "ck"
    save_checkpoint(ck, {"w": _random(10)}, 1)
    shutil.rmtree(ck)
    with pytest.raises(CheckpointWriteError) as err:
        save_checkpoint(ck, {"w": _random(10, 1)}, 2)
    assert err.value.errno == errno.ENOENT and str(ck) in str(err.value)
    assert "removed while this process was writing" in str(err.value)
    assert not ck.exists()  # not silently recreated as a fresh run
    save_checkpoint(ck, {"w": _random(10, 1)}, 2)  # a deliberate new start works
    assert all_steps(ck) == [2]
