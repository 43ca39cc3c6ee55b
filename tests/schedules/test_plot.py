"""Tests of ``jtoolkit/_src/schedules/plot.py`` (``main``, ``plot_schedule``).

Moved from test_schedules.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.schedules against torch.optim.lr_scheduler (the real classes, stepped).

Each schedule is compared with torch's ``param_groups[0]["lr"]`` after ``e`` calls of
``scheduler.step()`` for ``e = 0..n-1`` (``n`` covers at least two periods), eagerly,
under ``jax.jit`` and under ``jax.vmap``, at ``rtol=1e-6``; ``atol`` only absorbs
torch's float64 dust where a value is exactly zero.
"""

import subprocess
import sys

import pytest

from jtoolkit import schedules as S


def test_plot_schedule_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = S.plot_schedule(S.one_cycle_lr(0.1, total_steps=50), 60, tmp_path / "a.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_cli_smoke(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "cyc.png"
    cmd = [
        sys.executable,
        "-m",
        "jtoolkit.schedules",
        "--plot",
        "cyclic_lr",
        "--out",
        str(out),
        "--steps",
        "30",
        "base_lr=0.01",
        "max_lr=0.1",
        "step_size_up=5",
        "mode=triangular2",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_plot_cli_bad_arguments_exit_2_without_traceback(capsys):
    from jtoolkit._src.schedules.plot import main

    code = main(
        [
            "--plot",
            "cyclic_lr",
            "--out",
            "x.png",
            "base_lr=0.1",
            "max_lr=1",
            "mode=nope",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "nope" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_info:
        main(["--plot", "lambda_lr", "--out", "x.png"])  # not buildable from text
    assert exit_info.value.code == 2
