"""Shared fixtures: fixed seeds everywhere, torch as the parity oracle.

Parity tests take the ``torch`` fixture (or call ``pytest.importorskip("torch")``) so
the suite still runs, minus those tests, where torch is not installed.

``JTOOLKIT_TORCH_THREADS=n`` pins torch's intra-op threads to ``n`` for the whole
run (``torch.set_num_threads``), e.g. to check that parity tolerances do not depend
on torch's threading, or to stop torch's threads from contending on a loaded CI
machine. This folder is on ``sys.path`` so tests in ``tests/<area>/`` can
``import parity`` (the accumulated-rounding tolerance rule, tests/parity.py).

Layout: ``tests/<area>/test_<idea>.py`` tests ``jtoolkit/_src/<area>/<idea>.py``;
helpers shared by an area's tests live in ``tests/<area>/_harness.py`` and are
imported as ``from tests.<area>._harness import ...`` (``tests`` and each area are
packages, so equal basenames in two areas, e.g. ``test_embedding.py``, do not clash).
"""

import os
import random
import sys

import numpy as np
import pytest

SEED = 0
# One intra-op thread by default: the oracle needs no speed, and with `pytest -n 2`
# two workers' OpenMP pools on 2 cores stall each other (0.3-1.1 s per 50-step
# torch run against 0.02-0.04 s at 1 thread). JTOOLKIT_TORCH_THREADS=2 runs the
# suite with torch at 2 threads (the tolerances hold at both).
TORCH_THREADS = os.environ.get("JTOOLKIT_TORCH_THREADS", "1")

if os.path.dirname(__file__) not in sys.path:  # also under --import-mode=importlib
    sys.path.insert(0, os.path.dirname(__file__))


def pytest_configure(config):
    """Apply ``JTOOLKIT_TORCH_THREADS`` once, before any test runs torch."""
    if TORCH_THREADS:
        try:
            import torch
        except ImportError:
            return
        torch.set_num_threads(int(TORCH_THREADS))


@pytest.fixture(autouse=True)
def _fixed_seeds():
    """Every test starts from the same Python and numpy global seeds."""
    random.seed(SEED)
    np.random.seed(SEED)  # noqa: NPY002 (code under test may use the legacy global RNG)
    yield


@pytest.fixture
def rng() -> np.random.Generator:
    """A numpy Generator seeded identically for every test."""
    return np.random.default_rng(SEED)


@pytest.fixture
def torch():
    """The real torch (the parity oracle), seeded; the test is skipped without it."""
    torch = pytest.importorskip("torch")
    if TORCH_THREADS:
        assert torch.get_num_threads() == int(TORCH_THREADS), "set by pytest_configure"
    torch.manual_seed(SEED)
    return torch
