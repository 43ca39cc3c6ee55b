"""Data-parallel throughput: 1, 2, 4, 8 fake CPU devices and 2 real processes.

On a 2-core machine fake devices share the same cores, so these rows measure the
OVERHEAD of sharding (collectives, partitioned programs), not a speed-up; on a
machine with several GPUs the same script measures scaling. Each configuration runs
in its own subprocess (``XLA_FLAGS`` must be set before JAX starts): a jitted
``make_train_step(..., mesh="auto")`` step of SimpleNN (batch 256) and of the CNN
(batch 64, each ``Conv2d`` lowering), medians of interleaved-in-time repetitions.

Usage: ``python benchmarks/bench_scaling.py [--quick] [--output FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

WORKER = textwrap.dedent(
    """
    import json, sys, time
    import jax, numpy as np
    from flax import nnx
    from jtoolkit import losses, models, optim
    from jtoolkit.train import TrainState, initialize_distributed, make_train_step

    initialize_distributed()  # a no-op unless started by jtoolkit.launch

    model_name, batch, impl, steps, reps = sys.argv[1:6]
    batch, steps, reps = int(batch), int(steps), int(reps)
    rng = np.random.default_rng(0)
    if model_name == "simple":
        net = models.SimpleNN(rngs=nnx.Rngs(0))
        x = rng.standard_normal((batch, 1024), dtype=np.float32)
    else:
        net = models.CNN(rngs=nnx.Rngs(0))
        for layer in jax.tree.leaves(net, is_leaf=lambda m: hasattr(m, "impl")):
            if hasattr(layer, "impl"):
                layer.impl = impl
        x = rng.standard_normal((batch, 32, 32, 1), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int32)
    opt = optim.adam(1e-3)
    step = make_train_step(
        lambda m, b: losses.cross_entropy(m(b[0]), b[1]), opt, mesh="auto"
    )
    state = TrainState.create(net, opt)
    sharding = jax.sharding.NamedSharding(
        step.mesh, jax.sharding.PartitionSpec("data")
    )
    xb, yb = jax.device_put((x, y), sharding)
    state, m = step(state, (xb, yb))
    jax.block_until_ready(m["loss"])
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(steps):
            state, m = step(state, (xb, yb))
        jax.block_until_ready(m["loss"])
        times.append((time.perf_counter() - t) / steps)
    if jax.process_index() == 0:
        print(json.dumps({"s_per_step": times, "devices": jax.device_count()}))
    """
)


def _run(devices: int, args: list[str], nproc: int = 1) -> dict:
    env = {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "JAX_PLATFORMS": "cpu",
        "JTOOLKIT_COMPILATION_CACHE": "0",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(WORKER)
        script = f.name
    try:
        if nproc == 1:
            cmd = [sys.executable, script, *args]
        else:
            cmd = [sys.executable, "-m", "jtoolkit.launch", "--nproc", str(nproc)]
            cmd += [script, *args]
        out = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=600, check=True
        )
    finally:
        os.unlink(script)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")][-1]
    return json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=None)
    ns = parser.parse_args()
    steps, reps = (5, 3) if ns.quick else (20, 7)
    cases = [("simple", 256, "auto"), ("cnn", 64, "hybrid"), ("cnn", 64, "xla")]
    lines = [
        f"## bench_scaling ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores; fake CPU devices "
        "share these cores: the rows show sharding overhead, not speed-up",
        "- command: `python benchmarks/bench_scaling.py"
        + (" --quick`" if ns.quick else "`"),
        "",
        "| model | batch | Conv2d impl | devices x processes | median ms/step | "
        "samples/s | vs 1 device |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, batch, impl in cases:
        base = None
        configs = [(1, 1), (2, 1), (4, 1), (8, 1), (1, 2)]
        for devices, nproc in configs:
            args = [model, str(batch), impl, str(steps), str(reps)]
            res = _run(devices, args, nproc)
            med = statistics.median(res["s_per_step"])
            base = base or med
            lines.append(
                f"| {model} | {batch} | {impl} | {devices} x {nproc} "
                f"({res['devices']} in all) | {med * 1e3:.2f} | {batch / med:.0f} | "
                f"{med / base:.2f}x |"
            )
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if ns.output:
        with open(ns.output, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
