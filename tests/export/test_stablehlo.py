"""StableHLO export: the serialized program runs in a fresh process (no jtoolkit
import) with bitwise the same outputs as here (and the model's to float32
rounding); a symbolic batch runs at any batch size."""

from __future__ import annotations

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit import export

from ._harness import zoo

FRESH = """
import sys, numpy as np, jax
blob = open(sys.argv[1], "rb").read()
x = np.load(sys.argv[2])
assert "jtoolkit" not in sys.modules
np.save(sys.argv[3], np.asarray(jax.export.deserialize(bytearray(blob)).call(x)))
"""


@pytest.mark.slow
def test_runs_in_a_fresh_process_with_the_same_output(tmp_path):
    names = []
    for name, (model, x) in zoo().items():
        model.eval()
        blob = export.stablehlo(model, x)
        here = np.asarray(jax.export.deserialize(blob).call(x))
        np.testing.assert_allclose(here, model(x), rtol=1e-5, atol=1e-6, err_msg=name)
        (tmp_path / f"{name}.bin").write_bytes(blob)
        np.save(tmp_path / f"{name}_x.npy", np.asarray(x))
        np.save(tmp_path / f"{name}_want.npy", here)
        names.append(name)
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    for name in names:
        args = [str(tmp_path / f) for f in (f"{name}.bin", f"{name}_x.npy", "got.npy")]
        out = subprocess.run(
            [sys.executable, "-c", FRESH, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        got, want = (
            np.load(tmp_path / "got.npy"),
            np.load(tmp_path / f"{name}_want.npy"),
        )
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_dynamic_batch_runs_at_any_batch_size():
    model, x = zoo()["simple"]
    blob = export.stablehlo(model, x, dynamic_batch=True)
    exported = jax.export.deserialize(blob)
    big = jnp.concatenate([x, x, x])
    np.testing.assert_allclose(exported.call(big), model(big), rtol=1e-6, atol=1e-6)


def test_exports_eval_mode_by_default():
    """Dropout is off in the export even when the model is in train mode."""
    from flax import nnx

    from jtoolkit import models

    model = models.MLP([4, 8, 2], dropout=0.5, rngs=nnx.Rngs(0))
    model.train()
    x = jnp.ones((3, 4))
    got = jax.export.deserialize(export.stablehlo(model, x)).call(x)
    model.eval()
    np.testing.assert_allclose(got, model(x), rtol=1e-6)
