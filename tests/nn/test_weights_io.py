"""Weights files are read header first: bombs stay small, errors name the file."""

import io
import json
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from jtoolkit._src.nn.weights_io import read_safetensors, read_state_dict


def _safetensors(path, tensors, junk_bytes=0, junk_name="junk"):
    """A .safetensors file written by hand; an optional sparse 'junk' tensor."""
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, np.float32).tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    if junk_bytes:
        header[junk_name] = {
            "dtype": "F32",
            "shape": [junk_bytes // 4],
            "data_offsets": [offset, offset + junk_bytes],
        }
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
        f.truncate(8 + len(text) + offset + junk_bytes)  # sparse: no disk used


_MEASURE = """
import resource, sys
from flax import nnx
from jtoolkit.models import Linear, load_torch_state_dict
model = Linear(2, 1, rngs=nnx.Rngs(0))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    print("ok", load_torch_state_dict(model, sys.argv[1], strict=False))
except Exception as err:
    print("error:", type(err).__name__, str(err).replace("\\n", " "))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def _load_in_subprocess(path):
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)],
        capture_output=True,
        text=True,
        env=env,
    )
    lines = out.stdout.splitlines()
    assert len(lines) == 2, out.stdout + out.stderr
    return lines[0], int(lines[1]) / 1024  # ru_maxrss: KiB


_W = {"weight": np.ones((1, 2)), "bias": np.full(1, 0.5)}


def test_sparse_2gib_unknown_key_is_never_read(tmp_path):
    path = tmp_path / "big.safetensors"
    _safetensors(path, _W, junk_bytes=2**31)
    assert os.path.getsize(path) > 2**31
    message, growth = _load_in_subprocess(path)
    assert message.startswith("ok") and "unexpected_keys=['junk']" in message, message
    assert growth < 100, f"+{growth:.0f} MB peak RSS"


def test_known_key_with_a_huge_shape_is_not_read(tmp_path):
    path = tmp_path / "big.safetensors"
    _safetensors(path, {"bias": _W["bias"]}, junk_bytes=2**31, junk_name="weight")
    sd = read_safetensors(path, {"weight": 2, "bias": 1})
    assert sd["weight"].shape == (2**29,) and sd["weight"].strides == (0,)
    message, growth = _load_in_subprocess(path)
    assert "size mismatch for weight" in message and "536870912" in message, message
    assert growth < 100, f"+{growth:.0f} MB peak RSS"


def test_deflated_torch_file_is_refused(tmp_path, torch):
    """A .pt whose storage is zip-deflated (0.1 MB on disk, 128 MB inflated)."""
    buf = io.BytesIO()
    torch.save({"weight": torch.zeros(2**25), "bias": torch.zeros(1)}, buf)
    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w") as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info.filename), zipfile.ZIP_DEFLATED)
    del buf
    assert os.path.getsize(path) < 1e6
    message, growth = _load_in_subprocess(path)
    assert message.startswith("error: RuntimeError") and str(path) in message, message
    assert growth < 100, f"+{growth:.0f} MB peak RSS"


def test_errors_name_the_file(tmp_path, torch):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 64)
    with pytest.raises(RuntimeError, match=str(bad)):
        read_state_dict(str(bad))
    short = tmp_path / "short.safetensors"
    _safetensors(short, _W)
    short.write_bytes(short.read_bytes()[:-4])
    with pytest.raises(RuntimeError, match=str(short)):
        read_state_dict(str(short))
    pt = tmp_path / "bad.pt"
    pt.write_bytes(b"not a torch file")
    with pytest.raises(RuntimeError, match=str(pt)):
        read_state_dict(str(pt))
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.ones(2), tensor)
    with pytest.raises(TypeError, match=str(tensor)):
        read_state_dict(str(tensor))
    with pytest.raises(FileNotFoundError):
        read_state_dict(str(tmp_path / "missing.safetensors"))
    legacy = tmp_path / "legacy.pt"
    torch.save(
        {"weight": torch.ones(1, 2)}, legacy, _use_new_zipfile_serialization=False
    )
    assert read_state_dict(str(legacy))["weight"].shape == (1, 2)
