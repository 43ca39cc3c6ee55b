"""Safe file primitives: exclusive random temporaries, no symlink followed."""

import os

import pytest

from jtoolkit._src.core.files import (
    UnsafePathError,
    append_text,
    atomic_write,
    atomic_writer,
    confined,
    open_read,
)


@pytest.fixture
def target(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("precious")
    work = tmp_path / "work"
    work.mkdir()
    return work, outside


def test_atomic_write_ignores_a_planted_tmp_symlink(target):
    work, outside = target
    path = work / "run.json"
    os.symlink(outside, str(path) + ".tmp")
    atomic_write(path, "{}")
    assert path.read_text() == "{}"
    assert outside.read_text() == "precious"
    assert sorted(os.listdir(work)) == ["run.json", "run.json.tmp"]  # no leftovers


def test_atomic_write_replaces_a_symlink_instead_of_writing_through(target):
    work, outside = target
    path = work / "m.jsonl"
    os.symlink(outside, path)
    atomic_write(path, "new")
    assert not os.path.islink(path) and path.read_text() == "new"
    assert outside.read_text() == "precious"


def test_atomic_writer_leaves_the_old_file_on_error(target):
    work, _ = target
    path = work / "x"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_writer(path, "w") as f:
        f.write("half")
        raise RuntimeError("boom")
    assert path.read_text() == "old" and os.listdir(work) == ["x"]


def test_append_and_read_refuse_symlinks(target):
    work, outside = target
    link = work / "link"
    os.symlink(outside, link)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        append_text(link, "x")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        open_read(str(link))
    with pytest.raises(UnsafePathError, match="not a regular file"):
        open_read(str(work))
    assert outside.read_text() == "precious"
    append_text(work / "log", "a\n")
    append_text(work / "log", "b\n")
    assert (work / "log").read_text() == "a\nb\n"


@pytest.mark.parametrize(
    "rel", ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/", "a\0b", "a\\b"]
)
def test_confined_rejects_paths_that_leave(tmp_path, rel):
    with pytest.raises(UnsafePathError):
        confined(str(tmp_path), rel)


def test_confined_rejects_symlink_components(target):
    work, outside = target
    os.symlink(outside.parent, work / "up")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        confined(str(work), "up/outside")
    (work / "d").mkdir()
    assert confined(str(work), "d/f") == os.path.join(work, "d", "f")
