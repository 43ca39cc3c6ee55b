"""summary: rows per layer in call order, parameter counts equal to torch's, FLOPs
from XLA equal to 2*in*out(+bias) for a Linear layer, totals for from_torch graphs,
and no program compiled beyond the cost analyses."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from jtoolkit import interop, models

from ._harness import programs_compiled, six_models


def test_linear_flops_and_params():
    table = interop.summary(models.SimpleNN(rngs=nnx.Rngs(0)), jnp.ones((1, 1024)))
    rows = {line.split()[0]: line.split() for line in table.splitlines()[2:4]}
    assert rows["fc1"][4] == "229,600"
    flops = int(rows["fc1"][5].replace(",", ""))
    assert 2 * 1024 * 224 <= flops <= 2 * 1024 * 224 + 2 * 224  # matmul (+ bias)
    assert "Total params: 231,850" in table


def test_converted_resnet_counts_torchs_parameters(torch):
    module, x, _ = six_models(torch)["resnet"]
    model, _ = interop.from_torch(module, x)
    table, programs = programs_compiled(lambda: interop.summary(model, x.numpy()))
    total = sum(p.numel() for p in module.parameters())
    assert f"Total params: {total:,}" in table
    names = [line.split()[0] for line in table.splitlines()[2:-4]]
    assert names[:2] == ["conv1", "bn1"], names
    # one cost-analysis program per layer row and one for the whole forward; the
    # forward that records each layer's input is traced, not run op by op
    assert programs <= len(names) + 1, (programs, len(names))
