"""torchmetrics' numbers as pure states: jtoolkit.metrics in a jitted eval loop.

Each metric is init/update/merge/compute; update is jitted once and takes a mask
for the padded last batch. Run: python examples/interop/metrics.py
"""

import jax
import numpy as np

from jtoolkit import metrics

rng = np.random.default_rng(0)
logits = rng.standard_normal((103, 5)).astype(np.float32)
labels = rng.integers(0, 5, 103)
suite = {
    "accuracy": metrics.Accuracy(task="multiclass", num_classes=5),
    "top2": metrics.Accuracy(task="multiclass", num_classes=5, top_k=2),
    "f1_macro": metrics.F1Score(task="multiclass", num_classes=5, average="macro"),
    "auroc": metrics.AUROC(task="multiclass", num_classes=5, capacity=128),
}
states = {name: m.init() for name, m in suite.items()}


@jax.jit
def update(states, preds, target, mask):
    return {n: suite[n].update(states[n], preds, target, mask) for n in suite}


for start in range(0, 103, 32):  # batches of 32, the last one padded
    preds = np.zeros((32, 5), np.float32)
    target = np.zeros(32, np.int64)
    rows = slice(start, min(start + 32, 103))
    n = rows.stop - rows.start
    preds[:n], target[:n] = logits[rows], labels[rows]
    states = update(states, preds, target, np.arange(32) < n)
for name, m in suite.items():
    print(f"{name}: {float(m.compute(states[name])):.4f}")
