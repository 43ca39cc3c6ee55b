"""Worker processes for :mod:`jtoolkit.data` (``num_workers > 0``).

While JAX has not started its runtime in this process, workers ``fork`` as torch's do:
they inherit the dataset, nothing is pickled and a script needs no main guard. Once
JAX has started, ``fork`` would deadlock next to its threads, so workers start from a
``forkserver`` (``spawn`` where there is none). The fork server preloads the main
script (as spawn imports it: behind its ``if __name__ == "__main__":`` guard; a script
without one gets a clear error before any process starts), numpy and this module, so
a worker starts in milliseconds; nothing here imports jax. Fork-server workers get
the dataset, collate_fn and worker_init_fn as a pickle with the big arrays in shared
memory, and stay up between passes: each pass sends an ``"epoch"`` task (new seed,
the dataset again, worker_init_fn again), which is what new processes would see.
Each worker has its own task queue and result pipe; batch ``k`` of a pass goes to
the next worker in round-robin order that still has data (``k % num_workers`` for a
map-style dataset, as in torch), so a worker's random stream sees the same samples
on every run. The main process waits on the result pipes and the workers' sentinels
together: a worker that dies is noticed at once, not after a timeout.
"""

from __future__ import annotations

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None
import ast
import multiprocessing as mp
import os
import pickle
import queue
import random
import signal
import sys
import time
import traceback
import weakref
from collections.abc import Iterator
from multiprocessing.connection import wait
from typing import Any, NamedTuple

import numpy as np

from jtoolkit._src.data.fetch import SampleError, StreamEnd, rebuild
from jtoolkit._src.data.shared_memory import dumps_shared, release

__all__ = ["WorkerInfo", "get_worker_info"]


_POLL_PARENT_S = 1.0


_PIPE_BYTES = 1 << 20


_JOIN_S = 1.0


class WorkerInfo(NamedTuple):
    """What ``get_worker_info()`` returns inside a worker (torch's WorkerInfo)."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_WORKER_INFO: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """This worker's id, count, seed and dataset; None in the main process.

    torch.utils.data.get_worker_info.

    Returns:
        A WorkerInfo inside a DataLoader worker, else None.

    Example:
        >>> get_worker_info() is None
        True
    """
    return _WORKER_INFO


def _error_payload(err: BaseException, worker_id: int) -> dict[str, Any]:
    """A picklable description of a loading error raised in a worker."""
    where, original = "", err
    if isinstance(err, SampleError):
        where, original = f" while {err.where}", err.error
    text = "".join(traceback.format_exception(original))
    try:
        blob = pickle.dumps(original)
        pickle.loads(blob)
    except Exception:
        blob = None
    error_type = type(original)
    try:
        pickle.loads(pickle.dumps(error_type))
    except Exception:
        error_type = RuntimeError
    header = f"Caught {type(original).__name__} in DataLoader worker process "
    return {
        "message": f"{header}{worker_id}{where}.\nOriginal {text}",
        "type": error_type,
        "original": blob,
    }


def _seed_worker(seed: int) -> None:
    """Seed ``random``, numpy's global RNG and (if imported) torch, as torch does."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - torch seeds the legacy global RNG
    torch = sys.modules.get("torch")  # never imported here, only seeded if present
    if torch is not None and hasattr(torch, "manual_seed"):
        torch.manual_seed(seed)


def _tasks(tasks: Any) -> Iterator[tuple[Any, ...]]:
    """The tasks sent to this worker, until None or until the parent is gone."""
    parent = mp.parent_process()
    while True:
        try:
            task = tasks.get(timeout=_POLL_PARENT_S)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return
            continue
        if task is None:
            return
        yield task


class _Epoch:
    """A worker's state for one pass: its batch maker, or the error to report."""

    def __init__(self, worker_id: int, num_workers: int, seed: int, payload: Any):
        self.worker_id = worker_id
        self.fetcher, self.error = _init(payload, worker_id, num_workers, seed)
        self.restart()

    def restart(self) -> None:
        """Begin a pass: a new stream for an IterableDataset (a no-op otherwise)."""
        self.ended, self.batches = False, None
        if self.error is None:
            try:
                self.batches = self.fetcher.start()
            except Exception as e:
                self.error = _error_payload(e, self.worker_id)

    def reply(self, gen: int, k: int, indices: Any) -> tuple[int, int, Any, Any]:
        """(gen, k, ok, payload): ok is True, False (error) or None (stream ended)."""
        if self.error is not None or self.batches is None:  # None: error is set
            return (gen, k, False, self.error)
        if self.ended:
            return (gen, k, None, None)
        try:
            return (gen, k, True, self.batches(indices))
        except StreamEnd:
            self.ended = True
            return (gen, k, None, None)
        except Exception as e:
            return (gen, k, False, _error_payload(e, self.worker_id))


def _init(
    payload: Any, worker_id: int, num_workers: int, seed: int
) -> tuple[Any, dict[str, Any] | None]:
    """Seed, load (fetcher, worker_init_fn) and run the latter.

    ``payload`` is the pickle (forkserver, spawn) or the objects themselves (fork).
    Returns the fetcher and None, or None and the error to report with every batch.
    """
    global _WORKER_INFO
    _WORKER_INFO = WorkerInfo(worker_id, num_workers, seed, None)
    _seed_worker(seed)
    try:
        fetcher, worker_init_fn = (
            pickle.loads(payload) if isinstance(payload, bytes) else payload
        )
    except Exception as e:
        return None, _error_payload(e, worker_id)
    _WORKER_INFO = _WORKER_INFO._replace(dataset=fetcher.dataset)
    try:
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
    except Exception as e:
        return None, _error_payload(e, worker_id)
    return fetcher, None


def _worker_loop(
    worker_id: int,
    num_workers: int,
    seed: int,
    payload: Any,
    tasks: Any,
    results: Any,
    inherited_ends: tuple[Any, ...] = (),
) -> None:
    """Body of one worker: fetch whole batches until told to stop (None).

    A forked worker first closes the other workers' pipe ends it inherited, so
    that a pipe's end-of-file and broken-pipe errors reach its own worker.

    A task is ``("epoch", seed, payload)`` (start a pass afresh: reseed, reload the
    dataset, call worker_init_fn), ``("resume",)`` (a new pass of persistent
    workers: only a new ``iter(dataset)`` for a stream, as torch) or ``(gen, k,
    indices)`` (batch ``k`` of pass ``gen``).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C
    for conn in inherited_ends:
        conn.close()
    epoch = None if payload is None else _Epoch(worker_id, num_workers, seed, payload)
    for task in _tasks(tasks):
        if task[0] == "epoch":
            epoch = _Epoch(worker_id, num_workers, task[1], task[2])
            continue
        if epoch is None:  # the main process sends "epoch" before anything else
            raise RuntimeError(f"worker {worker_id}: task {task[0]!r} before an epoch")
        if task[0] == "resume":  # persistent workers: a new pass, same state
            epoch.restart()
            continue
        reply = epoch.reply(*task)
        try:
            results.send(reply)
        except (BrokenPipeError, EOFError, OSError):
            return  # the main process stopped listening: shut down
        except Exception as e:  # the batch does not pickle: say so instead
            results.send((*reply[:2], False, _error_payload(e, worker_id)))


def _jax_started() -> bool:
    """Whether JAX has started its runtime (and its threads) in this process."""
    bridge = sys.modules.get("jax._src.xla_bridge")
    started = getattr(bridge, "backends_are_initialized", None)
    if started is None:
        return "jax" in sys.modules  # unknown jax version: assume the worst
    try:
        return bool(started())
    except Exception:
        return True


def start_method(requested: Any = None) -> str:
    """The start method for new workers: ``fork`` while JAX has not started.

    ``fork`` (torch's default on Linux) costs almost nothing and needs neither
    pickles nor a main guard, but deadlocks next to JAX's runtime threads; once
    JAX has started, ``forkserver`` (``spawn`` where there is none).
    """
    if requested is not None:
        return requested if isinstance(requested, str) else requested.get_start_method()
    methods = mp.get_all_start_methods()
    if "fork" in methods and not _jax_started():
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _context(method: str) -> Any:
    ctx = mp.get_context(method)
    if method == "forkserver":
        # The server imports these once; each worker forks from it. "__main__" is the
        # script (imported as under spawn, main guard respected), so its imports
        # are paid once, not once per worker. No jax unless the script imports it.
        ctx.set_forkserver_preload(["__main__", "numpy", __name__])
    return ctx


def _guarded_lines(path: str) -> list[tuple[int, int]]:
    """Line ranges of the top-level ``if __name__ == "__main__":`` blocks of a file."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return [(0, sys.maxsize)]  # cannot tell: assume guarded
    ranges = []
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_test(node.test):
            ranges.append((node.lineno, node.end_lineno or node.lineno))
    return ranges


def _is_main_test(test: ast.expr) -> bool:
    if not isinstance(test, ast.Compare) or len(test.comparators) != 1:
        return False
    sides = [test.left, test.comparators[0]]
    names = [isinstance(x, ast.Name) and x.id == "__name__" for x in sides]
    consts = [isinstance(x, ast.Constant) and x.value == "__main__" for x in sides]
    return any(names) and any(consts) and isinstance(test.ops[0], ast.Eq)


def check_main_guard(method: str) -> None:
    """Raise before any process starts if the script would run again in a worker.

    Under forkserver and spawn a worker imports the main script; without the
    ``if __name__ == "__main__":`` guard it would run the training again and start
    workers of its own.
    """
    if method == "fork":
        return
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        top = (
            code.co_name == "<module>" and frame.f_globals.get("__name__") == "__main__"
        )
        if top and os.path.isfile(code.co_filename):
            line = frame.f_lineno or 0
            if not any(a <= line <= b for a, b in _guarded_lines(code.co_filename)):
                raise RuntimeError(
                    "DataLoader with num_workers > 0 starts its workers with "
                    f"{method} (fork only while JAX has not started: it deadlocks "
                    "next to JAX's threads), which imports the main script "
                    f"{code.co_filename} again in every worker; line {line} runs "
                    "the DataLoader at the top level of that script, so each "
                    "worker would run it again. Put the script's code under "
                    'if __name__ == "__main__": (or in a main() called from '
                    "there), or use num_workers=0."
                )
        frame = frame.f_back


def _shutdown(
    procs: list[Any], tasks: list[Any], readers: list[Any], segments: dict[int, Any]
) -> None:
    """Stop the workers: ask, then stop reading (a blocked send fails), then kill."""
    for q in tasks:
        try:
            q.put(None)
        except (ValueError, OSError):
            pass
    for r in readers:
        r.close()
    deadline = time.monotonic() + _JOIN_S
    procs = [p for p in procs if p.pid is not None]  # skip never-started ones
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
        p.join()
    for q in tasks:
        q.cancel_join_thread()
        q.close()
    release([seg for _, seg in segments.values()])
    segments.clear()


def _exit_reason(proc: Any) -> str:
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def dumps(fetcher: Any, worker_init_fn: Any, segments: dict[int, Any]) -> bytes:
    """Pickle (fetcher, worker_init_fn), big arrays in shared memory.

    ``segments`` maps ``id(array) -> (array, segment)`` and is updated: an array
    already shipped, unchanged, keeps its segment; segments no longer used are
    released. On any failure the segments made by this call are released.
    """
    try:
        return dumps_shared((fetcher, worker_init_fn), segments)
    except (pickle.PicklingError, AttributeError, TypeError) as e:
        raise RuntimeError(
            "DataLoader with num_workers > 0 pickles the dataset, collate_fn and "
            "worker_init_fn into worker processes (started with forkserver or "
            f"spawn), but pickling failed: {e}. Define them at the top level of a "
            "module (no lambdas, local classes or open handles), or use "
            "num_workers=0."
        ) from e


def _widen(conn: Any) -> None:
    """Give a result pipe 1 MiB (Linux): a batch then crosses in one or few writes."""
    size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if size is not None and fcntl is not None:
        try:
            fcntl.fcntl(conn.fileno(), size, _PIPE_BYTES)
        except OSError:
            pass  # above /proc/sys/fs/pipe-max-size: keep the default


class WorkerPool:
    """``num_workers`` processes that turn index lists into batches.

    With ``fork`` the workers inherit (fetcher, worker_init_fn) and start their
    first pass at once; otherwise they wait for :meth:`new_epoch`, which any pool
    can also receive later to start a pass afresh without new processes.
    """

    def __init__(
        self,
        fetcher: Any,
        num_workers: int,
        base_seed: int,
        worker_init_fn: Any,
        method: str,
    ) -> None:
        ctx = _context(method)
        self.method, self.num_workers = method, num_workers
        self.segments: dict[int, Any] = {}  # id -> (array, shared copy)
        self.tasks: list[Any] = []
        self.readers: list[Any] = []
        self.procs: list[Any] = []
        self._finalizer = weakref.finalize(
            self, _shutdown, self.procs, self.tasks, self.readers, self.segments
        )
        self.generation = 0
        try:
            self._start(ctx, fetcher, worker_init_fn, base_seed)
        except BaseException:
            self.close()
            raise

    def _start(self, ctx: Any, fetcher: Any, init_fn: Any, base_seed: int) -> None:
        inherited = (fetcher, init_fn) if self.method == "fork" else None
        self.tasks.extend(ctx.Queue() for _ in range(self.num_workers))
        pipes = [ctx.Pipe(duplex=False) for _ in range(self.num_workers)]
        self.readers.extend(r for r, _ in pipes)
        for reader in self.readers:
            _widen(reader)
        try:
            for wid, (_, writer) in enumerate(pipes):
                args = (wid, self.num_workers, base_seed + wid, inherited)
                args += (self.tasks[wid], writer)
                if inherited is not None:  # fork: every pipe end so far is inherited
                    others = [w for i, (_, w) in enumerate(pipes) if i != wid]
                    args += ((*self.readers, *others),)
                proc = ctx.Process(target=_worker_loop, args=args, daemon=True)
                self.procs.append(proc)
                proc.start()
        finally:
            for _, writer in pipes:
                writer.close()
        if inherited is None:
            self.new_epoch(fetcher, init_fn, base_seed)

    def new_epoch(self, fetcher: Any, worker_init_fn: Any, base_seed: int) -> None:
        """Start a pass afresh: worker ``i`` reseeds with ``base_seed + i``, reloads
        the dataset as it is now and calls ``worker_init_fn(i)``."""
        blob = dumps(fetcher, worker_init_fn, self.segments)
        for wid, q in enumerate(self.tasks):
            q.put(("epoch", base_seed + wid, blob))

    def resume(self) -> None:
        """A new pass of persistent workers: streams restart, nothing else."""
        for q in self.tasks:
            q.put(("resume",))

    def close(self) -> None:
        """Stop every worker now (idempotent)."""
        self._finalizer()

    @property
    def alive(self) -> bool:
        """Whether the pool still runs."""
        return self._finalizer.alive

    def put(self, worker: int, task: tuple[int, int, Any]) -> None:
        """Send a task to worker ``worker``."""
        self.tasks[worker].put(task)

    def receive(self, timeout: float, worker: int = 0) -> tuple[int, int, Any, Any]:
        """The next reply of any worker; RuntimeError on a dead worker or timeout.

        Worker ``worker`` (the one expected next) is asked first: usually its reply
        is already there and one cheap poll beats waiting on every pipe and
        sentinel.
        """
        expected = self.readers[worker]
        if expected.poll():
            try:
                return expected.recv()
            except EOFError:
                pass  # its worker is gone: reported below
        sentinels = {p.sentinel: p for p in self.procs}
        deadline = time.monotonic() + timeout if timeout > 0 else None
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = wait([*self.readers, *sentinels], timeout=left)
            for conn in self.readers:
                if conn in ready:
                    try:
                        return conn.recv()
                    except EOFError:
                        break  # its worker is gone: report it below
            dead = [p for p in self.procs if not p.is_alive()]
            if dead:
                self.close()
                pids = ", ".join(str(p.pid) for p in dead)
                reasons = ", ".join(_exit_reason(p) for p in dead)
                raise RuntimeError(
                    f"DataLoader worker (pid(s) {pids}) exited unexpectedly "
                    f"({reasons}). The out-of-memory killer or a crash in native "
                    "code can do this; num_workers=0 shows the error in the main "
                    "process."
                )
            if deadline is not None and time.monotonic() >= deadline:
                self.close()
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds")


def raise_from_worker(payload: dict[str, Any]) -> None:
    """Re-raise a worker's error in the main process, original chained if possible."""
    original = None
    if payload["original"] is not None:
        try:
            original = pickle.loads(payload["original"])
        except Exception:
            original = None
    err = rebuild(payload["type"], payload["message"])
    try:
        raise err from original
    finally:  # no cycle error -> traceback -> this frame -> error: the pass (and
        del err, original  # its workers) can go as soon as the error is dropped
