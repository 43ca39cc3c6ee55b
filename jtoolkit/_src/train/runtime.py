"""A process's life in a multi-process job: fail fast, agree, hear preemption.

torchrun's and DDP's runtime duties, on JAX's coordinator:

- **fail fast**: an uncaught error prints its traceback once and ends the process
  with its code at once (``os._exit``), instead of waiting up to 300 s in JAX's
  shutdown barrier while the peers sit in a collective (``install_fail_fast``);
- **agree**: after connecting, every process checks its process count, jtoolkit
  version and configuration against process 0's through the coordinator's key-value
  store (``agree_across_processes``);
- **preemption**: SIGTERM sets a flag that the training loop polls at step
  boundaries (``preemption_requested``); with several processes JAX's preemption
  sync manager makes every process answer True at the same step.

Everything here is host-side Python; nothing is traced.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "PREEMPTED_EXIT_CODE",
    "JobSetupError",
    "Preempted",
    "agree_across_processes",
    "check_port_free",
    "end_process",
    "install_fail_fast",
    "install_preemption_handler",
    "parse_coordinator_address",
    "preemption_requested",
    "stop_preemption_polling",
    "wait_for_coordinator",
]

PREEMPTED_EXIT_CODE = 128 + signal.SIGTERM  # 143, what a shell reports for SIGTERM
"""Exit code of a run stopped by SIGTERM after saving (143, as a shell reports)."""


class Preempted(SystemExit):
    """``fit`` stopped because the job was preempted (SIGTERM); it saved first.

    A ``SystemExit`` with code ``PREEMPTED_EXIT_CODE`` (143): uncaught, the
    process exits 143 quietly, which tells a launcher or scheduler "preempted,
    restart me with ``resume='auto'``"; ``except Exception`` does not catch it,
    ``except Preempted`` does (then the process goes on; the request is spent).
    ``checkpoint_step`` is the number of the checkpoint saved (None without a
    ``ModelCheckpoint``). torch has no counterpart.

    Example:
        >>> err = Preempted(7)
        >>> err.code, err.checkpoint_step
        (143, 7)
    """

    def __init__(self, checkpoint_step: int | None = None) -> None:
        super().__init__(PREEMPTED_EXIT_CODE)
        self.checkpoint_step = checkpoint_step

    def __str__(self) -> str:
        saved = (
            "no checkpoint (no ModelCheckpoint)"
            if self.checkpoint_step is None
            else f"checkpoint {self.checkpoint_step} saved"
        )
        return f"preempted (SIGTERM): {saved}; exit code {PREEMPTED_EXIT_CODE}"


class JobSetupError(RuntimeError):
    """The processes of a job cannot work together (mismatch, unreachable peer).

    Uncaught in a process with ``install_fail_fast``, it prints one line and exits 2.
    """


# ----------------------------------------------------------------- addresses


def parse_coordinator_address(address: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (``"[v6]:PORT"`` too) as ``(host, port)``, checked.

    Raises:
        ValueError: no port, a port outside 1-65535, or a host name that does not
            resolve; one line that says what was given.

    Example:
        >>> parse_coordinator_address("127.0.0.1:1234")
        ('127.0.0.1', 1234)
        >>> parse_coordinator_address("not a host")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: coordinator address 'not a host' is not HOST:PORT ...
    """
    host, sep, port_text = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(
            f"coordinator address {address!r} is not HOST:PORT (e.g. 10.0.0.1:1234)"
        )
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(
            f"coordinator address {address!r}: port {port} is outside 1-65535"
        )
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as err:
        raise ValueError(
            f"coordinator address {address!r}: host {host!r} does not resolve ({err})"
        ) from None
    return host, port


def check_port_free(port: int) -> None:
    """Bind ``port`` on every interface, as JAX's coordinator will (``[::]:port``).

    Raises:
        ValueError: the port is taken (JAX's coordinator would crash on it).
    """
    families = [(socket.AF_INET6, "::"), (socket.AF_INET, "")]
    for family, host in families:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError:  # no IPv6 on this machine
            continue
        with sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
                sock.listen(1)
                return
            except OSError as err:
                if family == socket.AF_INET6 and err.errno not in _IN_USE:
                    continue  # e.g. IPv6 disabled: try IPv4
                raise ValueError(
                    f"coordinator port {port} is already in use on this machine "
                    "(another run's coordinator?); pick a free port or stop that "
                    "process"
                ) from None
    return


_IN_USE = {98, 48}  # EADDRINUSE on Linux, macOS


def wait_for_coordinator(host: str, port: int, timeout_s: float) -> None:
    """Wait until ``host:port`` accepts a TCP connection (JAX's client would abort
    the process with a C++ stack trace if it never does).

    Raises:
        JobSetupError: nothing answered within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    last: OSError | None = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            with socket.create_connection((host, port), timeout=min(left, 2.0)):
                return
        except OSError as err:
            last = err
            time.sleep(min(0.25, max(deadline - time.monotonic(), 0)))
    raise JobSetupError(
        f"the coordinator at {host}:{port} did not answer within {timeout_s:g} s "
        f"({last}); is process 0 running, and is the address right? "
        "(--init-timeout sets the wait)"
    )


# ----------------------------------------------------------------- fail fast


@dataclasses.dataclass
class _Job:
    """What the hooks need to know about this process's job."""

    process_id: int = 0
    num_processes: int = 1
    client: Any = None  # JAX's DistributedRuntimeClient


_JOB = _Job()


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass


def _first_to_fail() -> tuple[bool, int | None]:
    """Claim "the job's failure" in the key-value store: (whether this process is
    the first to fail, the rank of the first).

    A peer's error that is only the echo of another process's death (a collective
    that lost its partner) stays quiet, so the job shows one traceback. Without a
    coordinator (or if it is gone), every failure counts as first.
    """
    client = _JOB.client
    if client is None:
        return True, _JOB.process_id
    verdict: list = [True, _JOB.process_id]

    def claim() -> None:
        try:
            client.key_value_set("jtoolkit/failed", str(_JOB.process_id))
        except Exception as err:  # the store raises its own type
            if "ALREADY_EXISTS" in str(err) or "exists" in str(err):
                verdict[0] = False
                verdict[1] = int(client.key_value_try_get("jtoolkit/failed"))

    worker = threading.Thread(target=claim, daemon=True)
    worker.start()
    worker.join(2.0)  # a vanished coordinator must not hold the exit up
    return verdict[0], verdict[1]


def _report_and_exit(exc_type, exc, tb, *, where: str = "") -> None:
    """Print once (one line for a JobSetupError), flush, end the process now."""
    if issubclass(exc_type, KeyboardInterrupt):
        code = 130
    elif issubclass(exc_type, JobSetupError):
        code = 2
    else:
        code = 1
    first, first_rank = _first_to_fail()
    if first:
        if code == 2:
            print(f"jtoolkit: error: {exc}", file=sys.stderr)
        else:
            sys.__excepthook__(exc_type, exc, tb)
            if where:
                print(f"(uncaught in thread {where})", file=sys.stderr)
    elif _JOB.num_processes > 1:
        print(
            f"jtoolkit: process {_JOB.process_id} stops: another process failed "
            f"first ({exc_type.__name__} here)",
            file=sys.stderr,
        )
        _flush()
        if first_rank != 0:  # (process 0 hosts the coordinator: do not outlive it)
            time.sleep(_ECHO_DELAY_S)  # let the launcher see the first one first
    _flush()
    if _JOB.process_id == 0 and _JOB.client is not None:
        time.sleep(_HOST_DELAY_S)  # the coordinator lives here: peers finish first
    os._exit(code)


_ECHO_DELAY_S = 1.0
_HOST_DELAY_S = 0.5


def _excepthook(exc_type, exc, tb) -> None:
    _report_and_exit(exc_type, exc, tb)


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:  # threading's own rule: a quiet end
        return
    name = args.thread.name if args.thread is not None else "?"
    _report_and_exit(args.exc_type, args.exc_value, args.exc_traceback, where=name)


def install_fail_fast(
    process_id: int = 0, num_processes: int = 1, client: Any = None
) -> None:
    """End this process at once on any uncaught error, its traceback printed once.

    ``sys.excepthook`` and ``threading.excepthook`` print the traceback (a
    ``JobSetupError`` as one line, exit code 2), flush, and ``os._exit`` with the
    code (1; 130 for KeyboardInterrupt), skipping JAX's shutdown barrier that would
    otherwise hold a failed process for up to 300 s while its peers wait in a
    collective. The launcher sees the code and stops the others. With ``client``
    (JAX's coordinator client) only the first failing process prints its
    traceback; the peers whose collectives broke because of it print one line.
    ``initialize_distributed`` calls this; a torch counterpart is torchrun's
    ``@record`` error handler.

    Example:
        >>> install_fail_fast()
        >>> sys.excepthook is _excepthook
        True
        >>> sys.excepthook = sys.__excepthook__  # undo for the doctest
        >>> threading.excepthook = threading.__excepthook__
    """
    _JOB.process_id, _JOB.num_processes, _JOB.client = (
        process_id,
        num_processes,
        client,
    )
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def end_process(code: int) -> int:
    """``code`` back, or, for a non-zero code in a multi-process job, exit now.

    ``sys.exit(code)`` in one process of a job runs JAX's shutdown barrier, which
    waits (up to 300 s) for peers that sit in a collective waiting for this
    process; this flushes and calls ``os._exit`` instead, so the launcher sees
    the code at once. Use it as ``return end_process(2)`` in a ``main`` that
    returns codes.

    Example:
        >>> end_process(2)  # one process: nothing to skip
        2
    """
    if code and _JOB.num_processes > 1:
        _flush()
        os._exit(code)
    return code


# ------------------------------------------------------------------ agreement


def _digest(value: Any) -> Any:
    """JSON-able as is, else its repr (compared, never parsed back)."""
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


def agree_across_processes(
    facts: Mapping[str, Any],
    *,
    client: Any,
    process_id: int,
    num_processes: int,
    timeout_s: float,
) -> None:
    """Check that every process states the same ``facts`` as process 0.

    Each process writes its ``facts`` (JSON) to the coordinator's key-value store;
    process 0 reads everyone's, the others read process 0's.

    Raises:
        JobSetupError: the first fact that differs, e.g. "process 1 says
            num_processes=3, process 0 says 2", or a process that did not report
            within ``timeout_s``.
    """
    mine = {key: _digest(value) for key, value in facts.items()}
    client.key_value_set(f"jtoolkit/agree/{process_id}", json.dumps(mine))
    peers = range(1, num_processes) if process_id == 0 else [0]
    problem = None
    for peer in peers:
        try:
            text = client.blocking_key_value_get(
                f"jtoolkit/agree/{peer}", int(timeout_s * 1000)
            )
        except Exception as err:  # XlaRuntimeError: a timeout
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise JobSetupError(
                f"process {peer} did not report its settings within {timeout_s:g} s "
                f"(process {process_id} of {num_processes}): {first}"
            ) from None
        problem = problem or _first_difference(mine, json.loads(text), process_id, peer)
    # everyone checks before anyone leaves: process 0 hosts the coordinator, and
    # its exit would abort a peer still reading
    try:
        client.wait_at_barrier("jtoolkit/agreed", int(timeout_s * 1000))
    except Exception:  # a peer already gone: the verdict stands
        pass
    if problem:
        raise JobSetupError(problem)


def _first_difference(mine: dict, theirs: dict, me: int, peer: int) -> str | None:
    """The first fact that differs, said the same way on both sides."""
    other, zero = (peer, mine) if me == 0 else (me, theirs)
    said = theirs if me == 0 else mine
    for key in [*mine, *(k for k in theirs if k not in mine)]:
        if mine.get(key) != theirs.get(key):
            return (
                f"the processes disagree: process {other} says {key}="
                f"{said.get(key)}, process 0 says {zero.get(key)}; start every "
                "process with the same options"
            )
    return None


# ----------------------------------------------------------------- preemption


@dataclasses.dataclass
class _Preemption:
    requested: bool = False
    polled: bool = False
    calls: int = 0
    chain: Callable[[int], None] | None = None  # JAX's native SIGTERM handler
    installed_at: int | None = None  # the C-level handler address we installed


_PREEMPTION = _Preemption()


class _SigAction(ctypes.Structure):
    """glibc's ``struct sigaction`` (x86-64 and aarch64 share the layout)."""

    _fields_ = [
        ("handler", ctypes.c_void_p),
        ("mask", ctypes.c_ulong * 16),
        ("flags", ctypes.c_int),
        ("restorer", ctypes.c_void_p),
    ]


_SA_SIGINFO = 4


def _native_handler() -> tuple[int | None, int]:
    """The C-level SIGTERM handler's address and flags (None off Linux)."""
    if not sys.platform.startswith("linux"):
        return None, 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        action = _SigAction()
        if libc.sigaction(int(signal.SIGTERM), None, ctypes.byref(action)) != 0:
            return None, 0
    except (OSError, AttributeError):
        return None, 0
    return action.handler, action.flags


def _as_callable(address: int | None, flags: int) -> Callable[[int], None] | None:
    """A C handler made callable from Python (SIG_DFL/SIG_IGN: None)."""
    if not address or address in (signal.SIG_DFL, signal.SIG_IGN):
        return None
    if flags & _SA_SIGINFO:
        three = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
        fn3 = three(address)
        return lambda signum: fn3(signum, None, None)
    one = ctypes.CFUNCTYPE(None, ctypes.c_int)(address)
    return lambda signum: one(signum)


def _on_sigterm(signum: int, _frame: Any) -> None:
    """First SIGTERM: note it (and tell JAX's preemption service). A second one,
    or one that nobody polls for: exit 143 now."""
    if _PREEMPTION.requested or not _PREEMPTION.polled:
        _flush()
        os._exit(128 + signum)
    _PREEMPTION.requested = True
    if _PREEMPTION.chain is not None:
        _PREEMPTION.chain(signum)


def install_preemption_handler() -> bool:
    """Make SIGTERM a request to save and stop, read by ``preemption_requested``.

    Idempotent; re-installs itself if JAX's distributed runtime replaced it (JAX's
    native handler, which feeds its preemption sync manager, is kept and called
    from this one). A SIGTERM that arrives before anything polled
    ``preemption_requested``, or a second SIGTERM, ends the process at once with
    exit code 143 (nothing would save). Only the main thread can install handlers.

    Returns:
        Whether the handler is in place.

    Example:
        >>> install_preemption_handler()
        True
        >>> _ = signal.signal(signal.SIGTERM, signal.SIG_DFL)  # undo for the doctest
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    python_side = signal.getsignal(signal.SIGTERM)
    address, flags = _native_handler()
    if python_side is _on_sigterm and address == _PREEMPTION.installed_at:
        return True  # ours, and still on top
    if callable(python_side) and python_side is not _on_sigterm:
        previous = python_side  # a Python handler someone installed: keep it
        _PREEMPTION.chain = lambda signum: previous(signum, None)
    else:  # SIG_DFL/SIG_IGN, or a native one (JAX's runtime put it over ours)
        _PREEMPTION.chain = _as_callable(address, flags)
    signal.signal(signal.SIGTERM, _on_sigterm)
    _PREEMPTION.installed_at, _ = _native_handler()
    return True


def _sync_manager() -> Any:
    from jax._src import distributed

    state = distributed.global_state
    return state.preemption_sync_manager if state.client is not None else None


def preemption_requested() -> bool:
    """Whether this process should save and stop at this step boundary.

    True after a SIGTERM (``install_preemption_handler``, installed by
    ``initialize_distributed``). With several processes and JAX's preemption
    service (on by default) the answer comes from JAX's sync manager: a SIGTERM to
    any one process makes every process answer True at the same call, so the
    checkpoint they then save together is consistent. Call it exactly once per step
    boundary on every process (the calls are counted), then save and exit with
    ``PREEMPTED_EXIT_CODE`` (143). torch has no counterpart (TorchElastic delivers
    SIGTERM and leaves the rest to the script).

    Example:
        >>> preemption_requested()
        False
    """
    _PREEMPTION.polled = True
    call = _PREEMPTION.calls
    _PREEMPTION.calls += 1
    manager = _sync_manager() if "jax" in sys.modules else None
    if manager is not None:
        return bool(manager.reached_sync_point(call))
    return _PREEMPTION.requested


def stop_preemption_polling() -> None:
    """Nothing polls ``preemption_requested`` any more (``fit`` returned or
    stopped): a SIGTERM from now on ends the process at once with 143, as
    without a handler, and a request already acted on is forgotten.

    Example:
        >>> stop_preemption_polling()
    """
    _PREEMPTION.polled = False
    _PREEMPTION.requested = False
