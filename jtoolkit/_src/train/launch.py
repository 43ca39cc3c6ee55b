"""``python -m jtoolkit.launch``: N local processes wired for ``jax.distributed``.

torchrun's role for one machine (and for tests): every process gets
``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` (read by
``jax.distributed.initialize`` through jtoolkit's CLI, or by your script), plus
torchrun's ``RANK``/``LOCAL_RANK``/``WORLD_SIZE`` for scripts written that way, and
``JTOOLKIT_RESTART_COUNT`` (torchrun's ``TORCHELASTIC_RESTART_COUNT``).

- The first process to fail ends the job: the others get SIGTERM, then SIGKILL after
  a short grace, and the launcher exits with the failing process's code, naming it.
- SIGINT/SIGTERM are forwarded; the processes get ``--term-timeout`` seconds to save
  (``preemption_requested()`` in the training loop) before SIGKILL.
- ``--max-restarts N`` restarts a failed job up to N times (torchrun's elastic
  restart on one host), the jtoolkit demo with ``--resume auto`` appended.

No JAX is imported here.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

from jtoolkit._src.train.runtime import PREEMPTED_EXIT_CODE, check_port_free

__all__ = ["main", "worker_env"]

_PROG = "python -m jtoolkit.launch"
_FAIL_GRACE_S = 3.0  # after a failure: SIGTERM the others, SIGKILL after this long
_POLL_S = 0.05
_DEMO_MODULES = ("jtoolkit.train",)  # targets that understand --resume auto


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_env(
    rank: int, nproc: int, address: str, base: dict | None = None, restart: int = 0
) -> dict:
    """The environment of process ``rank`` of ``nproc`` (coordinator at ``address``).

    Example:
        >>> env = worker_env(1, 2, "127.0.0.1:1234", base={})
        >>> env["JAX_PROCESS_ID"], env["JAX_NUM_PROCESSES"], env["RANK"]
        ('1', '2', '1')
        >>> env["JTOOLKIT_RESTART_COUNT"]
        '0'
    """
    env = dict(os.environ if base is None else base)
    env.update(
        JAX_COORDINATOR_ADDRESS=address,
        JAX_NUM_PROCESSES=str(nproc),
        JAX_PROCESS_ID=str(rank),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(nproc),
        LOCAL_WORLD_SIZE=str(nproc),
        JTOOLKIT_RESTART_COUNT=str(restart),
    )
    return env


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        message = f"expected a port number, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port in 1-65535, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {value}")
    return value


class _OneLineErrors(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _OneLineErrors(
        prog=_PROG,
        description="Start N local processes wired for jax.distributed (torchrun's "
        "role on one machine). Example: python -m jtoolkit.launch --nproc 2 -m "
        "jtoolkit.train --data-parallel",
    )
    p.add_argument("--nproc", "--nproc-per-node", type=int, default=1, dest="nproc")
    p.add_argument(
        "--coordinator-port",
        type=_port,
        default=None,
        help="port of process 0's coordinator on 127.0.0.1 (default: a free one)",
    )
    p.add_argument(
        "--term-timeout",
        type=_seconds,
        default=30.0,
        help="seconds the processes get to save and exit after SIGTERM/SIGINT "
        "before SIGKILL (default: 30)",
    )
    p.add_argument(
        "--max-restarts",
        type=int,
        default=0,
        help="restart a failed job up to N times (the jtoolkit demo with "
        "--resume auto appended; scripts read JTOOLKIT_RESTART_COUNT)",
    )
    p.add_argument(
        "target",
        nargs="?",
        metavar="SCRIPT [ARGS] | -m MODULE [ARGS]",
        help="what each process runs; everything after it is passed on",
    )
    return p


_TAKES_VALUE = {
    "--nproc",
    "--nproc-per-node",
    "--coordinator-port",
    "--term-timeout",
    "--max-restarts",
}


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """Launcher options, then the target: ``-m MODULE ...`` or ``SCRIPT ...``."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-m" or not arg.startswith("-"):
            return argv[:i], argv[i:]
        i += 2 if arg in _TAKES_VALUE else 1
    return argv, []


def _exit_code(code: int) -> int:
    """A shell's exit code: killed by signal ``s`` reads ``128 + s``."""
    return code if code >= 0 else 128 - code


@dataclasses.dataclass
class _Signals:
    """What the launcher itself was sent (SIGINT/SIGTERM) and when to stop waiting."""

    procs: list[subprocess.Popen]
    term_timeout: float
    received: int | None = None
    deadline: float = float("inf")

    def handle(self, signum: int, _frame: object) -> None:
        if self.received is not None:  # a second signal: no more waiting
            self.deadline = 0.0
            return
        self.received, self.deadline = signum, time.monotonic() + self.term_timeout
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signum)


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` and everything it started (its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _stop(procs: list[subprocess.Popen], grace: float, term: bool = True) -> None:
    """SIGTERM every process still running (if ``term``), SIGKILL after ``grace``."""
    for p in procs:
        if term and p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(deadline - time.monotonic(), 0.05))
        except subprocess.TimeoutExpired:
            _kill(p)
        else:  # the leader is gone; its group (DataLoader workers) goes too
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _watch(procs: list[subprocess.Popen], signals: _Signals) -> tuple[int, int | None]:
    """Wait for all; on the first failure stop the rest. Returns (code, rank)."""
    while True:
        codes = [p.poll() for p in procs]
        if signals.received is not None:  # forwarded: let them save, then kill
            if all(c is not None for c in codes) or time.monotonic() > signals.deadline:
                late = [i for i, c in enumerate(codes) if c is None]
                if late:
                    print(
                        f"{_PROG}: process(es) {late} did not exit within "
                        f"--term-timeout {signals.term_timeout:g} s; killing them",
                        file=sys.stderr,
                        flush=True,
                    )
                    _stop(procs, 0.0, term=False)
                failed = [c for c in codes if c not in (None, 0)]
                return (_exit_code(failed[0]) if failed else 0), None
        else:
            failed = [(i, c) for i, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                rank, code = failed[0]
                code = _exit_code(code)
                print(
                    f"{_PROG}: process {rank} (pid {procs[rank].pid}) exited with "
                    f"code {code}; stopping the other processes",
                    file=sys.stderr,
                    flush=True,
                )
                if code == PREEMPTED_EXIT_CODE:  # preempted: the others are saving
                    _stop(procs, signals.term_timeout, term=False)
                else:
                    _stop(procs, _FAIL_GRACE_S)
                return code, rank
            if all(c == 0 for c in codes):
                return 0, None
        time.sleep(_POLL_S)


def _command(target: list[str], restart: int) -> list[str]:
    """``python SCRIPT ...`` or ``python -m MODULE ...``; a restarted demo resumes."""
    cmd = [sys.executable, *target]
    demo = len(target) > 1 and target[0] == "-m" and target[1] in _DEMO_MODULES
    if restart and demo and "--resume" not in target:
        cmd += ["--resume", "auto"]
    return cmd


def _run_once(ns: argparse.Namespace, target: list[str], restart: int):
    """One start of all processes; returns (code, failed rank, whether signalled)."""
    port = ns.coordinator_port or _free_port()
    address = f"127.0.0.1:{port}"
    cmd = _command(target, restart)
    procs = [
        subprocess.Popen(
            cmd,
            env=worker_env(rank, ns.nproc, address, restart=restart),
            start_new_session=True,  # its own group: stopping it stops its workers
        )
        for rank in range(ns.nproc)
    ]
    signals = _Signals(procs, ns.term_timeout)
    caught = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.signal(s, signals.handle) for s in caught}
    try:
        code, rank = _watch(procs, signals)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        _stop(procs, _FAIL_GRACE_S)
    return code, rank, signals.received is not None


def main(argv: Sequence[str] | None = None) -> int:
    """Start the processes, forward signals, restart on failure; the exit code."""
    p = _parser()
    own, target = _split(list(sys.argv[1:] if argv is None else argv))
    ns = p.parse_args(own)
    if ns.nproc < 1:
        p.error(f"--nproc must be an integer >= 1, got {ns.nproc}")
    if ns.max_restarts < 0:
        p.error(f"--max-restarts must be an integer >= 0, got {ns.max_restarts}")
    if not target or target == ["-m"]:
        p.error("give a SCRIPT or -m MODULE to run")
    if ns.coordinator_port is not None:
        try:
            check_port_free(ns.coordinator_port)
        except ValueError as err:
            p.error(str(err))
    restart = 0
    while True:
        code, rank, signalled = _run_once(ns, target, restart)
        if code == 0 or signalled or restart >= ns.max_restarts:
            return code
        restart += 1
        resumes = " with --resume auto" if _command(target, 1)[-1] == "auto" else ""
        print(
            f"{_PROG}: restart {restart} of {ns.max_restarts}: process {rank} failed "
            f"with code {code}; starting all {ns.nproc} processes again{resumes}",
            file=sys.stderr,
            flush=True,
        )
