"""AUROC against torchmetrics on 200 random cases for the exact (buffered) and
binned modes: every task and average, ties, logits, absent classes, ignore_index,
masks, merge; and the capacity overflow rule."""

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

C = 3


def _case(rng, i):
    task = ("binary", "multiclass", "multilabel")[i % 3]
    # the list has as many thresholds as the int: its values are traced, so both
    # binned configurations share their programs
    thresholds = [None, None, 5, [0.0, 0.2, 0.5, 0.55, 0.9]][i // 3 % 4]
    kw = {"task": task, "thresholds": thresholds}
    averages = ["macro", "weighted", "none"]
    averages += ["micro"] if task == "multilabel" else []
    if task != "binary":
        kw["average"] = averages[rng.integers(len(averages))]
    if rng.random() < 0.25:
        kw["ignore_index"] = -1
    if task == "binary":
        preds, target = scores(rng, (ROWS,)), labels(rng, (ROWS,), 2)
    elif task == "multiclass":
        kw["num_classes"] = C
        preds, target = scores(rng, (ROWS, C)), labels(rng, (ROWS,), C)
    else:
        kw["num_labels"] = C
        preds, target = scores(rng, (ROWS, C)), labels(rng, (ROWS, C), 2)
    if "ignore_index" in kw:
        target = np.where(rng.random(target.shape) < 0.2, -1, target)
    return kw, preds, target


def test_agrees_with_torchmetrics_on_random_cases():
    tm = torchmetrics()
    rng = np.random.default_rng(2)
    for i in range(CASES):
        kw, preds, target = _case(rng, i)
        mask = random_mask(rng)
        want = oracle(tm.functional.auroc, preds[mask], target[mask], **kw)
        metric = metrics.AUROC(**kw, capacity=ROWS)
        one, merged = run_both(metric, preds, target, mask)
        assert_agrees(one, want, f"case {i}: {kw}")
        assert_agrees(merged, want, f"case {i} merged: {kw}")


def test_one_class_only_gives_zero_as_torchmetrics():
    m = metrics.AUROC(task="binary", capacity=4)
    s = m.update(m.init(), np.array([0.1, 0.7, 0.3]), np.array([1, 1, 1]))
    assert float(m.compute(s)) == 0.0


def test_overflowing_the_buffer_gives_nan():
    m = metrics.AUROC(task="binary", capacity=4)
    s = m.update(m.init(), np.linspace(0, 1, 5), np.array([0, 1, 0, 1, 1]))
    assert np.isnan(float(m.compute(s)))
    s = m.update(
        m.init(),
        np.linspace(0, 1, 5),
        np.array([0, 1, 0, 1, 1]),
        mask=np.array([1, 1, 1, 1, 0], bool),
    )
    assert float(m.compute(s)) == 0.75
