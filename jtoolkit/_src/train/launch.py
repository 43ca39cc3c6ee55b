"""``python -m jtoolkit.launch``: N local processes wired for ``jax.distributed``.

torchrun's role for one machine (and for tests): every process gets
``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` (read by
``jax.distributed.initialize`` through jtoolkit's CLI, or by your script), plus
torchrun's ``RANK``/``LOCAL_RANK``/``WORLD_SIZE`` for scripts written that way.
SIGINT/SIGTERM are forwarded; when a process fails the others are stopped and the
launcher exits with its code, naming it. No JAX is imported here.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

__all__ = ["main", "worker_env"]

_GRACE_S = 10.0  # SIGTERM, then SIGKILL after this long
_POLL_S = 0.05


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_env(rank: int, nproc: int, address: str, base: dict | None = None) -> dict:
    """The environment of process ``rank`` of ``nproc`` (coordinator at ``address``).

    Example:
        >>> env = worker_env(1, 2, "127.0.0.1:1234", base={})
        >>> env["JAX_PROCESS_ID"], env["JAX_NUM_PROCESSES"], env["RANK"]
        ('1', '2', '1')
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
    )
    return env


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m jtoolkit.launch",
        description="Start N local processes wired for jax.distributed (torchrun's "
        "role on one machine). Example: python -m jtoolkit.launch --nproc 2 -m "
        "jtoolkit.train --data-parallel",
    )
    p.add_argument("--nproc", "--nproc-per-node", type=int, default=1, dest="nproc")
    p.add_argument(
        "--coordinator-port",
        type=int,
        default=None,
        help="port of process 0's coordinator on 127.0.0.1 (default: a free one)",
    )
    p.add_argument(
        "target",
        nargs="?",
        metavar="SCRIPT [ARGS] | -m MODULE [ARGS]",
        help="what each process runs; everything after it is passed on",
    )
    return p


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """Launcher options, then the target: ``-m MODULE ...`` or ``SCRIPT ...``."""
    takes_value = {"--nproc", "--nproc-per-node", "--coordinator-port"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-m" or not arg.startswith("-"):
            return argv[:i], argv[i:]
        i += 2 if arg in takes_value else 1
    return argv, []


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM every process still running, SIGKILL after a grace period."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + _GRACE_S
    for p in procs:
        try:
            p.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _watch(procs: list[subprocess.Popen]) -> int:
    """Wait for all; on the first failure stop the rest and return its code."""
    while True:
        codes = [p.poll() for p in procs]
        failed = [(i, c) for i, c in enumerate(codes) if c not in (None, 0)]
        if failed:
            rank, code = failed[0]
            print(
                f"python -m jtoolkit.launch: process {rank} (pid {procs[rank].pid}) "
                f"exited with code {code}; stopping the other processes",
                file=sys.stderr,
                flush=True,
            )
            _stop(procs)
            return code if code > 0 else 128 - code  # killed by signal -s
        if all(c == 0 for c in codes):
            return 0
        time.sleep(_POLL_S)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the processes, forward signals, return the exit code."""
    p = _parser()
    own, target = _split(list(sys.argv[1:] if argv is None else argv))
    ns = p.parse_args(own)
    if ns.nproc < 1:
        p.error(f"--nproc must be an integer >= 1, got {ns.nproc}")
    if not target or target == ["-m"]:
        p.error("give a SCRIPT or -m MODULE to run")
    port = ns.coordinator_port or _free_port()
    address = f"127.0.0.1:{port}"
    cmd = [sys.executable, *target]  # python SCRIPT ... or python -m MODULE ...
    procs = [
        subprocess.Popen(cmd, env=worker_env(rank, ns.nproc, address))
        for rank in range(ns.nproc)
    ]

    def forward(signum, _frame):
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _watch(procs)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        _stop(procs)
