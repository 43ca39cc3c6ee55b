"""Step names are ASCII digits only: look-alike digits are ignored with a warning."""

import os
import shutil

import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit.checkpoint import (
    all_steps,
    latest_step,
    restore_checkpoint,
    save_checkpoint,
)


@pytest.mark.parametrize(
    "name",
    ["\u0663", "\uff19", "1\u0663", "\u0663.jtoolkit-new", "\u0663.jtoolkit-old"],
)
def test_non_ascii_digit_step_names_are_ignored(tmp_path, name):
    assert int(name.split(".")[0]) >= 3  # int() would read it as a step
    save_checkpoint(tmp_path, {"w": jnp.ones(2)}, 1)
    save_checkpoint(tmp_path, {"w": jnp.full(2, 2.0)}, 2)
    shutil.copytree(tmp_path / "1", tmp_path / name)
    with pytest.warns(UserWarning, match="ASCII digits"):
        assert all_steps(tmp_path) == [1, 2]
    with pytest.warns(UserWarning, match="ASCII digits"):
        assert latest_step(tmp_path) == 2
    with pytest.warns(UserWarning, match="ASCII digits"):
        got = restore_checkpoint(tmp_path, {"w": jnp.zeros(2)})
    np.testing.assert_array_equal(got["w"], [2.0, 2.0])
    save_checkpoint(tmp_path, {"w": jnp.full(2, 3.0)}, 3)  # saves still work
    with pytest.warns(UserWarning, match="ASCII digits"):
        assert all_steps(tmp_path) == [1, 2, 3]
    assert os.path.isdir(tmp_path / name)  # not ours: left alone


def test_other_names_are_ignored_silently(tmp_path, recwarn):
    save_checkpoint(tmp_path, {"w": jnp.ones(2)}, 1)
    for name in ("notes", "1.bak", "-1", "+1", " 1", "1 "):
        (tmp_path / name).mkdir()
    assert all_steps(tmp_path) == [1]
    assert not recwarn.list
