"""Tests of ``jtoolkit/_src/checkpoint/integrity.py`` (``CheckpointCorruptError``).

Moved from test_checkpoint_integrity.py when the tests were laid out to mirror the code;
that file's notes:

Damaged checkpoints are detected, named and fallen back from; rewrites are safe.
"""

import os
import pathlib
import shutil

import numpy as np
import pytest

from jtoolkit.checkpoint import (
    CheckpointCorruptError,
    restore_checkpoint,
    save_checkpoint,
)
from tests.checkpoint._harness import _TARGET, _state


def _two_steps(tmp_path):
    for s in (1, 2):
        save_checkpoint(tmp_path, _state(s), s, extra={"epoch": s})
    return str(tmp_path / "2")


def _files(step_dir, part):
    out = []
    for root, _, names in os.walk(os.path.join(step_dir, part)):
        out += [os.path.join(root, n) for n in names if n != "commit_success.txt"]
    return sorted(out, key=os.path.getsize)


def _flip(path, where=0.5):
    data = bytearray(pathlib.Path(path).read_bytes())
    data[int(len(data) * where)] ^= 0x04
    pathlib.Path(path).write_bytes(bytes(data))


def _truncate(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def _data_flip(d):
    _flip(_files(d, "state")[-1])  # the largest file: array bytes


def _data_truncate(d):
    _truncate(_files(d, "state")[-1])


def _layout_flip(d):
    _flip(os.path.join(d, "layout", "metadata"), 0.9)


def _extra_flip(d):
    path = pathlib.Path(d, "extra", "metadata")
    text = path.read_text().replace('"epoch": 2', '"epoch": 3')
    assert '"epoch": 3' in text
    path.write_text(text)  # still valid JSON: only the checksum sees it


def _extra_bad_json(d):
    pathlib.Path(d, "extra", "metadata").write_text("{not json")


def _orbax_metadata_flip(d):
    _flip(os.path.join(d, "state", "_METADATA"))


def _ocdbt_manifest_truncate(d):
    _truncate(os.path.join(d, "state", "manifest.ocdbt"))


def _delete_extra(d):
    shutil.rmtree(os.path.join(d, "extra"))


def _delete_state(d):
    shutil.rmtree(os.path.join(d, "state"))


def _delete_data_file(d):
    os.remove(_files(d, "state")[-1])


def _empty_dir(d):
    shutil.rmtree(d)
    os.mkdir(d)


DAMAGE = {
    "truncation: array data": _data_truncate,
    "truncation: ocdbt manifest": _ocdbt_manifest_truncate,
    "bit flip: array data": _data_flip,
    "bit flip: manifest (layout/metadata)": _layout_flip,
    "bit flip: orbax state/_METADATA": _orbax_metadata_flip,
    "changed value: extra/metadata": _extra_flip,
    "bad JSON: extra/metadata": _extra_bad_json,
    "deleted: extra/": _delete_extra,
    "deleted: state/": _delete_state,
    "deleted: array data file": _delete_data_file,
    "empty step dir": _empty_dir,
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damage_is_detected_named_and_fallen_back_from(tmp_path, kind):
    newest = _two_steps(tmp_path)
    DAMAGE[kind](newest)
    with pytest.warns(UserWarning, match="skipped 1 damaged") as record:
        state, extra = restore_checkpoint(tmp_path, _TARGET, with_extra=True)
    assert newest in str(record[0].message)
    assert extra == {"epoch": 1}
    np.testing.assert_array_equal(state["w"], _state(1)["w"])
    with pytest.raises(CheckpointCorruptError, match=newest):
        restore_checkpoint(tmp_path, _TARGET, step=2)


def test_every_checkpoint_damaged_raises_naming_each(tmp_path):
    _two_steps(tmp_path)
    _data_flip(str(tmp_path / "1"))
    _delete_extra(str(tmp_path / "2"))
    with pytest.raises(CheckpointCorruptError, match="no intact checkpoint") as exc:
        restore_checkpoint(tmp_path, _TARGET)
    assert str(tmp_path / "1") in str(exc.value) and "extra" in str(exc.value)
