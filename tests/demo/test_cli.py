"""Every CLI input that reaches an error prints one line and exits 2 (issue 22's
table in benchmarks/RESULTS.md "Reliability"), a full disk mid-run included."""

import os
import subprocess

import pytest

from jtoolkit._src.checkpoint.lock import release_writer_lock
from jtoolkit._src.demo.cli import main

_BASE = ["--dataset", "synthetic", "--no-progress", "--epochs", "1"]


@pytest.fixture(autouse=True)
def _no_compile_cache(monkeypatch):
    monkeypatch.setenv("JTOOLKIT_COMPILATION_CACHE", "0")


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
