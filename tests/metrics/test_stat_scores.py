"""Accuracy, Precision, Recall, F1Score against torchmetrics on 200 random cases
each (binary, multiclass with top-k and ignore_index, multilabel; every average;
absent classes and zero divisions included), plus merge and mask."""

from __future__ import annotations

import numpy as np
import pytest

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

NAMES = {
    "Accuracy": "accuracy",
    "Precision": "precision",
    "Recall": "recall",
    "F1Score": "f1_score",
}
C = 4


def _case(rng: np.random.Generator, i: int):
    """(kwargs, preds, target) for case ``i``: the task cycles, the rest is random."""
    task = ("binary", "multiclass", "multilabel")[i % 3]
    average = ("micro", "macro", "weighted", "none")[rng.integers(4)]
    kw = {"task": task, "average": average}
    if rng.random() < 0.3:
        kw["ignore_index"] = int(rng.choice([-1, 0])) if task != "binary" else -1
    if task == "binary":
        kw["threshold"] = float(rng.choice([0.5, 0.3]))
        target = labels(rng, (ROWS,), 2)
        preds = scores(rng, (ROWS,)) if rng.random() < 0.7 else labels(rng, (ROWS,), 2)
    elif task == "multiclass":
        kw["num_classes"] = C
        kw["top_k"] = int(rng.choice([1, 1, 2]))
        target = labels(rng, (ROWS,), C)
        if kw["top_k"] == 1 and rng.random() < 0.3:
            preds = labels(rng, (ROWS,), C)
        elif kw["top_k"] == 1:
            preds = scores(rng, (ROWS, C))
        else:  # torch.topk breaks ties in no documented order: no ties here
            preds = rng.standard_normal((ROWS, C)).astype(np.float32)
    else:
        kw["num_labels"] = C
        target = labels(rng, (ROWS, C), 2)
        preds = scores(rng, (ROWS, C))
    if "ignore_index" in kw:  # 0 is also a real class: its rows are dropped
        hole = rng.random(target.shape) < 0.2
        target = np.where(hole, kw["ignore_index"], target)
    return kw, preds, target


@pytest.mark.parametrize("name", sorted(NAMES))
def test_agrees_with_torchmetrics_on_random_cases(name):
    tm = torchmetrics()
    rng = np.random.default_rng(sorted(NAMES).index(name))  # fixed per metric
    fn = getattr(tm.functional, NAMES[name])
    for i in range(CASES):
        kw, preds, target = _case(rng, i)
        mask = random_mask(rng)
        want = oracle(fn, preds[mask], target[mask], **kw)
        one, merged = run_both(getattr(metrics, name)(**kw), preds, target, mask)
        assert_agrees(one, want, f"case {i}: {kw}")
        assert_agrees(merged, want, f"case {i} merged: {kw}")


def test_zero_division_follows_torchmetrics():
    """No predicted positive: precision is zero_division (0 or 1), as torchmetrics."""
    tm = torchmetrics()
    preds, target = np.zeros(6, np.float32), np.array([0, 1, 0, 1, 1, 0])
    for zd in (0.0, 1.0):
        m = metrics.Precision(task="binary", zero_division=zd)
        got = m.compute(m.update(m.init(), preds, target))
        want = oracle(
            tm.functional.precision, preds, target, task="binary", zero_division=zd
        )
        assert float(got) == float(want) == zd


def test_macro_leaves_out_absent_classes():
    """Class 3 never appears: macro recall averages over the 3 others (torchmetrics)."""
    m = metrics.Recall(task="multiclass", num_classes=4, average="macro")
    s = m.update(m.init(), np.array([0, 1, 2, 0]), np.array([0, 1, 1, 2]))
    assert float(m.compute(s)) == pytest.approx((1 + 0.5 + 0) / 3)


def test_masked_rows_count_nowhere():
    m = metrics.Accuracy(task="multiclass", num_classes=3)
    preds, target = np.array([0, 1, 2, 2]), np.array([0, 1, 1, 0])
    s = m.update(m.init(), preds, target, mask=np.array([True, True, False, False]))
    assert float(m.compute(s)) == 1.0


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        metrics.Accuracy(task="multiclass")
    with pytest.raises(ValueError, match="task must be one of"):
        metrics.F1Score(task="regression")
    with pytest.raises(ValueError, match="top_k must be <= num_classes"):
        metrics.Accuracy(task="multiclass", num_classes=3, top_k=4)
    m = metrics.Accuracy(task="binary")
    with pytest.raises(ValueError, match=r"mask must have shape \[3\]"):
        m.update(m.init(), np.zeros(3), np.zeros(3, int), mask=np.ones(2, bool))
