"""A CLI run SIGKILLed at random moments, resumed each time, ends as if never killed.

Kills land, through a hook in the child process, at a seeded random train-step call
(anywhere in the next two epochs: no wall-clock estimate, so a loaded machine
cannot make a kill miss), inside checkpoint writes (orbax's files written, not yet
renamed) and inside retention (an old step renamed to trash, not yet deleted).
"""

import json
import os
import random
import re
import signal
import subprocess
import sys

import pytest

from jtoolkit.checkpoint import all_steps

_HOOK = r"""
import os, runpy, signal, sys
mode, nth = sys.argv[1], int(sys.argv[2])
del sys.argv[1:3]
calls = [0]

def die_on(owner, name):
    original = getattr(owner, name)

    def hooked(*args, **kwargs):
        calls[0] += 1
        if calls[0] == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(owner, name, hooked)

if mode == "in-save":
    from orbax.checkpoint._src.path import atomicity
    die_on(atomicity.AtomicRenameTemporaryPath, "finalize")
elif mode in ("in-step", "count"):
    from jtoolkit._src.train.step import TrainStep
    die_on(TrainStep, "__call__")
    if mode == "count":
        import atexit
        atexit.register(lambda: print(f"step calls: {calls[0]}", flush=True))
elif mode == "in-prune":
    import shutil
    die_on(shutil, "rmtree")
runpy.run_module("jtoolkit.train", run_name="__main__", alter_sys=True)
"""

_TIMING = ("samples_per_s", "time_s")
EPOCHS = 8


def _cmd(tmp_path, name, mode="none", nth=0, resume=False):
    args = [sys.executable, "-c", _HOOK, mode, str(nth), "--no-progress"]
    args += ["--epochs", str(EPOCHS), "--model", "mlp", "--scheduler", "plateau"]
    args += ["--checkpoint-dir", str(tmp_path / name)]
    args += ["--metrics-file", str(tmp_path / f"{name}.jsonl")]
    return args + (["--resume"] if resume else [])


def _metrics(path):
    lines = path.read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if k not in _TIMING} for x in lines]


def _run(args, env):
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_equals_uninterrupted(tmp_path):
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("JTOOLKIT_COMPILATION_CACHE", None)
    out = _run(_cmd(tmp_path, "straight", "count"), env)
    # train-step calls per epoch (one call may run several optimizer steps)
    steps = int(re.search(r"step calls: (\d+)", out).group(1)) // EPOCHS
    rng = random.Random(14)
    modes = ["in-save", "in-step", "in-prune", "in-step", "in-save", "in-step"]
    kills = []
    for mode in modes:
        done = all_steps(tmp_path / "killed")
        left = EPOCHS - (done[-1] if done else 0)
        if left < 2:
            break
        # in-step: a random step call in the next two epochs; else the 1st/2nd hit
        nth = rng.randint(1, 2 * steps) if mode == "in-step" else rng.randint(1, 2)
        proc = subprocess.Popen(
            _cmd(tmp_path, "killed", mode, nth, bool(done)),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        err = proc.communicate()[1].decode()
        assert proc.returncode in (0, -signal.SIGKILL), err
        kills.append((mode, proc.returncode == -signal.SIGKILL))
    print("kills (mode, killed):", kills)
    assert sum(killed for _, killed in kills) >= 5, kills
    _run(_cmd(tmp_path, "killed", resume=True), env)
    assert _metrics(tmp_path / "killed.jsonl") == _metrics(tmp_path / "straight.jsonl")
    assert len(_metrics(tmp_path / "killed.jsonl")) == EPOCHS
    assert all_steps(tmp_path / "killed") == [EPOCHS - 2, EPOCHS - 1, EPOCHS]
