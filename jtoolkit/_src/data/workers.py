"""Worker processes for :mod:`jtoolkit.data` (``num_workers > 0``).

Workers start with ``forkserver`` (``spawn`` where there is none): ``fork`` next to an
initialised JAX deadlocks. The fork server preloads the main script (as spawn imports
it: behind its ``if __name__ == "__main__":`` guard), numpy and this module, so a
worker starts in milliseconds; nothing here imports jax. The dataset, collate_fn and
worker_init_fn are pickled once per pool, their big arrays placed in shared memory
(``_data_share``). Each worker has its own task
queue and result pipe; batch ``k`` of a pass always goes to worker ``k % num_workers``
(as in torch), so a worker's random stream sees the same samples on every run. The
main process waits on the result pipes and the workers' sentinels together: a worker
that dies is noticed at once, not after a timeout.
"""

from __future__ import annotations

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None
import multiprocessing as mp
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

from jtoolkit._src.data.fetch import _SampleError, rebuild
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
    if isinstance(err, _SampleError):
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


def _tasks(tasks: Any) -> Iterator[tuple[int, int, Any]]:
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


def _init(blob: bytes, worker_id: int) -> tuple[Any, dict[str, Any] | None]:
    """Unpickle (fetcher, worker_init_fn) and run the latter.

    Returns the fetcher and None, or None and the error to report with every batch.
    """
    try:
        fetcher, worker_init_fn = pickle.loads(blob)
    except Exception as e:
        return None, _error_payload(e, worker_id)
    global _WORKER_INFO
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
    blob: bytes,
    tasks: Any,
    results: Any,
) -> None:
    """Body of one worker: fetch whole batches until told to stop (None)."""
    global _WORKER_INFO
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C
    _WORKER_INFO = WorkerInfo(worker_id, num_workers, seed, None)
    _seed_worker(seed)
    fetcher, init_error = _init(blob, worker_id)
    for gen, k, indices in _tasks(tasks):
        if init_error is not None:
            reply = (gen, k, False, init_error)
        else:
            try:
                reply = (gen, k, True, fetcher(indices))
            except Exception as e:
                reply = (gen, k, False, _error_payload(e, worker_id))
        try:
            results.send(reply)
        except (BrokenPipeError, EOFError, OSError):
            return  # the main process stopped listening: shut down
        except Exception as e:  # the batch does not pickle: say so instead
            results.send((gen, k, False, _error_payload(e, worker_id)))


def _context() -> Any:
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        # The server imports these once; each worker forks from it. "__main__" is the
        # script (imported as under spawn, main guard respected), so its imports
        # are paid once, not once per worker. No jax unless the script imports it.
        ctx.set_forkserver_preload(["__main__", "numpy", __name__])
        return ctx
    return mp.get_context("spawn")


def _shutdown(
    procs: list[Any], tasks: list[Any], readers: list[Any], segments: list[Any]
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
    release(segments)


def _exit_reason(proc: Any) -> str:
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _dumps(fetcher: Any, worker_init_fn: Any, segments: list[Any]) -> bytes:
    try:
        return dumps_shared((fetcher, worker_init_fn), segments)
    except (pickle.PicklingError, AttributeError, TypeError) as e:
        release(segments)
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
    if size is not None:
        try:
            fcntl.fcntl(conn.fileno(), size, _PIPE_BYTES)
        except OSError:
            pass  # above /proc/sys/fs/pipe-max-size: keep the default


class WorkerPool:
    """``num_workers`` processes that turn index lists into batches."""

    def __init__(
        self, fetcher: Any, num_workers: int, base_seed: int, worker_init_fn: Any
    ) -> None:
        ctx = _context()
        self.num_workers = num_workers
        self.segments: list[Any] = []  # shared copies of the dataset's big arrays
        blob = _dumps(fetcher, worker_init_fn, self.segments)
        self.tasks = [ctx.Queue() for _ in range(num_workers)]
        pipes = [ctx.Pipe(duplex=False) for _ in range(num_workers)]
        self.readers = [r for r, _ in pipes]
        for reader in self.readers:
            _widen(reader)
        self.procs = []
        for wid, (tasks, (_, writer)) in enumerate(zip(self.tasks, pipes, strict=True)):
            args = (wid, num_workers, base_seed + wid, blob, tasks, writer)
            proc = ctx.Process(target=_worker_loop, args=args)
            proc.daemon = True
            self.procs.append(proc)
        self._finalizer = weakref.finalize(
            self, _shutdown, self.procs, self.tasks, self.readers, self.segments
        )
        try:
            for proc in self.procs:
                proc.start()
        except BaseException:
            self.close()
            raise
        finally:
            for _, writer in pipes:
                writer.close()
        self.generation = 0

    def close(self) -> None:
        """Stop every worker now (idempotent)."""
        self._finalizer()

    @property
    def alive(self) -> bool:
        """Whether the pool still runs."""
        return self._finalizer.alive

    def put(self, k: int, task: tuple[int, int, Any]) -> None:
        """Send batch ``k`` of the pass to worker ``k % num_workers``."""
        self.tasks[k % self.num_workers].put(task)

    def receive(self, timeout: float, k: int = 0) -> tuple[int, int, bool, Any]:
        """The next reply of any worker; RuntimeError on a dead worker or timeout.

        Batch ``k``'s worker is asked first: usually its reply is already there and
        one cheap poll beats waiting on every pipe and sentinel.
        """
        expected = self.readers[k % self.num_workers]
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
    raise err from original
