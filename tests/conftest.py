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

import inspect
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
    """Register the ``parity`` marker; apply ``JTOOLKIT_TORCH_THREADS`` once, before
    any test runs torch."""
    config.addinivalue_line(
        "markers",
        "parity: compares with torch (set automatically for tests that take the "
        "torch fixture or import torch); .ci/run reruns these under other CPU ISAs",
    )
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


def _xla_isa_lacks_f16c() -> bool:
    """XLA:CPU capped below AVX (``--xla_cpu_max_isa=SSE4_2`` etc., as .ci/run's
    third parity run does): no F16C, and XLA's JIT then cannot link the float16
    conversion routines (``__truncsfhf2``) LLVM calls instead."""
    flags = os.environ.get("XLA_FLAGS", "")
    return "--xla_cpu_max_isa=SSE" in flags


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Under an XLA ISA cap without F16C, a test that fails only because XLA
    cannot compile a float16 conversion ("Failed to materialize symbols") is
    reported as skipped with that reason: an XLA limitation of such CPUs, not a
    parity difference. Any other failure stands."""
    report = yield
    if (
        report.failed
        and call.excinfo is not None
        and "Failed to materialize symbols" in str(call.excinfo.value)
        and _xla_isa_lacks_f16c()
    ):
        report.outcome = "skipped"
        report.longrepr = (
            str(item.path),
            item.location[1] or 0,
            "Skipped: XLA:CPU without F16C cannot compile a float16 conversion "
            "(--xla_cpu_max_isa below AVX)",
        )
    return report


_TORCH_IMPORT = ('importorskip("torch")', "import torch", 'getfixturevalue("torch")')


def _compares_with_torch(item) -> bool:
    """A parity test: it takes the ``torch`` fixture, its function imports torch, or
    its module holds torch as a global (``torch = pytest.importorskip("torch")``)."""
    if "torch" in getattr(item, "fixturenames", ()):
        return True
    function = getattr(item, "function", None)
    if function is None:
        return False
    module = sys.modules.get(function.__module__)
    if getattr(getattr(module, "torch", None), "__name__", "") == "torch":
        return True
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return False
    return any(pattern in source for pattern in _TORCH_IMPORT)


def pytest_collection_modifyitems(config, items):
    """Mark every parity test ``parity`` (``pytest -m parity`` selects them), and
    run the ``slow`` tests first: xdist hands tests out in this order, so the long
    ones start while there is still other work to share instead of ending a run
    with one worker busy and the other idle."""
    for item in items:
        if _compares_with_torch(item):
            item.add_marker(pytest.mark.parity)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
