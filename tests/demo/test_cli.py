"""Tests of ``jtoolkit/_src/demo/cli.py`` (``main``, ``parse_config``, ``run``).

Moved from test_train_cli.py when the tests were laid out to mirror the code; that
file's notes:

The demo: config parsing, datasets, metrics/plot files, resume, one real CLI run.
"""

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from jtoolkit._src.checkpoint.lock import release_writer_lock
from jtoolkit._src.demo.cli import main, parse_config, run
from tests.demo._harness import _quiet

_TIMING = ("samples_per_s", "time_s")


@pytest.fixture(autouse=True)
def _no_compile_cache(monkeypatch):
    """In-process runs must not switch on a persistent cache for the whole session."""
    monkeypatch.setenv("JTOOLKIT_COMPILATION_CACHE", "0")


def _strip(history):
    return [{k: v for k, v in r.items() if k not in _TIMING} for r in history]


def test_defaults_match_the_contract():
    config = parse_config([])
    assert (config.dataset, config.model, config.optimizer) == (
        "digits",
        "simple",
        "adam",
    )
    assert (config.batch_size, config.scheduler, config.val_split) == (64, "none", 0.2)
    assert config.lr is None and config.epochs == 15 and config.progress
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 3


@pytest.mark.parametrize(
    "argv",
    [
        ["--epochs", "-1"],
        ["--batch-size", "0"],
        ["--lr", "abc"],
        ["--optimizer", "lamb"],
        ["--scheduler", "cyclic"],
        ["--precision", "fp8"],
        ["--bogus"],
    ],
)
def test_bad_options_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_config(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("python -m jtoolkit.train: error:") and "\n" not in err


def test_usage_errors_are_one_line_exit_2(tmp_path, capsys):
    missing = str(tmp_path / "nothing")
    cases = [
        ["--resume"],
        ["--resume", "--checkpoint-dir", missing],
        ["--dataset", "mnist"],
        ["--dataset", "mnist", "--data-dir", missing],
        ["--data-dir", missing],
    ]
    for argv in cases:
        assert main([*argv, "--epochs", "1", "--no-progress"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("python -m jtoolkit.train: error:") and "\n" not in err
    os.makedirs(missing)
    assert main(["--resume", "--checkpoint-dir", missing, "--no-progress"]) == 2
    assert "no checkpoint in" in capsys.readouterr().err


def test_gpu_request_without_gpu_exits_2(capsys):
    import jax

    if any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("a GPU is present")
    assert main(["--device", "gpu", "--epochs", "1"]) == 2
    assert "no GPU found" in capsys.readouterr().err


def test_cpu_split_is_off_unless_asked_and_refuses_a_gpu(capsys):
    assert not parse_config([]).cpu_split
    assert parse_config(["--cpu-split"]).cpu_split
    assert not parse_config(["--cpu-split", "--no-cpu-split"]).cpu_split
    assert main(["--cpu-split", "--device", "gpu", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("--cpu-split splits over CPU cores: not with --device gpu")


def test_resume_equals_uninterrupted_with_metrics_and_plot(tmp_path):
    metrics = tmp_path / "m.jsonl"
    plot = tmp_path / "curves.png"
    base = dict(epochs=3, model="mlp", scheduler="plateau")
    straight = run(
        _quiet(**base, metrics_file=str(metrics), plot=str(plot)), log=lambda s: None
    )
    lines = [json.loads(x) for x in metrics.read_text().splitlines()]
    assert _strip(lines) == _strip(straight) and len(lines) == 3
    need = {"epoch", "train_loss", "val_loss", "val_accuracy", "lr", "samples_per_s"}
    assert need <= set(lines[0])
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ckpt = str(tmp_path / "ckpt")
    first = run(
        _quiet(**{**base, "epochs": 2}, checkpoint_dir=ckpt), log=lambda s: None
    )
    resumed = run(_quiet(**base, checkpoint_dir=ckpt, resume=True), log=lambda s: None)
    assert _strip(first) == _strip(straight[:2])
    assert _strip(resumed) == _strip(straight)
    assert straight[-1]["val_accuracy"] > 0.5


def test_cli_smoke_subprocess(tmp_path):
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("JTOOLKIT_COMPILATION_CACHE", None)
    metrics = tmp_path / "m.jsonl"
    cmd = [sys.executable, "-m", "jtoolkit.train", "--epochs", "2", "--no-progress"]
    out = subprocess.run(
        [*cmd, "--metrics-file", str(metrics)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "device cpu" in out.stdout and "done: 2 epochs" in out.stdout
    assert len(metrics.read_text().splitlines()) == 2
    assert os.listdir(tmp_path / "cache")  # the persistent compilation cache was used
    bad = subprocess.run(
        [*cmd, "--model", "resnet"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "invalid choice" in bad.stderr
    helped = subprocess.run([*cmd, "--help"], env=env, capture_output=True, text=True)
    assert helped.returncode == 0
    for option in ("--dataset", "--checkpoint-dir", "--metrics-file", "--precision"):
        assert option in helped.stdout


# Issue 22 (hardening):
# Every CLI input that reaches an error prints one line and exits 2 (issue 22's
# table in benchmarks/RESULTS.md "Reliability"), a full disk mid-run included.
_BASE = ["--dataset", "synthetic", "--no-progress", "--epochs", "1"]


def _one_line(capsys, *needles):
    out = capsys.readouterr()
    err = out.err.strip()
    assert err.startswith("python -m jtoolkit.train: error:"), out
    assert "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return out


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["--metrics-file", ""], ["--metrics-file", "not a file name"]),
        (["--metrics-file", "{d}/"], ["--metrics-file", "not a file name"]),
        (["--metrics-file", "{d}/link"], ["symbolic link"]),
        (["--plot", ""], ["--plot", "not a file name"]),
        (["--checkpoint-dir", ""], ["--checkpoint-dir", "not a directory name"]),
        (["--checkpoint-dir", "{d}/afile/sub"], ["cannot be created"]),
        (["--val-split", "0.9999"], ["0 of 2000 samples for training"]),
        (["--val-split", "0.0001"], ["0 for validation"]),
    ],
)
def test_bad_inputs_one_line_exit_2(tmp_path, capsys, argv, needles):
    (tmp_path / "afile").write_text("")
    os.symlink(tmp_path / "afile", tmp_path / "link")
    argv = [a.replace("{d}", str(tmp_path)) for a in argv]
    assert main([*_BASE, *argv]) == 2
    out = _one_line(capsys, *needles)
    assert "epoch 1/" not in out.out


def _mount(*args):
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def _fill(path):
    """Write zeros to ``path`` until the file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def test_disk_full_mid_run_then_resume(tmp_path, capsys):
    fs = tmp_path / "fs"
    fs.mkdir()
    if os.geteuid() != 0 or not _mount(
        "-t", "tmpfs", "-o", "size=7m", "tmpfs", str(fs)
    ):
        pytest.skip("needs root and permission to mount a tmpfs")
    ck, metrics = fs / "ck", fs / "m.jsonl"
    argv = ["--dataset", "synthetic", "--no-progress", "--checkpoint-dir", str(ck)]
    argv += ["--metrics-file", str(metrics)]
    try:
        # SimpleNN + Adam: ~2.8 MB a checkpoint; the third does not fit in 7 MB.
        assert main([*argv, "--epochs", "3"]) == 2
        _one_line(capsys, "step 3", "No space left on device", str(ck))
        assert sorted(os.listdir(ck))[:2] == ["1", "2"]
        filler = fs / "filler"
        _fill(filler)
        assert main([*argv, "--epochs", "3", "--resume"]) == 2
        _one_line(capsys, "No space left on device")
        filler.unlink()
        assert main([*argv, "--epochs", "2", "--resume"]) == 0  # step 2 intact
        assert "already complete at epoch 2" in capsys.readouterr().out
    finally:
        release_writer_lock(str(ck))
        if subprocess.run(["umount", str(fs)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(fs)], capture_output=True)
