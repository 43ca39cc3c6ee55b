"""The demo's datasets as numpy arrays: digits (offline), synthetic, MNIST IDX files.

Every dataset comes back as float32 images of shape (N, 32, 32, 1) (NHWC, for the CNN;
SimpleNN and MLP flatten them to 1024 features) and int32 labels 0-9. Pixels are read
in [0, 1] and then standardized with the training split's mean and std (torch's
``transforms.Normalize(mean, std)``).
"""

from __future__ import annotations

import gzip
import importlib.util
import math
import os
import zlib
from typing import NamedTuple

import numpy as np

__all__ = ["Split", "load_dataset", "load_raw", "read_idx", "split_train_val"]


_SIZE = 32


_MNIST = {
    "images": "train-images-idx3-ubyte",
    "labels": "train-labels-idx1-ubyte",
}


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4"}


class Split(NamedTuple):
    """Train and validation arrays of one dataset."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def _digits_file() -> str:
    """Path of scikit-learn's bundled ``digits.csv.gz`` (found without importing it)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "--dataset digits needs scikit-learn's bundled data: pip install "
            "'jtoolkit[demo]' (or use --dataset synthetic)"
        )
    root = next(iter(spec.submodule_search_locations))
    return os.path.join(root, "datasets", "data", "digits.csv.gz")


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits, upsampled 4x (nearest) to 32x32.

    The same 1797 samples as ``sklearn.datasets.load_digits()``, read straight
    from its CSV (importing scikit-learn costs seconds).
    """
    table = np.loadtxt(_digits_file(), delimiter=",", dtype=np.float32)
    images = table[:, :64].reshape(-1, 8, 8) / 16.0
    images = images.repeat(4, axis=1).repeat(4, axis=2)
    return images[..., None], table[:, 64].astype(np.int32)


def _synthetic(seed: int, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Ten noisy class templates: learnable, generated, no files."""
    rng = np.random.default_rng(seed)
    templates = rng.random((10, _SIZE, _SIZE, 1), dtype=np.float32)
    labels = rng.integers(0, 10, n).astype(np.int32)
    noise = rng.normal(0.0, 0.35, (n, _SIZE, _SIZE, 1)).astype(np.float32)
    return np.clip(templates[labels] + noise, 0.0, 1.0), labels


_MAX_BYTES = 1 << 31  # the largest IDX payload read (MNIST's images: 47 MB)

_GZIP_RATIO = 64  # MNIST's gzip files inflate ~5x; a bomb inflates ~1000x


def _read_exact(stream, n: int, path: str) -> bytearray:
    """Exactly ``n`` bytes of ``stream`` into one buffer (no intermediate copies)."""
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = stream.readinto(view[got:])
        if not k:
            raise ValueError(
                f"{path}: the IDX header promises {n} more bytes but the file ends "
                f"after {got}"
            )
        got += k
    return buf


def read_idx(path: str, max_bytes: int = _MAX_BYTES) -> np.ndarray:
    """Read one IDX file (MNIST's format), gzip-compressed or not.

    The header (magic number, dims) is read from the stream first and the size it
    promises is bounded before the rest is read or decompressed: at most
    ``max_bytes``, and for a ``.gz`` at most 64 times the compressed size (+1 MiB),
    so a compressed bomb fails before it inflates. A file longer or shorter than
    its header says is an error, found without reading past the promised size.

    Raises:
        ValueError: the file is not an IDX file (bad magic number or size, a
            damaged gzip stream, a size over the bounds), naming ``path``.
    """
    gz = path.endswith(".gz")
    with open(path, "rb") as raw:
        on_disk = os.fstat(raw.fileno()).st_size
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw
        try:
            return _read_idx_stream(stream, path, on_disk, gz, max_bytes)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path} is not a readable IDX file ({err})") from None
        finally:
            stream.close()


def _read_idx_stream(stream, path: str, on_disk: int, gz: bool, max_bytes: int):
    head = stream.read(4)
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    ndim = head[3]
    raw_dims = _read_exact(stream, 4 * ndim, path)
    dims = tuple(int(d) for d in np.frombuffer(raw_dims, ">u4"))
    dtype = np.dtype(_IDX_DTYPES[head[2]])
    payload = math.prod(dims) * dtype.itemsize
    expected = 4 + 4 * ndim + payload
    limit = min(max_bytes, _GZIP_RATIO * on_disk + (1 << 20)) if gz else max_bytes
    if payload > limit:
        raise ValueError(
            f"{path}: IDX header says shape {dims} ({payload} bytes), more than "
            f"the {limit} bytes allowed for a {on_disk}-byte file; not read"
        )
    if not gz and on_disk != expected:
        raise ValueError(
            f"{path}: IDX header says shape {dims} ({expected} bytes) but the "
            f"file has {on_disk} bytes"
        )
    data = _read_exact(stream, payload, path)
    if stream.read(1):
        raise ValueError(
            f"{path}: IDX header says shape {dims} ({expected} bytes) but the "
            "file has more data"
        )
    return np.frombuffer(data, dtype).reshape(dims)


def _find(data_dir: str, stem: str) -> str:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem + ".idx"):
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"MNIST file {stem}[.gz] not found in {data_dir} (expected the standard IDX "
        "files train-images-idx3-ubyte and train-labels-idx1-ubyte, gzip or not)"
    )


def _mnist(data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's training IDX files, zero-padded from 28x28 to 32x32 (as LeNet)."""
    if data_dir is None:
        raise FileNotFoundError(
            "--dataset mnist needs --data-dir DIR with the IDX files"
        )
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"--data-dir {data_dir!r} is not a directory")
    images = read_idx(_find(data_dir, _MNIST["images"]))
    labels = read_idx(_find(data_dir, _MNIST["labels"]))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"MNIST images {images.shape} and labels {labels.shape} do not match "
            "(expected (N, H, W) and (N,))"
        )
    h, w = images.shape[1:]
    if h > _SIZE or w > _SIZE:
        raise ValueError(f"MNIST images must be at most 32x32, got {h}x{w}")
    top, left = (_SIZE - h) // 2, (_SIZE - w) // 2
    out = np.zeros((len(images), _SIZE, _SIZE, 1), np.float32)
    out[:, top : top + h, left : left + w, 0] = images.astype(np.float32) / 255.0
    return out, labels.astype(np.int32)


def split_train_val(
    x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int
) -> Split:
    """A seeded random split, ``val_fraction`` of the samples for validation.

    Raises:
        ValueError: the split leaves no sample on one side.
    """
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = round(len(x) * val_fraction)
    if not 0 < n_val < len(x):
        raise ValueError(
            f"a validation fraction of {val_fraction} leaves {len(x) - n_val} of "
            f"{len(x)} samples for training and {n_val} for validation; both need "
            "at least one (--val-split)"
        )
    val, train = order[:n_val], order[n_val:]
    return Split(x[train], y[train], x[val], y[val])


def load_raw(
    name: str, data_dir: str | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Images in [0, 1], shape (N, 32, 32, 1), and int32 labels of dataset ``name``.

    Raises:
        ValueError: unknown ``name`` or malformed files.
        FileNotFoundError: mnist without its files.
    """
    if name == "digits":
        return _digits()
    if name == "synthetic":
        return _synthetic(seed)
    if name == "mnist":
        return _mnist(data_dir)
    raise ValueError(f"unknown dataset {name!r}; choose digits, synthetic or mnist")


def load_dataset(
    name: str, data_dir: str | None = None, seed: int = 0, val_fraction: float = 0.2
) -> Split:
    """Load ``name``, split off the validation set, standardize with train stats.

    Raises:
        ValueError: unknown ``name`` or malformed files.
        FileNotFoundError: mnist without its files.

    Example:
        >>> split = load_dataset("synthetic", seed=0)
        >>> split.x_train.shape, split.x_val.shape, split.y_train.dtype
        ((1600, 32, 32, 1), (400, 32, 32, 1), dtype('int32'))
        >>> round(float(split.x_train.mean()), 4), round(float(split.x_train.std()), 3)
        (0.0, 1.0)
    """
    x, y = load_raw(name, data_dir, seed)
    split = split_train_val(x, y, val_fraction, seed)
    mean = np.float32(split.x_train.mean())
    std = np.float32(max(float(split.x_train.std()), 1e-6))
    return split._replace(
        x_train=(split.x_train - mean) / std, x_val=(split.x_val - mean) / std
    )
