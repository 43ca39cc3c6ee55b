"""examples/interop/*.py run to completion and print their key figures."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXPECT = {
    "from_torch": "max |jtoolkit - torch|",
    "compare": "with a wrong bias: forward:fc2",
    "summary": "Total params: 151,306",
    "export": "to_torch: ['features.0.weight'",
    "metrics": "auroc:",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECT))
def test_example_runs(name):
    pytest.importorskip("torch")
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "interop" / f"{name}.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert EXPECT[name] in out.stdout, out.stdout
    assert sorted(
        p.stem for p in (ROOT / "examples" / "interop").glob("*.py")
    ) == sorted(EXPECT)
