"""One writer per checkpoint directory, tested with two real processes."""

import os
import socket
import subprocess
import sys

import jax.numpy as jnp
import pytest

from jtoolkit._src.checkpoint import steps
from jtoolkit._src.checkpoint.lock import LOCK, release_writer_lock
from jtoolkit._src.demo.cli import main
from jtoolkit.checkpoint import (
    CheckpointLockedError,
    CheckpointWriteError,
    all_steps,
    prune_checkpoints,
    save_checkpoint,
)

_HOLDER = """
import sys, time
import jax.numpy as jnp
from jtoolkit.checkpoint import save_checkpoint
save_checkpoint(sys.argv[1], {"w": jnp.ones(2)}, 1)
print("saved", flush=True)
sys.stdin.read()  # hold the lock until the test closes stdin
"""


@pytest.fixture
def holder(tmp_path):
    """Another live process that has saved into ``tmp_path/ck`` (and holds it)."""
    d = tmp_path / "ck"
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(d)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout.readline().strip() == "saved"
    yield d, proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    proc.stdin.close()
    proc.stdout.close()


def test_second_writer_gets_one_clear_error(holder):
    d, proc = holder
    in_progress = d / ("2" + steps.NEW)  # the holder's unfinished next save
    in_progress.mkdir()
    (in_progress / "part").write_bytes(b"x")
    with pytest.raises(CheckpointLockedError) as err:
        save_checkpoint(d, {"w": jnp.zeros(2)}, 2)
    msg = str(err.value)
    assert f"pid {proc.pid}" in msg and socket.gethostname() in msg, msg
    assert isinstance(err.value, CheckpointWriteError | OSError)
    with pytest.raises(CheckpointLockedError):
        prune_checkpoints(d, 1)
    assert in_progress.is_dir()  # the tidy-up did not touch the holder's files
    assert all_steps(d) == [1]


def test_lock_is_released_when_the_holder_dies(holder):
    d, proc = holder
    (d / ("2" + steps.NEW)).mkdir()
    proc.kill()
    proc.wait()
    save_checkpoint(d, {"w": jnp.zeros(2)}, 3)
    assert all_steps(d) == [1, 3]
    assert not (d / ("2" + steps.NEW)).exists()  # a dead writer's leftovers go
    with open(d / LOCK) as f:
        assert f.read().split()[0] == str(os.getpid())
    release_writer_lock(str(d))


def test_cli_second_run_exits_2_naming_the_holder(holder, capsys, monkeypatch):
    monkeypatch.setenv("JTOOLKIT_COMPILATION_CACHE", "0")
    d, proc = holder
    argv = ["--dataset", "synthetic", "--no-progress", "--epochs", "1"]
    assert main([*argv, "--checkpoint-dir", str(d)]) == 2
    out = capsys.readouterr()
    err = out.err.strip()
    assert "\n" not in err and f"pid {proc.pid}" in err and "in use" in err, err
    assert "epoch 1/" not in out.out  # before any training
    assert all_steps(d) == [1]
