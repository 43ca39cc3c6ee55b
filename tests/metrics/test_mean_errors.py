"""MeanSquaredError (squared or root) and MeanAbsoluteError against torchmetrics on
200 random cases each (1 or several outputs), through one update and a merge."""

from __future__ import annotations

import numpy as np
import pytest

from jtoolkit import metrics

from ._harness import CASES, ROWS, assert_agrees, random_mask, run_both, torchmetrics


@pytest.mark.parametrize("name", ["MeanSquaredError", "MeanAbsoluteError"])
def test_agrees_with_torchmetrics_on_random_cases(name):
    tm = torchmetrics()
    import torch

    rng = np.random.default_rng(3)
    for i in range(CASES):
        kw = {"num_outputs": [1, 1, 3][i % 3]}
        if name == "MeanSquaredError":
            kw["squared"] = bool(i % 2)
        shape = (ROWS,) if i % 3 == 0 else (ROWS, 3)
        preds = rng.standard_normal(shape).astype(np.float32)
        target = rng.standard_normal(shape).astype(np.float32)
        mask = random_mask(rng)
        ref = getattr(tm, name)(**kw)
        ref.update(torch.from_numpy(preds[mask]), torch.from_numpy(target[mask]))
        want = ref.compute().numpy()
        one, merged = run_both(getattr(metrics, name)(**kw), preds, target, mask)
        assert_agrees(one, want, f"case {i}: {kw}")
        assert_agrees(merged, want, f"case {i} merged: {kw}")
