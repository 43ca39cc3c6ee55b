"""to_torch: one call gives torch's state dict (a torch twin loads it and agrees)
and a safetensors file that torch and jtoolkit both load back."""

from __future__ import annotations

import numpy as np
from flax import nnx

from jtoolkit import export, models


def test_torch_twin_loads_the_state_dict_and_agrees(torch, tmp_path):
    model = models.CNN(1, 10, rngs=nnx.Rngs(0))
    sd = export.to_torch(model, tmp_path / "cnn.safetensors")
    assert all(isinstance(v, torch.Tensor) for v in sd.values())
    from safetensors.torch import load_file

    on_disk = load_file(str(tmp_path / "cnn.safetensors"))
    assert sorted(on_disk) == sorted(sd)
    for k in sd:
        assert torch.equal(on_disk[k], sd[k]), k
    back = models.CNN(1, 10, rngs=nnx.Rngs(1))
    models.load_safetensors(back, str(tmp_path / "cnn.safetensors"))
    x = np.random.default_rng(0).standard_normal((2, 12, 12, 1)).astype(np.float32)
    np.testing.assert_array_equal(back(x), model(x))


def test_linear_layout_is_torchs(torch):
    layer = models.Linear(3, 2, rngs=nnx.Rngs(0))
    twin = torch.nn.Linear(3, 2)
    twin.load_state_dict(export.to_torch(layer))
    x = np.ones((4, 3), np.float32)
    want = twin(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(layer(x), want, rtol=1e-6, atol=1e-6)
