"""A preemption loop: one fixed command line, ``--resume auto``, SIGKILLed ten times
at random moments (before the first checkpoint, inside saves, between them),
restarted each time, ends with the metrics of an uninterrupted run."""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest

_TIMING = ("samples_per_s", "time_s")


def _cmd(tmp_path, name):
    args = [sys.executable, "-m", "jtoolkit.train", "--no-progress", "--epochs", "3"]
    args += ["--batch-size", "128", "--steps-per-execution", "2", "--model", "mlp"]
    args += ["--checkpoint-dir", str(tmp_path / name), "--resume", "auto"]
    args += ["--checkpoint-every-steps", "5"]
    return [*args, "--metrics-file", str(tmp_path / f"{name}.jsonl")]


def _metrics(path):
    lines = path.read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if k not in _TIMING} for x in lines]


def _final(stdout):
    return re.search(r"final (.*) \(best", stdout).group(1)


@pytest.mark.slow
def test_ten_sigkills_with_resume_auto_end_like_an_uninterrupted_run(tmp_path):
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("JTOOLKIT_COMPILATION_CACHE", None)
    env["PYTHONPATH"] = os.getcwd() + os.pathsep + env.get("PYTHONPATH", "")
    start = time.perf_counter()
    straight = subprocess.run(
        _cmd(tmp_path, "straight"), env=env, capture_output=True, text=True
    )
    assert straight.returncode == 0, straight.stderr
    total = time.perf_counter() - start
    rng, kills = random.Random(19), 0
    while kills < 10:
        proc = subprocess.Popen(
            _cmd(tmp_path, "killed"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            proc.wait(timeout=rng.uniform(0.2, 0.6) * total)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        err = proc.communicate()[1].decode()
        assert proc.returncode in (0, -signal.SIGKILL), err
        if proc.returncode == 0:
            break
    assert kills >= 8, kills
    done = subprocess.run(
        _cmd(tmp_path, "killed"), env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert _metrics(tmp_path / "killed.jsonl") == _metrics(tmp_path / "straight.jsonl")
    assert len(_metrics(tmp_path / "killed.jsonl")) == 3
    if "nothing to do" not in done.stdout:
        assert _final(done.stdout) == _final(straight.stdout)
