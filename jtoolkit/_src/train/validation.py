"""Validation in ``fit``: the eval step and metric objects over padded batches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
from flax import nnx

from jtoolkit._src.data.loader import DataLoader
from jtoolkit._src.data.samplers import DistributedSampler, SequentialSampler
from jtoolkit._src.train.model_state import set_mode

__all__ = [
    "default_predict",
    "evaluate",
    "lr_of",
    "metric_updater",
    "shard_validation",
]


def default_predict(model: nnx.Module, batch: Any) -> tuple[Any, Any]:
    """``(model(x), y)`` for an ``(x, y)`` batch: what ``fit(metrics=)`` scores.

    Example:
        >>> default_predict(lambda x: x * 2, (np.ones(2), np.zeros(2)))[0].tolist()
        [2.0, 2.0]
    """
    x, y = batch[0], batch[1]
    return model(x), y


def shard_validation(loader: Any, mesh: Any) -> Any:
    """This process's share of a validation ``DataLoader`` when a mesh spans
    several processes: the same loader over a ``DistributedSampler(shuffle=False)``
    (its padding copies masked by the feeder), so each process evaluates
    ``1/process_count`` of the rows and the eval step's global sums are exact.

    Any other loader (already sharded, shuffled, ``drop_last``, a custom sampler,
    one process, no mesh) is returned as it is.

    Example:
        >>> loader = DataLoader(range(6), batch_size=2)
        >>> shard_validation(loader, None) is loader
        True
    """
    if mesh is None or jax.process_count() == 1 or not isinstance(loader, DataLoader):
        return loader
    if type(loader.sampler) is not SequentialSampler or loader.batch_size is None:
        return loader
    if loader.drop_last:
        return loader
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=DistributedSampler(loader.dataset, shuffle=False),
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context,
        prefetch_factor=loader.prefetch_factor if loader.num_workers else None,
        persistent_workers=loader.persistent_workers,
        seed=loader.seed,
    )


def metric_updater(metrics: Mapping[str, Any], predict: Callable | None) -> Callable:
    """One jitted ``update(state, batch, mask, states) -> states`` for all metrics:
    predictions in eval mode, each metric updated with the rows ``mask`` keeps."""
    predict = predict or default_predict

    def update(state: Any, batch: Any, mask: Any, states: dict) -> dict:
        module = nnx.merge(state.graphdef, state.model.variables)
        set_mode(module, train=False)
        preds, target = predict(module, batch)
        return {
            name: m.update(states[name], preds, target, mask=mask)
            for name, m in metrics.items()
        }

    return jax.jit(update)


def evaluate(
    eval_step: Callable | None,
    state: Any,
    feeder: Iterable,
    metrics: Mapping[str, Any] | None = None,
    updater: Callable | None = None,
) -> dict[str, float]:
    """Validation metrics (``val_<name>``): the eval step's, weighted by each
    batch's real rows, and each metric object's ``compute``.

    A step whose metrics are scalars gets the real rows of a padded batch only
    (sliced on the device; one more compile for that shape).
    """
    sums: dict[str, float] = {}
    total = 0.0
    states = {name: m.init() for name, m in (metrics or {}).items()}
    use_mask = None
    for feed in feeder:
        batch, mask = feed.batch, feed.mask
        if updater is not None:
            states = updater(state, batch, mask, states)
        if eval_step is None:
            continue
        if use_mask is None:
            use_mask = eval_step.takes_mask(state, batch, mask)
        if not use_mask:
            batch = jax.tree.map(lambda x, n=feed.rows[0]: x[:n], batch)
            mask = None
        out = jax.device_get(eval_step(state, batch, mask))  # HOST SYNC per batch
        count = float(out.pop("count"))
        total += count
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + float(v) * count
    record = {f"val_{k}": v / max(total, 1.0) for k, v in sums.items()}
    for name, m in (metrics or {}).items():
        record[f"val_{name}"] = float(m.compute(states[name]))
    return record


def lr_of(opt_state: Any) -> float | None:
    """The optimizer's current learning rate as a float (None if it holds none)."""
    try:
        from jtoolkit._src.optim.lr import current_lr

        lr = current_lr(opt_state)
    except (ValueError, TypeError, AttributeError, ImportError):
        return None
    if isinstance(lr, list):
        lr = lr[0]
    return float(lr)
