"""Data-parallel throughput: 1, 2, 4, 8 fake CPU devices and 2 real processes.

On a 2-core machine fake devices share the same cores, so these rows measure the
OVERHEAD of sharding (collectives, partitioned programs), not a speed-up; on a
machine with several GPUs the same script measures scaling. Each configuration runs
in its own subprocess (``XLA_FLAGS`` must be set before JAX starts): a jitted
``make_train_step(..., mesh="auto")`` step of SimpleNN (batch 256) and of the CNN
(batch 64, each ``Conv2d`` lowering), medians of interleaved-in-time repetitions.

``--state`` measures instead where the state lives (#20): the 50M-parameter MLP
(4096-4096-4096-4096-10) + Adam on 8 fake CPU devices, replicated (DDP) vs
``shard="fsdp"`` vs a Megatron-style layout on a 2x4 ``("data", "model")`` mesh:
bytes of state per device (measured on the live arrays), the compiled step's
per-device argument/temporary bytes, and the step time (CPU: overhead, not
speed-up). Each mode runs in its own subprocess, the state created abstractly
(``TrainState.create(factory, mesh=, shard=)``).

Usage: ``python benchmarks/bench_scaling.py [--quick] [--state] [--output FILE]``.
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


STATE_WORKER = textwrap.dedent(
    """
    import json, sys, time
    import jax, jax.numpy as jnp, numpy as np
    from flax import nnx
    from jax.sharding import Mesh, PartitionSpec as P
    from jtoolkit import losses, models, optim
    from jtoolkit.train import TrainState, make_train_step

    mode, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    devices = np.array(jax.devices()[:8])
    if mode == "layout 2x4":
        mesh = Mesh(devices.reshape(2, 4), ("data", "model"))
        shard = {  # Megatron: column-split, then row-split, alternating
            r"layers/(0|4)/kernel$": P(None, "model"),
            r"layers/(0|4)/bias$": P("model"),
            r"layers/(2|6)/kernel$": P("model", None),
        }
    else:
        mesh = Mesh(devices, ("data",))
        shard = "fsdp" if mode == "fsdp" else None
    opt = optim.adam(1e-4)
    factory = lambda: models.MLP([4096, 4096, 4096, 4096, 10], rngs=nnx.Rngs(0))
    t0 = time.perf_counter()
    state = TrainState.create(factory, opt, mesh=mesh, shard=shard)
    jax.block_until_ready(state)
    create_s = time.perf_counter() - t0
    params = sum(x.size for x in jax.tree.leaves(state.model))
    def per_device(tree):
        total = 0
        for x in jax.tree.leaves(tree):
            if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
                x = jax.random.key_data(x)
            total += x.addressable_shards[0].data.nbytes
        return total
    state_bytes = per_device(state)
    step = make_train_step(
        lambda m, b: losses.cross_entropy(m(b[0]), b[1], reduction="none"),
        opt, mesh=mesh, shard=shard,
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 4096), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int32)
    split = jax.sharding.NamedSharding(mesh, P("data"))
    xb, yb = jax.device_put((x, y), split)
    memory = step.lower(state, (xb, yb), None).compile().memory_analysis()
    t0 = time.perf_counter()
    state, m = step(state, (xb, yb))
    jax.block_until_ready(m["loss"])
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        state, m = step(state, (xb, yb))
        jax.block_until_ready(m["loss"])
        times.append(time.perf_counter() - t0)
    print(json.dumps({
        "params": int(params), "state_bytes": state_bytes, "create_s": create_s,
        "first_s": first_s, "s_per_step": times, "loss": float(m["loss"]),
        "arg_bytes": getattr(memory, "argument_size_in_bytes", None),
        "temp_bytes": getattr(memory, "temp_size_in_bytes", None),
    }))
    """
)


def _state_table(batch: int, steps: int) -> list[str]:
    """The state-placement rows (``--state``): one subprocess per mode."""
    lines = [
        "",
        f"50M-parameter MLP + Adam, batch {batch}, 8 fake CPU devices; "
        f"median of {steps} steps after the first (compile) call",
        "",
        "| mode | state MiB / device | vs replicated | compiled args MiB / device | "
        "temp MiB / device | create s | ms/step | final loss |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = None
    for mode in ("replicated", "fsdp", "layout 2x4"):
        res = _run(8, [mode, str(batch), str(steps)], script_text=STATE_WORKER)
        mib = res["state_bytes"] / 2**20
        base = base or mib
        arg = res["arg_bytes"]
        temp = res["temp_bytes"]
        lines.append(
            f"| {mode} | {mib:.1f} | 1/{base / mib:.2f} | "
            f"{'-' if arg is None else f'{arg / 2**20:.1f}'} | "
            f"{'-' if temp is None else f'{temp / 2**20:.1f}'} | "
            f"{res['create_s']:.1f} | {statistics.median(res['s_per_step']) * 1e3:.0f}"
            f" | {res['loss']:.6f} |"
        )
        print(lines[-1], flush=True)
    return lines


def _run(
    devices: int, args: list[str], nproc: int = 1, script_text: str = WORKER
) -> dict:
    env = {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "JAX_PLATFORMS": "cpu",
        "JTOOLKIT_COMPILATION_CACHE": "0",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(script_text)
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
    parser.add_argument("--state", action="store_true", help="placement table only")
    parser.add_argument("--output", default=None)
    ns = parser.parse_args()
    if ns.state:
        lines = [
            f"## bench_scaling --state "
            f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
            "",
            f"- machine: {platform.machine()}, {os.cpu_count()} cores, load "
            f"{os.getloadavg()[0]:.1f} at start",
            *_state_table(64, 2 if ns.quick else 5),
        ]
        text = "\n".join(lines) + "\n"
        print(text)
        if ns.output:
            with open(ns.output, "w") as f:
                f.write(text)
        return
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
