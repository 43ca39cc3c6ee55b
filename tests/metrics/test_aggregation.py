"""MeanMetric and Perplexity against torchmetrics on 200 random cases each (weights,
NaN values, ignore_index, masks), through one update and a merge."""

from __future__ import annotations

import warnings

import numpy as np

from jtoolkit import metrics

from ._harness import (
    CASES,
    ROWS,
    assert_agrees,
    oracle,
    random_mask,
    run_both,
    torchmetrics,
)


def test_mean_metric_agrees_with_torchmetrics():
    tm = torchmetrics()
    import torch

    rng = np.random.default_rng(4)
    for i in range(CASES):
        value = rng.standard_normal(ROWS).astype(np.float32)
        weight = rng.random(ROWS).astype(np.float32) + 0.1
        if i % 4 == 0:
            value[rng.integers(ROWS)] = np.nan
        mask = random_mask(rng)
        mask[np.flatnonzero(~np.isnan(value))[0]] = True  # one real value at least
        ref = tm.MeanMetric(nan_strategy="ignore")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref.update(torch.from_numpy(value[mask]), torch.from_numpy(weight[mask]))
            want = ref.compute().numpy()
        one, merged = run_both(metrics.MeanMetric(), value, weight, mask)
        assert_agrees(one, want, f"case {i}")
        assert_agrees(merged, want, f"case {i} merged")


def test_perplexity_agrees_with_torchmetrics():
    tm = torchmetrics()
    from torchmetrics.functional.text import perplexity

    del tm
    rng = np.random.default_rng(5)
    for i in range(CASES):
        preds = (2 * rng.standard_normal((ROWS, 5, 7))).astype(np.float32)
        target = rng.integers(0, 7, (ROWS, 5))
        kw = {}
        if i % 2:
            kw["ignore_index"] = int(rng.choice([-100, 3]))
            hole = rng.random(target.shape) < 0.2
            target = np.where(hole, kw["ignore_index"], target)
            target[:, 0] = 1  # every row keeps a token
        mask = random_mask(rng)
        want = oracle(perplexity, preds[mask], target[mask], **kw)
        one, merged = run_both(metrics.Perplexity(**kw), preds, target, mask)
        assert_agrees(one, want, f"case {i}: {kw}")
        assert_agrees(merged, want, f"case {i} merged: {kw}")
