"""ONNX export through jax2onnx, run by onnxruntime: the same outputs as jtoolkit
for dense, conv + BatchNorm, LSTM and TransformerEncoder models."""

from __future__ import annotations

import numpy as np
import pytest

from jtoolkit import export

from ._harness import zoo


@pytest.mark.parametrize("name", sorted(zoo()))
def test_onnxruntime_gives_the_same_output(name, tmp_path):
    pytest.importorskip("jax2onnx")
    ort = pytest.importorskip("onnxruntime")
    model, x = zoo()[name]
    model.eval()
    path = export.onnx(model, x, tmp_path / f"{name}.onnx")
    session = ort.InferenceSession(path)
    (got,) = session.run(None, {session.get_inputs()[0].name: np.asarray(x)})
    want = np.asarray(model(x))
    # float32 kernels of two runtimes: a few ulps of the output's magnitude
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
