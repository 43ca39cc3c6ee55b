"""Shared pieces of the metrics tests: random cases and the torchmetrics oracle.

Every case draws a fixed-shape batch (so one jitted function per configuration
serves all cases) and a random row mask; torchmetrics sees only the valid rows.
``run_both`` returns jtoolkit's value from one update and from two half-batch
updates merged, so every parity case also checks ``merge``. The halves are masks
over the whole batch (rows before / from the middle), not slices: every update
then has the one batch shape, so the eager programs compiled for the first case
serve the others (a slice's half shape compiled a second set per configuration).
``test_protocol`` updates on other batch sizes (a batch split over eight devices).
``compiled_programs`` lists the programs JAX compiles in a block.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np

ROWS = 24
CASES = 200


def torchmetrics():
    import pytest

    return pytest.importorskip("torchmetrics")


def oracle(fn, *args, **kwargs) -> np.ndarray:
    """torchmetrics' value as numpy (its zero-division/empty-class warnings muted)."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        args = [torch.from_numpy(np.asarray(a)) for a in args]
        return np.asarray(fn(*args, **kwargs), dtype=np.float64)


@contextlib.contextmanager
def compiled_programs() -> Iterator[list[str]]:
    """The names of the programs JAX compiles (or reads from the persistent cache)
    inside the block, from its ``backend_compile`` events."""
    from jax import monitoring

    names: list[str] = []

    def listen(event: str, duration: float, **kwargs) -> None:
        del duration
        if event == "/jax/core/compile/backend_compile_duration":
            names.append(str(kwargs.get("fun_name", "?")))

    monitoring.register_event_duration_secs_listener(listen)
    try:
        yield names
    finally:
        monitoring.unregister_event_duration_listener(listen)


def _both(metric):
    """(value of one update, value of two merged half updates), called as a user
    would, eagerly: each method is one jitted program per configuration
    (``test_protocol`` checks the user-jitted and sharded paths)."""

    def both(preds, target, mask):
        one = metric.compute(metric.update(metric.init(), preds, target, mask))
        first = np.arange(preds.shape[0]) < preds.shape[0] // 2
        a = metric.update(metric.init(), preds, target, mask & first)
        b = metric.update(metric.init(), preds, target, mask & ~first)
        return one, metric.compute(metric.merge(a, b))

    return both


def run_both(metric, preds, target, mask) -> tuple[np.ndarray, np.ndarray]:
    one, merged = _both(metric)(preds, target, mask)
    return np.asarray(one, np.float64), np.asarray(merged, np.float64)


def random_mask(rng: np.random.Generator, rows: int = ROWS) -> np.ndarray:
    """Mostly valid rows, never none: a padded tail or random holes."""
    if rng.random() < 0.5:
        mask = np.arange(rows) < rng.integers(1, rows + 1)
    else:
        mask = rng.random(rows) < 0.8
        mask[rng.integers(rows)] = True
    return mask


def labels(rng: np.random.Generator, shape, classes: int) -> np.ndarray:
    """Class labels; a third of the cases leave some classes out entirely."""
    if rng.random() < 0.33:
        present = rng.choice(classes, size=rng.integers(1, classes), replace=False)
        return rng.choice(present, size=shape).astype(np.int64)
    return rng.integers(0, classes, size=shape).astype(np.int64)


def scores(rng: np.random.Generator, shape) -> np.ndarray:
    """Probabilities, logits (all outside [0, 1]) or coarse values with ties."""
    kind = rng.integers(3)
    if kind == 0:
        return rng.random(shape).astype(np.float32)
    if kind == 1:  # every value outside [0, 1]: any non-empty update normalizes
        # (the sigmoid/softmax decision is per update call, in torchmetrics too, so
        # a half batch of logits that happen to lie in [0, 1] would not be comparable)
        n = rng.standard_normal(shape)
        return (np.sign(n) * (1.1 + 3 * np.abs(n))).astype(np.float32)
    return (rng.integers(0, 5, size=shape) / 4).astype(np.float32)


def assert_agrees(got: np.ndarray, want: np.ndarray, what: str) -> None:
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=what)
