"""examples/interop/*.py run to completion and print their key figures.

They run in the test's own interpreter with ``runpy`` (none sets global
configuration or starts processes), their stdout captured.
"""

from __future__ import annotations

import pathlib
import runpy

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXPECT = {
    "from_torch": "max |jtoolkit - torch|",
    "compare": "with a wrong bias: forward:fc2",
    "summary": "Total params: 151,306",
    "export": "to_torch: ['features.0.weight'",
    "metrics": "auroc:",
}


def test_every_interop_example_is_checked():
    found = sorted(p.stem for p in (ROOT / "examples" / "interop").glob("*.py"))
    assert found == sorted(EXPECT)


@pytest.mark.slow  # whole scripts: the ISA parity reruns leave them to the main run
@pytest.mark.parametrize("name", sorted(EXPECT))
def test_example_runs(name, capsys, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)  # anything an example writes stays in tmp_path
    capsys.readouterr()
    # JAX's caches are kept from one example to the next (export and summary build
    # the same CNN, from_torch and compare the same layers): tests/conftest.py
    # clears them at the module's end, or sooner if the process grows too large.
    runpy.run_path(
        str(ROOT / "examples" / "interop" / f"{name}.py"), run_name="__main__"
    )
    out = capsys.readouterr().out
    assert EXPECT[name] in out, out
