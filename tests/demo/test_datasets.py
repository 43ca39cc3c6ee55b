"""MNIST IDX loading checks the header before it inflates: gzip bombs stay small."""

import gzip
import os
import subprocess
import sys
import zlib

import numpy as np
import pytest

from jtoolkit._src.demo.datasets import load_raw, read_idx

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
