"""Batches per second of jtoolkit's DataLoader against torch's, Grain's and plain numpy.

One run, the same 60,000 x 784 float32 dataset with int64 labels, batch 64, shuffled,
every contender timed for one full epoch per repetition, repetitions interleaved
(A, B, C, A, B, C, ...) so machine load hits all alike; medians and ratios printed as
a markdown table (``--output`` also writes it to a file). The batches are only
counted, no train step: this measures the loader alone.

Contenders: a plain numpy permutation + fancy-index loop; jtoolkit with an
ArrayDataset (batched gather) and with the tutorial's per-sample Dataset at
num_workers 0 and 2; torch's DataLoader over a TensorDataset at num_workers 0 and 2;
Grain's DataLoader (worker_count=0; only its first 200 batches, it is slow) and
Grain's MapDataset shuffle + batch. Worker contenders keep their workers
(``persistent_workers=True``) and are warmed up, so start-up is reported apart.
A second table: a CPU-heavy ``__getitem__`` (~1 ms of numpy per sample) at
num_workers 0 and 2, next to the same work run without a loader in one and in two
bare processes: the ratio of those two is the parallel headroom the machine had.
A third table: worker start-up per epoch, i.e. the seconds of one pass over the
first 256 samples (4 batches) with ``num_workers=2`` and no ``persistent_workers``,
so every pass starts (and stops) its workers: torch (fork), jtoolkit while JAX has
not started (fork) and jtoolkit with the fork server it uses once JAX has started
(warm workers reset per pass). Same dataset, interleaved, medians.

Run: ``python benchmarks/bench_data.py [--quick] [--startup-only] [--output PATH]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

from jtoolkit import data


@dataclasses.dataclass(frozen=True)
class Config:
    """What to measure."""

    samples: int = 60_000
    features: int = 784
    batch_size: int = 64
    reps: int = 7
    heavy_samples: int = 640
    heavy_reps: int = 7
    heavy_ms: float = 1.0
    grain_batches: int = 200  # grain's DataLoader runs ~30 batches/s here
    startup_reps: int = 9
    startup_samples: int = 256


QUICK = Config(samples=6_000, reps=2, heavy_samples=128, heavy_reps=2)


class PerSample(data.Dataset):
    """The tutorial's CustomDataset: one (row, label) per ``__getitem__``."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.data, self.targets = x, y

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.int64]:
        return self.data[index], self.targets[index]

    def __len__(self) -> int:
        return len(self.data)


class Heavy(PerSample):
    """A per-sample dataset that spends ``rounds`` numpy sorts on every sample."""

    def __init__(self, x: np.ndarray, y: np.ndarray, rounds: int) -> None:
        super().__init__(x, y)
        self.rounds = rounds

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.int64]:
        row = self.data[index]
        tiled = np.tile(row, 8)
        for _ in range(self.rounds):
            tiled = np.sort(np.sin(tiled))
        return row + tiled[: row.size], self.targets[index]


def _load_samples(args: tuple[Heavy, range]) -> int:
    dataset, indices = args
    for i in indices:
        dataset[i]
    return len(indices)


def _bare(dataset: Heavy, bs: int, processes: int, pools: list) -> Callable[[], int]:
    """The same per-sample work without any loader: the machine's parallel headroom."""
    n = len(dataset)
    if processes == 1:
        return lambda: _load_samples((dataset, range(n))) // bs
    pool = mp.get_context("forkserver").Pool(processes)
    pools.append(pool)
    shards = [(dataset, range(i, n, processes)) for i in range(processes)]
    return lambda: sum(pool.map(_load_samples, shards)) // bs


def _calibrate_rounds(x: np.ndarray, target_ms: float) -> int:
    probe = Heavy(x, np.zeros(len(x), np.int64), rounds=20)
    start = time.process_time()  # CPU time: a loaded machine does not shrink the work
    for i in range(20):
        probe[i]
    per_round_ms = (time.process_time() - start) * 1e3 / (20 * 20)
    return max(1, round(target_ms / per_round_ms))


def _count(loader: object, limit: int | None = None) -> int:
    n = 0
    for _batch in loader:
        n += 1
        if n == limit:
            break
    return n


def _numpy_loop(x: np.ndarray, y: np.ndarray, bs: int) -> Callable[[], int]:
    rng = np.random.default_rng(0)

    def epoch() -> int:
        perm, n = rng.permutation(len(x)), 0
        for start in range(0, len(x), bs):
            idx = perm[start : start + bs]
            _xb, _yb = x[idx], y[idx]
            n += 1
        return n

    return epoch


def _jtoolkit(dataset: object, bs: int, workers: int) -> Callable[[], int]:
    kw = dict(num_workers=workers, persistent_workers=workers > 0)
    loader = data.DataLoader(dataset, batch_size=bs, shuffle=True, **kw)
    return lambda: _count(loader)


def _torch(x: np.ndarray, y: np.ndarray, bs: int, workers: int) -> Callable[[], int]:
    import torch

    ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    kw = dict(num_workers=workers, persistent_workers=workers > 0)
    loader = torch.utils.data.DataLoader(ds, batch_size=bs, shuffle=True, **kw)
    return lambda: _count(loader)


def _grain_loader(
    x: np.ndarray, y: np.ndarray, bs: int, limit: int
) -> Callable[[], int]:
    import grain

    source = PerSample(x, y)
    seeds = iter(range(1_000_000))

    def epoch() -> int:
        sampler = grain.samplers.IndexSampler(
            len(source), shuffle=True, num_epochs=1, seed=next(seeds)
        )
        loader = grain.DataLoader(
            data_source=source,
            sampler=sampler,
            operations=[grain.transforms.Batch(bs, drop_remainder=False)],
            worker_count=0,
        )
        return _count(loader, limit)

    return epoch


def _grain_dataset(x: np.ndarray, y: np.ndarray, bs: int) -> Callable[[], int]:
    import grain

    source = PerSample(x, y)
    seeds = iter(range(1_000_000))

    def epoch() -> int:
        ds = grain.MapDataset.source(source).shuffle(seed=next(seeds)).batch(bs)
        return _count(ds)

    return epoch


def _time_interleaved(
    contenders: dict[str, Callable[[], int]], reps: int
) -> dict[str, list[float]]:
    """Batches/s of each contender, one epoch per repetition, interleaved."""
    for run in contenders.values():  # warm-up: workers started, caches filled
        run()
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(reps):
        for name, run in contenders.items():
            start = time.perf_counter()
            n = run()
            rates[name].append(n / (time.perf_counter() - start))
    return rates


def _one_pass(loader: object) -> Callable[[], float]:
    """Seconds of one pass (workers started and stopped inside it)."""

    def run() -> float:
        start = time.perf_counter()
        _count(loader)
        return time.perf_counter() - start

    return run


def _startup_contenders(
    x: np.ndarray, y: np.ndarray, cfg: Config
) -> dict[str, Callable[[], float]]:
    import torch

    bs, first = cfg.batch_size, range(cfg.startup_samples)
    tds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    ours = PerSample(x, y)
    kw = dict(batch_size=bs, sampler=first, num_workers=2)
    return {
        "torch DataLoader, num_workers=2 (fork)": _one_pass(
            torch.utils.data.DataLoader(tds, **kw)
        ),
        "jtoolkit, num_workers=2, JAX not started (fork)": _one_pass(
            data.DataLoader(ours, multiprocessing_context="fork", **kw)
        ),
        "jtoolkit, num_workers=2, JAX started (warm fork server)": _one_pass(
            data.DataLoader(ours, multiprocessing_context="forkserver", **kw)
        ),
    }


def _time_passes(
    contenders: dict[str, Callable[[], float]], reps: int
) -> dict[str, list[float]]:
    """Seconds per pass of each contender, interleaved, after one warm-up pass."""
    for run in contenders.values():
        run()
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(reps):
        for name, run in contenders.items():
            seconds[name].append(run())
    return seconds


def _seconds_table(seconds: dict[str, list[float]], baseline: str) -> list[str]:
    base = statistics.median(seconds[baseline])
    lines = [
        f"| contender | median s per pass | min | max | x {baseline} |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, values in seconds.items():
        med = statistics.median(values)
        cells = [f"{v:.3f}" for v in (med, min(values), max(values))]
        lines.append(f"| {name} | {' | '.join(cells)} | {med / base:.2f} |")
    return lines


def startup_report(cfg: Config) -> list[str]:
    """The worker start-up table (markdown lines)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((cfg.samples, cfg.features), dtype=np.float32)
    y = rng.integers(0, 10, cfg.samples, dtype=np.int64)
    seconds = _time_passes(_startup_contenders(x, y, cfg), cfg.startup_reps)
    return [
        f"Worker start-up per epoch: one pass over the first {cfg.startup_samples} "
        f"of {cfg.samples} x {cfg.features} float32 samples (batch "
        f"{cfg.batch_size}), num_workers=2, no persistent_workers, "
        f"{cfg.startup_reps} interleaved repetitions after a warm-up pass:",
        "",
        *_seconds_table(seconds, "torch DataLoader, num_workers=2 (fork)"),
    ]


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _cpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    lines = [line for line in out.splitlines() if line.startswith("Model name")]
    return lines[0].split(":", 1)[1].strip() if lines else platform.processor()


def _versions() -> str:
    import grain
    import jax
    import torch

    return (
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch.__version__}, grain {grain.__version__}, jax {jax.__version__}"
    )


def _rate(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _table(rates: dict[str, list[float]], baseline: str) -> list[str]:
    base = statistics.median(rates[baseline])
    lines = [
        f"| contender | median batches/s | min | max | x {baseline} |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, values in rates.items():
        med = statistics.median(values)
        cells = [_rate(v) for v in (med, min(values), max(values))]
        lines.append(f"| {name} | {' | '.join(cells)} | {med / base:.2f} |")
    return lines


def run(cfg: Config) -> str:
    """Run both tables and return the markdown report."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((cfg.samples, cfg.features), dtype=np.float32)
    y = rng.integers(0, 10, cfg.samples, dtype=np.int64)
    bs = cfg.batch_size
    load_before = _uptime()
    contenders = {
        "torch DataLoader, num_workers=0": _torch(x, y, bs, 0),
        "torch DataLoader, num_workers=2": _torch(x, y, bs, 2),
        "numpy permutation + fancy index": _numpy_loop(x, y, bs),
        "jtoolkit ArrayDataset, num_workers=0": _jtoolkit(
            data.ArrayDataset(x, y), bs, 0
        ),
        "jtoolkit per-sample, num_workers=0": _jtoolkit(PerSample(x, y), bs, 0),
        "jtoolkit per-sample, num_workers=2": _jtoolkit(PerSample(x, y), bs, 2),
        f"grain DataLoader, worker_count=0 (first {cfg.grain_batches} batches)": (
            _grain_loader(x, y, bs, cfg.grain_batches)
        ),
        "grain MapDataset shuffle + batch": _grain_dataset(x, y, bs),
    }
    rates = _time_interleaved(contenders, cfg.reps)
    del contenders
    rounds = _calibrate_rounds(x, cfg.heavy_ms)
    heavy = Heavy(x[: cfg.heavy_samples], y[: cfg.heavy_samples], rounds)
    pools: list = []
    heavy_rates = _time_interleaved(
        {
            "jtoolkit heavy, num_workers=0": _jtoolkit(heavy, bs, 0),
            "jtoolkit heavy, num_workers=2": _jtoolkit(heavy, bs, 2),
            "same work, no loader, 1 process": _bare(heavy, bs, 1, pools),
            "same work, no loader, 2 processes (Pool)": _bare(heavy, bs, 2, pools),
        },
        cfg.heavy_reps,
    )
    for pool in pools:
        pool.terminate()
    per_sample_ms = 1e3 / (bs * statistics.median(heavy_rates[next(iter(heavy_rates))]))
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = [
        f"Date: {when}. Machine: {_cpu_model()}, {os.cpu_count()} cores (shared).",
        f"Command: `python benchmarks/bench_data.py {' '.join(sys.argv[1:])}`.",
        f"Versions: {_versions()}.",
        f"Load before: `{load_before}`; after: `{_uptime()}`.",
        f"Data: {cfg.samples} x {cfg.features} float32, int64 labels, batch {bs}, "
        f"shuffle; {cfg.reps} interleaved repetitions of one epoch each after a "
        "warm-up epoch; worker contenders use persistent_workers=True.",
        "",
        *_table(rates, "torch DataLoader, num_workers=0"),
        "",
        f"CPU-heavy `__getitem__` ({rounds} numpy sort rounds = {cfg.heavy_ms} ms of "
        f"CPU per sample; {per_sample_ms:.2f} ms wall per sample at num_workers=0), "
        f"{cfg.heavy_samples} samples, {cfg.heavy_reps} repetitions:",
        "",
        *_table(heavy_rates, "jtoolkit heavy, num_workers=0"),
        "",
        *startup_report(cfg),
    ]
    return "\n".join(report) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run, print (and optionally write) the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--output", help="also write the markdown report here")
    parser.add_argument(
        "--startup-only", action="store_true", help="only the worker start-up table"
    )
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else Config()
    if args.startup_only:
        when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        head = [
            f"Date: {when}. Machine: {_cpu_model()}, {os.cpu_count()} cores (shared).",
            f"Command: `python benchmarks/bench_data.py {' '.join(sys.argv[1:])}`.",
            f"Load before: `{_uptime()}`.",
            "",
        ]
        report = "\n".join([*head, *startup_report(cfg)]) + "\n"
    else:
        report = run(cfg)
    print(report)
    if args.output:
        with open(args.output, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
