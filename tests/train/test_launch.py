"""``python -m jtoolkit.launch``: two real local processes over ``jax.distributed``.

Each process has 2 fake CPU devices, so the 2-process run trains data-parallel on 4
devices with gloo collectives; its metrics equal a single-process run on the same
global batches.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import psutil
import pytest

from jtoolkit.launch import worker_env
from tests.train._harness import same_numbers_fit

pytestmark = pytest.mark.slow


def _env(devices: int) -> dict:
    return {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "JAX_PLATFORMS": "cpu",
    }


def _train_args(metrics, *extra):
    return ["--epochs", "2", "--no-progress", "--metrics-file", str(metrics), *extra]


def _metrics(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _run(cmd, devices, timeout=240):
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=_env(devices)
    )
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-4000:])
    return result


def test_two_processes_equal_one_process(tmp_path):
    two, one = tmp_path / "two.jsonl", tmp_path / "one.jsonl"
    launch = [sys.executable, "-m", "jtoolkit.launch", "--nproc", "2"]
    out = _run(
        [*launch, "-m", "jtoolkit.train", *_train_args(two, "--data-parallel")], 2
    )
    assert "4 device(s) in 2 processes" in out.stdout, out.stdout
    assert out.stdout.count("done:") == 1  # only process 0 prints
    _run([sys.executable, "-m", "jtoolkit.train", *_train_args(one)], 1)
    a, b = _metrics(two), _metrics(one)
    assert [r["epoch"] for r in a] == [1, 2]  # one writer: no duplicate lines
    for ra, rb in zip(a, b, strict=True):
        for key in ("train_loss", "val_loss", "val_accuracy"):
            assert ra[key] == pytest.approx(rb[key], rel=1e-4), key


def _wait_for_file_source(path, code: int) -> str:
    """Script lines that wait (polling, 200 s at most) until ``path`` exists, else
    exit with ``code``: processes wait on each other's events, not on the clock."""
    return (
        "import pathlib, time\n"
        f"_deadline = time.monotonic() + {_EVENT_WAIT_S}\n"
        f"while not pathlib.Path({str(path)!r}).exists():\n"
        "    if time.monotonic() > _deadline:\n"
        f"        sys.exit({code})\n"
        "    time.sleep(0.05)\n"
    )


# How long a process of these scripts waits for another's event before giving up:
# generous (a loaded machine), and below pytest's 300 s so a hang fails clearly.
_EVENT_WAIT_S = 200


def test_a_dying_process_stops_the_launch_naming_it(tmp_path):
    """Process 1 dies while process 0 would run for an hour: the launcher stops
    process 0 (its pid is gone when the launcher returns) and reports code 3."""
    pid_file = tmp_path / "pid0"
    script = tmp_path / "die.py"
    script.write_text(
        "import os, sys, time\n"
        "if os.environ['JAX_PROCESS_ID'] == '1':\n"
        + textwrap.indent(_wait_for_file_source(pid_file, 4), "    ")
        + "    sys.exit(3)\n"
        f"tmp = {str(tmp_path / 'pid0.tmp')!r}\n"
        "open(tmp, 'w').write(str(os.getpid()))\n"
        f"os.replace(tmp, {str(pid_file)!r})\n"
        "time.sleep(3600)  # only the launcher's stop ends this process\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "jtoolkit.launch", "--nproc", "2", str(script)],
        capture_output=True,
        text=True,
        timeout=_EVENT_WAIT_S + 60,
    )
    assert result.returncode == 3, result.stderr[-3000:]
    assert "process 1" in result.stderr and "code 3" in result.stderr
    assert not psutil.pid_exists(int(pid_file.read_text()))


def test_worker_env_and_bad_arguments():
    env = worker_env(0, 3, "127.0.0.1:9", base={"KEEP": "1"})
    assert env["JAX_COORDINATOR_ADDRESS"] == "127.0.0.1:9" and env["KEEP"] == "1"
    assert env["WORLD_SIZE"] == "3" and env["JAX_PROCESS_ID"] == "0"
    bad = subprocess.run(
        [sys.executable, "-m", "jtoolkit.launch", "--nproc", "0", "x.py"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "--nproc" in bad.stderr


def _cli(metrics, ckpt, epochs, *extra, nproc=1, devices=1):
    args = ["--epochs", str(epochs), "--no-progress", "--metrics-file", str(metrics)]
    args += ["--checkpoint-dir", str(ckpt), *extra]
    if nproc == 1:
        cmd = [sys.executable, "-m", "jtoolkit.train", *args]
    else:
        cmd = [sys.executable, "-m", "jtoolkit.launch", "--nproc", str(nproc)]
        cmd += ["-m", "jtoolkit.train", *args, "--data-parallel"]
    return _run(cmd, devices)


@pytest.mark.parametrize(("first", "second"), [(2, 1), (1, 2)])
def test_checkpoints_move_between_process_counts(tmp_path, first, second):
    """Saved by N processes (2 devices each), resumed by M: the end is the same."""
    moved, straight = tmp_path / "moved.jsonl", tmp_path / "straight.jsonl"
    ckpt = tmp_path / "ckpt"
    _cli(moved, ckpt, 2, nproc=first, devices=2 if first > 1 else 1)
    _cli(moved, ckpt, 3, "--resume", nproc=second, devices=2 if second > 1 else 1)
    plain = [sys.executable, "-m", "jtoolkit.train", *_train_args(straight)[2:]]
    _run([*plain, "--epochs", "3"], 1)
    a, b = _metrics(moved), _metrics(straight)
    assert [r["epoch"] for r in a] == [1, 2, 3]
    for ra, rb in zip(a, b, strict=True):
        assert ra["train_loss"] == pytest.approx(rb["train_loss"], rel=1e-4)
        assert ra["val_accuracy"] == pytest.approx(rb["val_accuracy"], rel=1e-4)


def test_saving_from_one_process_only_fails_fast_with_a_clear_error(tmp_path):
    """A save_checkpoint called by one process of two raises CollectiveCallError
    after the barrier's timeout (4 s here) instead of hanging."""
    caught = tmp_path / "caught"
    # Process 1 never saves, and stays alive until process 0 has its answer: only
    # the barrier's timeout can end process 0's save_checkpoint.
    script = tmp_path / "rank0_save.py"
    script.write_text(
        "import os, sys, time\n"
        "import jax.numpy as jnp\n"
        "from jtoolkit.train import initialize_distributed, save_checkpoint\n"
        "from jtoolkit.checkpoint import CollectiveCallError\n"
        "initialize_distributed()\n"
        "state = {'w': jnp.ones(2)}  # every process starts its backend (collective)\n"
        "if os.environ['JAX_PROCESS_ID'] == '0':\n"
        "    try:\n"
        f"        save_checkpoint({str(tmp_path / 'c')!r}, state, 1)\n"
        "    except CollectiveCallError as err:\n"
        "        print('caught:', err, flush=True)\n"
        "        sys.exit(0)\n"
        "    finally:\n"
        f"        open({str(caught)!r}, 'w').close()\n"
        "    sys.exit(5)\n" + _wait_for_file_source(caught, 6)
    )
    env = {**_env(1), "JTOOLKIT_BARRIER_TIMEOUT_S": "4"}
    result = subprocess.run(
        [sys.executable, "-m", "jtoolkit.launch", "--nproc", "2", str(script)],
        capture_output=True,
        text=True,
        timeout=_EVENT_WAIT_S + 60,
        env=env,
    )
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    assert "caught: save_checkpoint" in result.stdout
    assert "every process must call save_checkpoint" in result.stdout


@functools.cache
def _one_process_numbers():
    return same_numbers_fit()


@pytest.mark.parametrize("nproc", [2, 3, 4])
def test_same_numbers_at_any_process_count(tmp_path, nproc):
    """1001 rows (not a multiple of 2, 3 or 4): the DistributedSampler's padding
    copies are masked and validation is sharded, so 2-4 processes train and
    evaluate exactly the one-process numbers, each sample once per epoch."""
    root = pathlib.Path(__file__).resolve().parents[2]
    script = tmp_path / "same.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(root)!r})\n"
        "from jtoolkit.train import initialize_distributed\n"
        "initialize_distributed()\n"
        "from tests.train._harness import same_numbers_fit\n"
        f"same_numbers_fit({str(tmp_path)!r})\n"
    )
    _run(
        [sys.executable, "-m", "jtoolkit.launch", "--nproc", str(nproc), str(script)], 1
    )
    one = _one_process_numbers()
    results = [json.loads((tmp_path / f"{r}.json").read_text()) for r in range(nproc)]
    seen = sorted(i for r in results for i in r["seen"])
    assert seen == list(range(1001)) == sorted(one["seen"])
    for r in results:
        (got,), (want,) = r["history"], one["history"]
        for key in ("train_loss", "val_loss"):
            assert got[key] == pytest.approx(want[key], rel=1e-6), key
