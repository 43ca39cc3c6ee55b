"""A preemption loop: one fixed CLI command line (``--resume auto``) SIGKILLed at
seeded random moments and restarted each time ends as if never killed (the metrics
and the retained checkpoints of an uninterrupted run).

Kills land, through a hook in the child process, at a seeded random train-step call
(the first before any checkpoint exists; the others anywhere in the next two
epochs: no wall-clock estimate, so a loaded machine cannot make a kill miss),
inside checkpoint writes (orbax's files written, not yet renamed) and inside
retention (an old step renamed to trash, not yet deleted). Mid-epoch checkpoints
(``--checkpoint-every-steps``), several steps per call and the plateau scheduler's
state all cross the kills.

(This one test replaced two: explicit ``--resume`` with hook kills, and ``--resume
auto`` with ten wall-clock kills; both proved "resumed equals uninterrupted".)
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
EPOCHS = 4


def _cmd(tmp_path, name, mode="none", nth=0):
    args = [sys.executable, "-c", _HOOK, mode, str(nth), "--no-progress"]
    args += ["--epochs", str(EPOCHS), "--model", "mlp", "--scheduler", "plateau"]
    args += ["--steps-per-execution", "2", "--checkpoint-every-steps", "5"]
    args += ["--checkpoint-dir", str(tmp_path / name), "--resume", "auto"]
    return [*args, "--metrics-file", str(tmp_path / f"{name}.jsonl")]


def _metrics(path):
    lines = path.read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if k not in _TIMING} for x in lines]


def _run(args, env):
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_auto_equals_uninterrupted(tmp_path):
    # Its own compilation cache: a SIGKILL may land while an entry is written.
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "cache")}
    env["JTOOLKIT_COMPILATION_CACHE"] = "1"
    out = _run(_cmd(tmp_path, "straight", "count"), env)
    # train-step calls per epoch (one call runs several optimizer steps)
    steps = int(re.search(r"step calls: (\d+)", out).group(1)) // EPOCHS
    rng = random.Random(14)
    modes = ["in-step", "in-save", "in-step", "in-prune", "in-save", "in-step"]
    kills = []
    for i, mode in enumerate(modes):
        if i == 0:  # before the first checkpoint: --resume auto starts fresh
            nth = 1
        elif mode == "in-step":  # a random step call in the next two epochs
            nth = rng.randint(1, 2 * steps)
        else:  # the first or second save / prune of this run
            nth = rng.randint(1, 2)
        proc = subprocess.Popen(
            _cmd(tmp_path, "killed", mode, nth),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        err = proc.communicate()[1].decode()
        assert proc.returncode in (0, -signal.SIGKILL), err
        kills.append((mode, proc.returncode == -signal.SIGKILL))
        if i == 0:
            assert not all_steps(tmp_path / "killed"), "killed before any save"
        if proc.returncode == 0:
            break
    print("kills (mode, killed):", kills)
    assert sum(killed for _, killed in kills) >= 5, kills
    _run(_cmd(tmp_path, "killed"), env)  # the same command line once more
    assert _metrics(tmp_path / "killed.jsonl") == _metrics(tmp_path / "straight.jsonl")
    assert len(_metrics(tmp_path / "killed.jsonl")) == EPOCHS
    assert all_steps(tmp_path / "killed") == all_steps(tmp_path / "straight")
