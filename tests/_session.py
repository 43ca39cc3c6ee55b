"""The test session's memory and compile accounting, for every test item: the
tests under ``tests/`` and the docstring examples under ``jtoolkit/``
(``--doctest-modules``), which is why the root conftest.py loads this as a plugin
rather than ``tests/conftest.py`` defining it (a folder's conftest reaches only the
items below that folder; the ~490 doctests had no cleanup and grew one worker to
3.7 GiB).

* each module's compiled programs are released when it ends, and a worker above
  ``RSS_LIMIT_GIB`` after a test releases them there and then;
* the summary prints each worker's peak RSS, the modules that raised it most or
  kept the most, and the modules that spent the most time compiling.
"""

import ctypes
import gc
import os
import resource
import sys

import pytest

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
