"""Shared fixtures: fixed seeds everywhere, torch as the parity oracle.

Parity tests take the ``torch`` fixture (or call ``pytest.importorskip("torch")``) so
the suite still runs, minus those tests, where torch is not installed.
"""

import random

import numpy as np
import pytest

SEED = 0


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
    torch.manual_seed(SEED)
    return torch
