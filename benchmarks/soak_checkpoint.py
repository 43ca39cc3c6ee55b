"""RSS growth per checkpoint save and per restore over many calls (issue 22 item 6).

    PYTHONPATH=. python benchmarks/soak_checkpoint.py [--saves 1000] [--restores 1000]

Saves a small training-like state (65 k float32 + a PRNG key + a JSON ``extra``)
``--saves`` times into one directory (``max_to_keep=3``), then restores the newest
checkpoint ``--restores`` times. RSS (psutil) is sampled every 10 calls; the growth
per call is the least-squares slope over the calls after ``--warmup``, and the
total growth over the same span is printed too.
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import psutil

from jtoolkit.checkpoint import restore_checkpoint, save_checkpoint


def _state(i: int) -> dict:
    return {
        "params": {"w": jnp.full((256, 256), float(i)), "b": jnp.zeros(256)},
        "step": jnp.asarray(i),
        "key": jax.random.key(i),
    }


def _slope(xs: list[int], ys: list[float]) -> float:
    return float(np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)[0])


def soak(kind: str, n: int, warmup: int, directory: str) -> tuple[float, float, float]:
    proc = psutil.Process()
    xs, ys = [], []
    start = time.perf_counter()
    target = _state(0)
    for i in range(n):
        if kind == "save":
            save_checkpoint(
                directory, _state(i), i, extra={"epoch": i, "h": [i] * 8}, max_to_keep=3
            )
        else:
            restore_checkpoint(directory, target, with_extra=True)
        if i % 10 == 9:
            gc.collect()
            xs.append(i + 1)
            ys.append(proc.memory_info().rss / 1024)
    seconds = time.perf_counter() - start
    keep = [j for j, x in enumerate(xs) if x > warmup]
    slope = _slope([xs[j] for j in keep], [ys[j] for j in keep])
    total = ys[keep[-1]] - ys[keep[0]]
    return slope, total, seconds


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--saves", type=int, default=1000)
    p.add_argument("--restores", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=100)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        directory = os.path.join(d, "ck")
        for kind, n in (("save", args.saves), ("restore", args.restores)):
            slope, total, seconds = soak(kind, n, args.warmup, directory)
            print(
                f"{kind}: {n} calls, {seconds / n * 1000:.1f} ms/call; RSS after "
                f"call {args.warmup}: slope {slope:.2f} KB/call, "
                f"{total / 1024:+.1f} MB over the remaining {n - args.warmup}",
                flush=True,
            )


if __name__ == "__main__":
    main()
