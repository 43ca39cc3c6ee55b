"""Start-up cost: building each model in a fresh process, and the demo's wall time.

Every measurement runs in its own subprocess (nothing compiled or cached in memory
carries over) with ``JTOOLKIT_COMPILATION_CACHE=0`` for the model builds. Reported:
the median of ``--repeats`` runs of

- the time to build ``<Model>(..., rngs=nnx.Rngs(0))`` until its arrays are ready
  (imports and JAX backend start-up excluded: one ``jnp.zeros(())`` runs first);
- ``python -m jtoolkit.train --epochs 1 --no-progress`` wall time with the persistent
  compilation cache off (``JTOOLKIT_COMPILATION_CACHE=0``), and with a warm one (a
  temporary ``JAX_COMPILATION_CACHE_DIR`` filled by one unmeasured run first).

Run: ``python benchmarks/bench_startup.py [--repeats 3] [--no-demo]``; prints a
Markdown table.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-demo", action="store_true", help="model builds only")
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = root + (os.pathsep + path if path else "")

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
