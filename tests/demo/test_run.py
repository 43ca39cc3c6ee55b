"""The demo's writers (run record, metrics file, plot) never write through a
symlink planted at a temporary or final name."""

import json
import os

import pytest

from jtoolkit._src.demo.cli import main
from jtoolkit._src.demo.preflight import RUN_FILE


@pytest.fixture(autouse=True)
def _no_compile_cache(monkeypatch):
    monkeypatch.setenv("JTOOLKIT_COMPILATION_CACHE", "0")


def test_planted_tmp_symlinks_are_not_written_through(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    victims = {}
    ck, metrics, plot = tmp_path / "ck", tmp_path / "m.jsonl", tmp_path / "p.png"
    ck.mkdir()
    for i, tmp in enumerate(
        [ck / (RUN_FILE + ".tmp"), str(metrics) + ".tmp", str(plot) + ".tmp"]
    ):
        victim = tmp_path / f"victim{i}"
        victim.write_text("precious")
        os.symlink(victim, tmp)
        victims[victim] = "precious"
    argv = ["--dataset", "synthetic", "--no-progress", "--epochs", "2"]
    argv += ["--checkpoint-dir", str(ck), "--metrics-file", str(metrics)]
    assert main([*argv, "--plot", str(plot)]) == 0
    assert main([*argv, "--epochs", "3", "--resume"]) == 0  # cuts the metrics file
    for victim, text in victims.items():
        assert victim.read_text() == text
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3]
    assert json.loads((ck / RUN_FILE).read_text())["model"] == "simple"
    assert plot.read_bytes()[:4] == b"\x89PNG"
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith(".")]
    assert leftovers == [], leftovers
