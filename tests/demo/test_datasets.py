"""Tests of ``jtoolkit/_src/demo/datasets.py`` (``load_dataset``, ``load_raw``,
``read_idx``).

Moved from test_train_cli.py when the tests were laid out to mirror the code; that
file's notes:

The demo: config parsing, datasets, metrics/plot files, resume, one real CLI run.
"""

import gzip
import os
import subprocess
import sys
import zlib

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


# Issue 22 (hardening):
# MNIST IDX loading checks the header before it inflates: gzip bombs stay small.
_CHUNK = 1 << 24  # 16 MiB of zeros per gzip member


def _member(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def _bomb(path, header: bytes, members: int) -> None:
    """A ~1 MB gzip file: ``header`` then ``members`` x 16 MiB of zeros (1 GiB
    for 64), written as concatenated gzip members (valid gzip, fast to make)."""
    zeros = _member(b"\0" * _CHUNK)
    with open(path, "wb") as f:
        f.write(_member(header))
        for _ in range(members):
            f.write(zeros)


def _header(shape, code=0x08):
    return bytes([0, 0, code, len(shape)]) + np.asarray(shape, ">u4").tobytes()


_MEASURE = """
import resource, sys
from jtoolkit._src.demo.datasets import read_idx
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_idx(sys.argv[1])
    print("read")
except ValueError as err:
    print("error:", err)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def _peak_growth_mb(path):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.splitlines()
    return out[0], int(out[1]) / 1024  # ru_maxrss is in KiB on Linux


@pytest.mark.parametrize(
    ("shape", "needle"),
    [
        ((60000, 28, 28), "more data"),  # a plausible header, 1 GiB behind it
        ((1 << 20, 32, 32), "not read"),  # the header itself promises 1 GiB
        ((1 << 30,), "not read"),  # labels
    ],
)
def test_gzip_bomb_stays_under_100_mb(tmp_path, shape, needle):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    _bomb(path, _header(shape), 64)
    assert os.path.getsize(path) < 1.5e6
    message, growth = _peak_growth_mb(path)
    assert message.startswith("error:") and needle in message, message
    assert str(path) in message
    assert growth < 100, f"+{growth:.0f} MB peak RSS reading a 1 MB gzip bomb"


def test_size_mismatch_and_damage_name_the_file(tmp_path):
    images = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    body = _header(images.shape) + images.tobytes()
    cases = {
        "short": body[:-1],
        "long": body + b"\0",
        "magic": b"\1" + body[1:],
    }
    for name, data in cases.items():
        for gz in (False, True):
            path = tmp_path / (name + (".gz" if gz else ""))
            path.write_bytes(gzip.compress(data) if gz else data)
            with pytest.raises(ValueError, match="IDX") as err:
                read_idx(str(path))
            assert str(path) in str(err.value)
    damaged = tmp_path / "damaged.gz"
    damaged.write_bytes(gzip.compress(body)[:-12])
    with pytest.raises(ValueError, match=str(damaged)):
        read_idx(str(damaged))
    ok = tmp_path / "ok.gz"
    ok.write_bytes(gzip.compress(body))
    np.testing.assert_array_equal(read_idx(str(ok)), images)


def test_bomb_through_the_dataset_loader(tmp_path):
    _bomb(tmp_path / "train-images-idx3-ubyte.gz", _header((60000, 28, 28)), 4)
    with pytest.raises(ValueError, match="not read"):
        load_raw("mnist", str(tmp_path))
