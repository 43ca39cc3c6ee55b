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

import ctypes
import gc
import inspect
import os
import random
import resource
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


_MODULE_RSS: dict[str, tuple[float, float]] = {}  # module -> (peak rise, kept) GiB
# module -> [programs compiled or read from the persistent cache, of those read
# from the cache, seconds in JAX's trace/lower/compile pipeline]
_MODULE_COMPILES: dict[str, list[float]] = {}
_CURRENT_MODULE = ["<collection>"]
_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


def _count_compile(event: str, duration: float, **_: object) -> None:
    """(jax.monitoring listener) Charge JAX's compile-pipeline time to the module
    that is running: compilation, not the code under test, is most of the suite's
    time, so the summary names the modules that compile most."""
    if event in _COMPILE_EVENTS:
        entry = _MODULE_COMPILES.setdefault(_CURRENT_MODULE[0], [0, 0, 0.0])
        entry[0] += event == _COMPILE_EVENTS[-1]
        entry[2] += duration


def _count_cache_hit(event: str, **_: object) -> None:
    """(jax.monitoring listener) A program read back from the persistent cache
    (JAX reports it as a backend compile too)."""
    if event == "/jax/compilation_cache/cache_hits":
        _MODULE_COMPILES.setdefault(_CURRENT_MODULE[0], [0, 0, 0.0])[1] += 1


def _listen_to_compiles() -> None:
    try:
        from jax import monitoring
    except ImportError:  # pragma: no cover - jax is a dependency
        return
    monitoring.register_event_duration_secs_listener(_count_compile)
    monitoring.register_event_listener(_count_cache_hit)


_listen_to_compiles()


def _rss_gib() -> float:
    """This process's resident set size now (``/proc/self/statm``, Linux)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**30


@pytest.fixture(autouse=True, scope="module")
def _release_jax_caches_after_each_module(request):
    """Free each test module's compiled programs when it ends.

    JAX keeps every jitted function's executables (and tracing caches) for the whole
    process; over ~100 modules a worker grew to ~4 GB. A module's programs are not
    reused by the next module, so clearing them costs nothing and keeps a worker's
    peak near that of its largest module. ``malloc_trim`` hands the freed pages back.
    ``JTOOLKIT_KEEP_JAX_CACHES=1`` keeps them (to measure the difference).

    Also records how far the module raised this process's peak RSS and how much
    it left resident after the cleanup (the summary lists the largest of each).
    """
    peak_before, rss_before = _peak_rss_gib(), _rss_gib()
    name = getattr(request.module, "__name__", str(request.node.nodeid))
    _CURRENT_MODULE[0] = name
    yield
    try:
        if os.environ.get("JTOOLKIT_KEEP_JAX_CACHES") != "1":
            _release_memory()
    finally:
        _MODULE_RSS[name] = (_peak_rss_gib() - peak_before, _rss_gib() - rss_before)


# A worker whose resident set passes this many GiB after a test drops JAX's
# compiled programs there and then, not only at the end of its module: each
# program holds ~2 MB, and a module comparing whole converted models compiles
# hundreds (tests/interop/test_graph rose 1.4 GiB). Programs needed again are
# read back from the session's persistent compilation cache. A worker holds
# ~0.5 GiB after collection and one test adds at most ~0.7 GiB (converting and
# comparing a ResNet), so 1.25 keeps the peak under issue #25's 2 GB.
RSS_LIMIT_GIB = float(os.environ.get("JTOOLKIT_TEST_RSS_LIMIT_GIB", "1.25"))


@pytest.fixture(autouse=True)
def _bound_memory_per_test():
    """Keep a worker under ``RSS_LIMIT_GIB`` (issue #25: <= 2 GB per worker)."""
    yield
    if os.environ.get("JTOOLKIT_KEEP_JAX_CACHES") != "1" and _rss_gib() > RSS_LIMIT_GIB:
        _release_memory()


def _release_memory() -> None:
    """Drop JAX's compiled programs, collect, and give freed pages back."""
    jax = sys.modules.get("jax")
    if jax is not None:
        jax.clear_caches()
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass


_PEAKS = pytest.StashKey[dict]()  # xdist worker id -> its peak RSS in GiB


def _peak_rss_gib() -> float:
    """This process's peak resident set size (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


_MODULES = pytest.StashKey[dict]()  # module -> (peak rise, kept) GiB, all workers
_COMPILES = pytest.StashKey[dict]()  # module -> [programs, seconds], all workers
_TOP_MODULES = 8


def pytest_sessionfinish(session):
    """An xdist worker hands its peak RSS and per-module RSS to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["peak_rss_gib"] = _peak_rss_gib()
        workeroutput["module_rss_gib"] = dict(_MODULE_RSS)
        workeroutput["module_compiles"] = dict(_MODULE_COMPILES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """(xdist controller) Collect each worker's peak RSS, per-module RSS and
    per-module compilations."""
    output = getattr(node, "workeroutput", {})
    peak = output.get("peak_rss_gib")
    if peak is not None:
        node.config.stash.setdefault(_PEAKS, {})[node.gateway.id] = peak
    modules = node.config.stash.setdefault(_MODULES, {})
    for name, (rise, kept) in output.get("module_rss_gib", {}).items():
        old_rise, old_kept = modules.get(name, (0.0, 0.0))
        modules[name] = (max(rise, old_rise), max(kept, old_kept))
    compiles = node.config.stash.setdefault(_COMPILES, {})
    for name, counts in output.get("module_compiles", {}).items():
        old = compiles.get(name, (0, 0, 0.0))
        compiles[name] = tuple(a + b for a, b in zip(old, counts, strict=True))


def pytest_terminal_summary(terminalreporter, config):
    """The peak RSS of each worker (or of this process), the modules that raised a
    peak the most or kept the most memory after their cleanup, and the modules
    that spent the most time compiling (JAX's trace, lower and compile, summed
    over workers; the total first)."""
    peaks = config.stash.get(_PEAKS, {}) or {"main": _peak_rss_gib()}
    terminalreporter.write_line(
        "peak RSS per pytest process: "
        + ", ".join(f"{k} {v:.2f} GiB" for k, v in sorted(peaks.items()))
    )
    modules = config.stash.get(_MODULES, {}) or _MODULE_RSS
    for index, what in ((0, "raised the peak RSS most"), (1, "kept the most RSS")):
        top = sorted(modules.items(), key=lambda kv: -kv[1][index])[:_TOP_MODULES]
        top = [(name, v[index]) for name, v in top if v[index] >= 0.01]
        if top:
            terminalreporter.write_line(
                f"modules that {what}: "
                + ", ".join(f"{name} {gib:+.2f} GiB" for name, gib in top)
            )
    compiles = config.stash.get(_COMPILES, {}) or _MODULE_COMPILES
    if compiles:
        values = compiles.values()
        programs, hits, seconds = (sum(v[i] for v in values) for i in range(3))
        top = sorted(compiles.items(), key=lambda kv: -kv[1][2])[:_TOP_MODULES]
        terminalreporter.write_line(
            f"JAX compiled {programs - hits} programs and read {hits} from the "
            f"persistent cache, {seconds:.0f} s in all; most in: "
            + ", ".join(f"{name} {n - h} ({s:.0f} s)" for name, (n, h, s) in top)
        )
