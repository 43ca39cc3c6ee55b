"""Tests of ``jtoolkit/_src/demo/run.py`` (``build_optimizer``).

Moved from test_train_cli.py when the tests were laid out to mirror the code; that
file's notes:

The demo: config parsing, datasets, metrics/plot files, resume, one real CLI run.
"""

import json
import os

import pytest

from jtoolkit._src.demo.cli import main
from jtoolkit._src.demo.preflight import RUN_FILE
from tests.demo._harness import _quiet


@pytest.fixture(autouse=True)
def _no_compile_cache(monkeypatch):
    """In-process runs must not switch on a persistent cache for the whole session."""
    monkeypatch.setenv("JTOOLKIT_COMPILATION_CACHE", "0")


def test_onecycle_cycles_momentum_as_torch_and_short_warmup_cosine_builds():
    """torch's OneCycleLR cycles momentum/beta1 too; 1-epoch warmup-cosine is valid."""
    from jtoolkit import schedules
    from jtoolkit._src.demo.run import _momentum_kwargs, build_optimizer

    config = _quiet(scheduler="onecycle", optimizer="adam")
    expected = schedules.one_cycle_momentum(total_steps=config.epochs * 10)
    beta1 = _momentum_kwargs(config, 10)["betas"][0]
    counts = (0, 7, 30, 100)
    assert [float(beta1(c)) for c in counts] == [float(expected(c)) for c in counts]
    sgd = _momentum_kwargs(_quiet(scheduler="onecycle", optimizer="sgd"), 10)
    assert set(sgd) == {"momentum"}
    assert _momentum_kwargs(_quiet(scheduler="onecycle", optimizer="adagrad"), 10) == {}
    assert _momentum_kwargs(_quiet(scheduler="cosine", optimizer="adam"), 10) == {}
    build_optimizer(_quiet(scheduler="warmup-cosine", epochs=1), 5)


# Issue 22 (hardening):
# The demo's writers (run record, metrics file, plot) never write through a
# symlink planted at a temporary or final name.


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


def test_fsdp_flag_gives_sharded_steps_over_every_device():
    from jtoolkit._src.demo.cli import parse_config
    from jtoolkit._src.demo.run import _engine

    assert not parse_config([]).fsdp
    _, _, step, evaluate = _engine(parse_config(["--fsdp"]), 10)
    assert step.shard == evaluate.shard == "fsdp"
    assert step.mesh is not None and step.mesh.axis_names == ("data",)


def test_cpu_split_flag_gives_data_parallel_steps():
    from jtoolkit._src.demo.cli import parse_config
    from jtoolkit._src.demo.run import _engine

    _, _, step, evaluate = _engine(parse_config(["--cpu-split"]), 10)
    assert step.mesh is not None and step.mesh.axis_names == ("data",)
    assert evaluate.mesh is not None and step.shard is None
    _, _, plain, _ = _engine(parse_config([]), 10)
    assert plain.mesh is None


def test_steps_per_execution_unset_is_8_but_1_for_the_cnn_on_a_cpu():
    import jax

    from jtoolkit._src.demo.cli import parse_config
    from jtoolkit._src.demo.run import steps_per_execution

    assert parse_config([]).steps_per_execution is None
    assert steps_per_execution(parse_config(["--model", "mlp"])) == 8
    cnn = 1 if jax.default_backend() == "cpu" else 8
    assert steps_per_execution(parse_config(["--model", "cnn"])) == cnn
    given = parse_config(["--model", "cnn", "--steps-per-execution", "8"])
    assert steps_per_execution(given) == 8
