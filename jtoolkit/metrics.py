"""torchmetrics-style metrics as pure, jittable, mergeable states.

torch: ``torchmetrics`` (``Accuracy``, ``Precision``, ...), same constructor
arguments and numbers. A metric is a frozen configuration; its state is a pytree of
sufficient statistics handled by four pure methods, so it runs inside ``jit``, under
a mesh and across processes::

    state = metric.init()
    state = metric.update(state, preds, target, mask=None)  # mask: valid rows
    state = metric.merge(state_a, state_b)                   # shards / processes
    value = metric.compute(state)

``mask`` marks the valid rows of a padded batch: padded rows contribute nothing.
Merging adds counts and sums (AUROC's exact mode appends its score buffer), so a
data-parallel evaluation merges per-device states with one ``psum`` or a fold of
``merge`` over gathered states. Differences from torchmetrics: no object mutation
(``metric(preds, target)`` becomes ``update`` then ``compute``); only
``multidim_average="global"``; AUROC's exact mode keeps at most ``capacity`` rows.

Example:
    >>> from jtoolkit.metrics import F1Score
    >>> f1 = F1Score(task="multiclass", num_classes=3, average="macro")
    >>> s = f1.update(f1.init(), jnp.array([0, 1, 2, 2]), jnp.array([0, 1, 1, 2]))
    >>> round(float(f1.compute(s)), 4)
    0.7778
"""

from jtoolkit._src.metrics.aggregation import MeanMetric, Perplexity
from jtoolkit._src.metrics.auroc import AUROC
from jtoolkit._src.metrics.confusion import ConfusionMatrix
from jtoolkit._src.metrics.mean_errors import MeanAbsoluteError, MeanSquaredError
from jtoolkit._src.metrics.stat_scores import Accuracy, F1Score, Precision, Recall

__all__ = [
    "AUROC",
    "Accuracy",
    "ConfusionMatrix",
    "F1Score",
    "MeanAbsoluteError",
    "MeanMetric",
    "MeanSquaredError",
    "Perplexity",
    "Precision",
    "Recall",
]
