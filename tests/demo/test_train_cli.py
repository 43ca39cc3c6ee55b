"""The demo: config parsing, datasets, metrics/plot files, resume, one real CLI run."""

import dataclasses
import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from jtoolkit._src.demo.cli import main, parse_config, run
from jtoolkit._src.demo.config import DemoConfig
from jtoolkit._src.demo.datasets import load_dataset, load_raw, read_idx

_TIMING = ("samples_per_s", "time_s")


@pytest.fixture(autouse=True)
def _no_compile_cache(monkeypatch):
    """In-process runs must not switch on a persistent cache for the whole session."""
    monkeypatch.setenv("JTOOLKIT_COMPILATION_CACHE", "0")


def _quiet(**kwargs):
    return DemoConfig(dataset="synthetic", progress=False, **kwargs)


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


def _write_idx(path, array, code):
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    body = header + array.tobytes()
    if path.endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(body)
    else:
        with open(path, "wb") as f:
            f.write(body)


def test_mnist_idx_files_gzip_or_not(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 20).astype(np.uint8)
    for sub, ext in (("plain", ""), ("gz", ".gz")):
        d = tmp_path / sub
        d.mkdir()
        _write_idx(str(d / f"train-images-idx3-ubyte{ext}"), images, 0x08)
        _write_idx(str(d / f"train-labels-idx1-ubyte{ext}"), labels, 0x08)
        np.testing.assert_array_equal(
            read_idx(str(d / f"train-images-idx3-ubyte{ext}")), images
        )
        split = load_dataset("mnist", str(d), seed=0, val_fraction=0.25)
        assert split.x_train.shape == (15, 32, 32, 1)
        assert split.x_val.shape == (5, 32, 32, 1)
        np.testing.assert_allclose(split.x_train.mean(), 0.0, atol=1e-5)
        # 28x28 sits in the middle of 32x32, scaled to [0, 1]
        raw, raw_labels = load_raw("mnist", str(d))
        np.testing.assert_array_equal(raw_labels, labels)
        np.testing.assert_allclose(raw[:, 2:30, 2:30, 0] * 255, images, rtol=1e-6)
        assert raw[:, :2].max() == 0 and raw[:, 30:].max() == 0
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "train-images-idx3-ubyte").write_bytes(b"not an idx file")
    (tmp_path / "bad" / "train-labels-idx1-ubyte").write_bytes(b"nope")
    assert main(["--dataset", "mnist", "--data-dir", str(tmp_path / "bad")]) == 2
    config = DemoConfig(
        dataset="mnist",
        data_dir=str(tmp_path / "gz"),
        epochs=1,
        batch_size=8,
        progress=False,
    )
    history = run(config, log=lambda s: None)
    assert len(history) == 1 and 0 <= history[0]["val_accuracy"] <= 1


def test_digits_is_sklearn_digits_upsampled():
    sklearn = pytest.importorskip("sklearn.datasets")
    split = load_dataset("digits", seed=0, val_fraction=0.2)
    assert split.x_train.shape == (1438, 32, 32, 1) and split.x_val.shape[0] == 359
    bunch = sklearn.load_digits()
    raw, labels = load_raw("digits")
    np.testing.assert_array_equal(labels, bunch.target)
    # each 8x8 pixel becomes a 4x4 block, scaled from 0..16 to [0, 1]
    np.testing.assert_array_equal(raw[:, ::4, ::4, 0] * 16, bunch.images)
    np.testing.assert_array_equal(raw[:, 3::4, 3::4, 0] * 16, bunch.images)


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
