"""Start-up cost: building each model in a fresh process, and the demo's wall time.

Every measurement runs in its own subprocess (nothing compiled or cached in memory
carries over) with ``JTOOLKIT_COMPILATION_CACHE=0`` for the model builds. Reported:
the median of ``--repeats`` runs of

- the time to build ``<Model>(..., rngs=nnx.Rngs(0))`` until its arrays are ready
  (imports and JAX backend start-up excluded: one ``jnp.zeros(())`` runs first);
- ``python -m jtoolkit.train --epochs 1 --no-progress`` wall time with the persistent
  compilation cache off (``JTOOLKIT_COMPILATION_CACHE=0``), and with a warm one (a
  temporary ``JAX_COMPILATION_CACHE_DIR`` filled by one unmeasured run first).

- ``--first-epoch``: the time from launching a fresh process to the end of its first
  epoch (train + validation) for four workloads (the demo, a CNN, an LSTM LM and a
  CIFAR-style ResNet on digits; ``first_epoch_jtk.py`` and its torch twin
  ``first_epoch_torch.py``), jtoolkit cold (empty compilation cache) and warm (its
  second run) against torch (1 thread), runs interleaved; with jtoolkit's cold time
  split by phase (``jax.monitoring``) and a bar chart (``--chart PATH``, matplotlib).

jtoolkit's own modules are byte-compiled first (``compileall``, as ``pip install``
does): torch, jax and the rest come with their ``.pyc`` files, and an editable
checkout run with ``PYTHONDONTWRITEBYTECODE=1`` would otherwise compile ~100 source
files in every fresh process (0.2-0.6 s charged to jtoolkit's import).

Run: ``python benchmarks/bench_startup.py [--repeats 3] [--no-demo] [--first-epoch
[--workloads demo,cnn] [--chart benchmarks/first_epoch.png]]``; prints Markdown tables.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

MODELS = {
    "SimpleNN()": "models.SimpleNN(rngs=nnx.Rngs(0))",
    "MLP([1024, 256, 128, 10])": "models.MLP([1024, 256, 128, 10], rngs=nnx.Rngs(0))",
    "CNN(1, 10)": "models.CNN(1, 10, rngs=nnx.Rngs(0))",
    "LSTMClassifier(32, 64, 10, 2)": "models.LSTMClassifier(32, 64, 10, 2, "
    "rngs=nnx.Rngs(0))",
    "GRU(32, 64, 2)": "models.GRU(32, 64, 2, rngs=nnx.Rngs(0))",
    "TransformerEncoderLayer(64, 4, 128)": "models.TransformerEncoderLayer(64, 4, 128, "
    "rngs=nnx.Rngs(0))",
}

_BUILD = """
import time, jax, jax.numpy as jnp
from flax import nnx
from jtoolkit import models
jnp.zeros(()).block_until_ready()
t0 = time.perf_counter()
model = {expr}
jax.block_until_ready(nnx.state(model))
print(time.perf_counter() - t0)
"""


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def build_seconds(expr: str) -> float:
    """Seconds to build ``expr`` in a fresh interpreter without a compilation cache."""
    out = subprocess.run(
        [sys.executable, "-c", _BUILD.format(expr=expr)],
        env=_env(JTOOLKIT_COMPILATION_CACHE="0"),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def demo_seconds(env: dict[str, str]) -> float:
    """Wall seconds of one ``python -m jtoolkit.train --epochs 1 --no-progress``."""
    with tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "jtoolkit.train", "--epochs", "1", "--no-progress"],
            env=env,
            cwd=work,
            capture_output=True,
            check=True,
        )
        return time.perf_counter() - t0


WORKLOADS = ("demo", "cnn", "lstm", "resnet")
_HERE = os.path.dirname(os.path.abspath(__file__))


def first_epoch(script: str, workload: str, env: dict[str, str]) -> dict[str, float]:
    """One fresh process of ``script workload``: its stamps, relative to the launch."""
    launched = time.time()
    with tempfile.TemporaryDirectory() as work:
        out = subprocess.run(
            [sys.executable, os.path.join(_HERE, script), workload],
            env=env,
            cwd=work,
            capture_output=True,
            text=True,
            check=True,
        )
    row = json.loads(out.stdout.strip().splitlines()[-1])
    for stamp in ("start", "import", "built", "epoch"):
        row[stamp] -= launched
    return row


def _median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def bench_first_epoch(workloads: list[str], repeats: int) -> dict[str, dict]:
    """Interleaved torch / jtoolkit-cold / jtoolkit-warm runs of each workload."""
    runs: dict[str, dict[str, list]] = {
        w: {"torch": [], "cold": [], "warm": []} for w in workloads
    }
    torch_env = _env(BENCH_TORCH_THREADS="1", OMP_NUM_THREADS="1")
    for _ in range(repeats):
        for w in workloads:
            with tempfile.TemporaryDirectory() as cache:
                jenv = _env(JAX_COMPILATION_CACHE_DIR=cache)
                jenv.pop("JTOOLKIT_COMPILATION_CACHE", None)
                runs[w]["torch"].append(
                    first_epoch("first_epoch_torch.py", w, torch_env)
                )
                runs[w]["cold"].append(first_epoch("first_epoch_jtk.py", w, jenv))
                runs[w]["warm"].append(first_epoch("first_epoch_jtk.py", w, jenv))
    return runs


def first_epoch_tables(runs: dict[str, dict]) -> str:
    """The time-to-first-epoch table and the cold/warm phase table (medians)."""
    lines = [
        "| workload | torch s | jtoolkit cold s | cold / torch | jtoolkit warm s "
        "| warm / torch |",
        "|---|---|---|---|---|---|",
    ]
    for w, r in runs.items():
        t, c, h = (_median(r[k], "epoch") for k in ("torch", "cold", "warm"))
        lines.append(
            f"| {w} | {t:.1f} | {c:.1f} | {c / t:.2f}x | {h:.1f} | {h / t:.2f}x |"
        )
    lines += [
        "",
        "| workload, run | start+import s | build s | trace s | lower s | compile s "
        "| cache read s | other s | programs compiled / read from cache |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for w, r in runs.items():
        for kind in ("torch", "cold", "warm"):
            rows = r[kind]
            imp, built, end = (_median(rows, k) for k in ("import", "built", "epoch"))
            if kind == "torch":
                lines.append(
                    f"| {w}, torch | {imp:.1f} | {built - imp:.1f} | - | - | - | - "
                    f"| {end - built:.1f} | - |"
                )
                continue
            jit = [
                _median(rows, k) for k in ("trace", "lower", "compile", "cache_read")
            ]
            other = end - built - sum(jit)
            counts = (
                f"{_median(rows, 'compiled'):.0f} / {_median(rows, 'cache_hits'):.0f}"
            )
            cells = " | ".join(f"{v:.1f}" for v in jit)
            lines.append(
                f"| {w}, {kind} | {imp:.1f} | {built - imp:.1f} | {cells} "
                f"| {other:.1f} | {counts} |"
            )
    return "\n".join(lines)


def first_epoch_chart(runs: dict[str, dict], path: str) -> None:
    """Grouped bars: torch, jtoolkit cold, jtoolkit warm per workload (medians)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(runs)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for i, (kind, label) in enumerate(
        [("torch", "torch (1 thread)"), ("cold", "jtoolkit, empty cache"),
         ("warm", "jtoolkit, second run")]
    ):  # fmt: skip
        values = [_median(runs[w][kind], "epoch") for w in names]
        ax.bar([j + (i - 1) * 0.27 for j in range(len(names))], values, 0.27,
               label=label)  # fmt: skip
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("seconds from launch to end of epoch 1")
    ax.set_title("Time to first epoch (fresh process, medians)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-demo", action="store_true", help="model builds only")
    parser.add_argument("--first-epoch", action="store_true", help="only that table")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--chart", default=None, help="PNG path for the bar chart")
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = root + (os.pathsep + path if path else "")
    compileall.compile_dir(os.path.join(root, "jtoolkit"), quiet=1)
    if args.first_epoch:
        print(f"load average before: {os.getloadavg()}", flush=True)
        runs = bench_first_epoch(args.workloads.split(","), args.repeats)
        print(first_epoch_tables(runs))
        print(f"load average after: {os.getloadavg()}", flush=True)
        if args.chart:
            first_epoch_chart(runs, args.chart)
        return

    print("| measurement | median s | runs s |")
    print("|---|---|---|")
    for name, expr in MODELS.items():
        runs = [build_seconds(expr) for _ in range(args.repeats)]
        shown = ", ".join(f"{r:.2f}" for r in runs)
        print(f"| build {name} | {statistics.median(runs):.2f} | {shown} |", flush=True)
    if args.no_demo:
        return
    cold = [
        demo_seconds(_env(JTOOLKIT_COMPILATION_CACHE="0")) for _ in range(args.repeats)
    ]
    shown = ", ".join(f"{r:.1f}" for r in cold)
    print(f"| demo, no cache | {statistics.median(cold):.1f} | {shown} |", flush=True)
    with tempfile.TemporaryDirectory() as cache:
        env = _env(JTOOLKIT_COMPILATION_CACHE="1", JAX_COMPILATION_CACHE_DIR=cache)
        demo_seconds(env)  # fill the cache
        warm = [demo_seconds(env) for _ in range(args.repeats)]
    shown = ", ".join(f"{r:.1f}" for r in warm)
    print(f"| demo, warm cache | {statistics.median(warm):.1f} | {shown} |")


if __name__ == "__main__":
    main()
