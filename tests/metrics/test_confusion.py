"""ConfusionMatrix against torchmetrics on 200 random cases (every task and
normalization, ignore_index, absent classes), through one update and a merge."""

from __future__ import annotations

import numpy as np

from jtoolkit import metrics

from ._harness import (
    CASES,
    ROWS,
    assert_agrees,
    labels,
    oracle,
    random_mask,
    run_both,
    scores,
    torchmetrics,
)


def test_agrees_with_torchmetrics_on_random_cases():
    tm = torchmetrics()
    rng = np.random.default_rng(1)
    for i in range(CASES):
        task = ("binary", "multiclass", "multilabel")[i % 3]
        kw = {"task": task, "normalize": [None, "true", "pred", "all"][i // 3 % 4]}
        if rng.random() < 0.3:
            kw["ignore_index"] = -1
        shape = (ROWS,) if task != "multilabel" else (ROWS, 3)
        target = labels(rng, shape, 3 if task == "multiclass" else 2)
        if task == "multiclass":
            kw["num_classes"] = 3
            preds = scores(rng, (ROWS, 3)) if i % 2 else labels(rng, (ROWS,), 3)
        else:
            kw["num_labels"] = 3
            preds = scores(rng, shape)
            kw.pop("num_labels") if task == "binary" else None
        if "ignore_index" in kw:
            target = np.where(rng.random(shape) < 0.2, -1, target)
        mask = random_mask(rng)
        want = oracle(tm.functional.confusion_matrix, preds[mask], target[mask], **kw)
        one, merged = run_both(metrics.ConfusionMatrix(**kw), preds, target, mask)
        assert_agrees(one, want, f"case {i}: {kw}")
        assert_agrees(merged, want, f"case {i} merged: {kw}")


def test_binary_layout_is_tn_fp_fn_tp():
    cm = metrics.ConfusionMatrix(task="binary")
    s = cm.update(cm.init(), np.array([1, 1, 0, 0, 1]), np.array([1, 0, 0, 1, 1]))
    assert cm.compute(s).tolist() == [[1, 1], [1, 2]]
