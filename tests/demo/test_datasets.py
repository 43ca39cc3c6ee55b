"""Tests of ``jtoolkit/_src/demo/datasets.py`` (``load_dataset``, ``load_raw``,
``read_idx``).

Moved from test_train_cli.py when the tests were laid out to mirror the code; that
file's notes:

The demo: config parsing, datasets, metrics/plot files, resume, one real CLI run.
"""

import gzip

import numpy as np
import pytest

from jtoolkit._src.demo.cli import main, run
from jtoolkit._src.demo.config import DemoConfig
from jtoolkit._src.demo.datasets import load_dataset, load_raw, read_idx


@pytest.fixture(autouse=True)
def _no_compile_cache(monkeypatch):
    """In-process runs must not switch on a persistent cache for the whole session."""
    monkeypatch.setenv("JTOOLKIT_COMPILATION_CACHE", "0")


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
