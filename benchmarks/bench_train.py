"""Training speed: jtoolkit's jitted step, epoch and demo against torch and plain JAX.

Contenders, same data, model and initial weights, torch pinned to 2 threads:

- step: the tutorial's SimpleNN (1024-224-10) + CrossEntropy + Adam at batch 64 and
  512, and jtoolkit's CNN at batch 128 (32x32x1): jtoolkit ``make_train_step`` vs
  torch eager (foreach Adam), torch eager with fused Adam, ``torch.compile`` (skipped
  with a note if it fails here), and a hand-written Flax NNX + optax ``jax.jit`` step;
- epoch: 60,000 samples through ``jtoolkit.data.DataLoader`` + ``fit`` vs torch's
  DataLoader + eager, and jtoolkit's fused ``lax.scan`` epoch;
- demo: the whole process wall time of ``python -m jtoolkit.train`` (empty, then warm
  compilation cache) vs a torch script doing the same training.

Repetitions are interleaved (A, B, C, A, B, C, ...); medians and ratios to torch eager
are printed as a markdown table. Compile time is reported separately. On a machine
shared with other work, torch's 2 OpenMP threads can stall at barriers when one core
is taken; a 1-thread torch row shows how much of torch's time that costs.

Usage: ``python benchmarks/bench_train.py [--quick] [--only overhead,step,epoch,demo]
[--cpu-split]`` (``--cpu-split``: one JAX CPU device per core, and the step table
gains a "jtoolkit split over N devices" row).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

THREADS = 2


def _median_table(title: str, results: dict[str, list[float]], unit: str) -> str:
    base = (
        statistics.median(results["torch eager"]) if "torch eager" in results else None
    )
    lines = [
        f"### {title}",
        "",
        f"| contender | median {unit} | vs torch eager |",
        "|---|---|---|",
    ]
    for name, values in results.items():
        if not values:
            continue
        med = statistics.median(values)
        ratio = f"{med / base:.2f}x" if base else "-"
        lines.append(f"| {name} | {med:.3f} | {ratio} |")
    return "\n".join(lines) + "\n"


def _interleave(contenders: dict, reps: int) -> dict[str, list[float]]:
    """Interleaved repetitions, the order rotated each round.

    torch's OpenMP threads keep spinning for a while after an op; whoever runs right
    after torch loses CPU to them. Rotating gives every contender every position.
    """
    out: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(reps):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            out[name].append(contenders[name]())
    return out


# ---------------------------------------------------------------------------- step
def _jtk_step(model_name: str, batch: int, x, y, split: bool = False):
    """jtoolkit's train step; ``split``: data-parallel over every device
    (``--cpu-split``: one CPU device per core), the batch split on its leading axis."""
    import jax
    from flax import nnx

    from jtoolkit import losses, models, optim
    from jtoolkit.train import TrainState, make_train_step

    net = (
        models.SimpleNN(rngs=nnx.Rngs(0))
        if model_name == "simple"
        else models.CNN(rngs=nnx.Rngs(0))
    )
    opt = optim.adam(lr=1e-3)

    def loss_fn(m, b):
        return losses.cross_entropy(m(b[0]), b[1])

    if split:
        step = make_train_step(loss_fn, opt, mesh="auto")
        holder = {"state": step.place(TrainState.create(net, opt))}
        xb, yb = x[:batch], y[:batch]
    else:
        step = make_train_step(loss_fn, opt)
        holder = {"state": TrainState.create(net, opt)}
        xb, yb = jax.device_put(x[:batch]), jax.device_put(y[:batch])
    t0 = time.perf_counter()
    holder["state"], m = step(holder["state"], (xb, yb))
    jax.block_until_ready(m["loss"])
    compile_s = time.perf_counter() - t0

    def run(k):
        state = holder["state"]
        for _ in range(k):
            state, m = step(state, (xb, yb))
        jax.block_until_ready(m["loss"])
        holder["state"] = state

    return run, compile_s, net


def _jtk_multi_step(batch: int, x, y, k: int):
    """SimpleNN with ``make_train_step(steps=k)``: k steps per dispatch."""
    import jax
    from flax import nnx

    from jtoolkit import losses, models, optim
    from jtoolkit.train import TrainState, make_train_step

    net = models.SimpleNN(rngs=nnx.Rngs(0))
    opt = optim.adam(lr=1e-3)

    def loss_fn(m, b):
        return losses.cross_entropy(m(b[0]), b[1])

    step = make_train_step(loss_fn, opt, steps=k)
    holder = {"state": TrainState.create(net, opt)}
    xs = jax.device_put(np.stack([x[:batch]] * k))
    ys = jax.device_put(np.stack([y[:batch]] * k))
    holder["state"], m = step(holder["state"], (xs, ys))
    jax.block_until_ready(m["loss"])

    def run(n):
        state = holder["state"]
        for _ in range(max(n // k, 1)):
            state, m = step(state, (xs, ys))
        jax.block_until_ready(m["loss"])
        holder["state"] = state

    return run


def _hand_step(net, batch: int, x, y):
    """The hand-written baseline: nnx.split once, jax.jit over (params, opt_state)."""
    import jax
    import optax
    from flax import nnx

    graphdef, params = nnx.split(net)
    opt = optax.adam(1e-3)
    holder = {"p": jax.tree.map(lambda a: a.copy(), params)}
    holder["o"] = opt.init(holder["p"])

    def loss(p, xb, yb):
        logits = nnx.merge(graphdef, p)(xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    @jax.jit
    def step(p, o, xb, yb):
        value, grads = jax.value_and_grad(loss)(p, xb, yb)
        updates, o = opt.update(grads, o, p)
        return optax.apply_updates(p, updates), o, value

    step = jax.jit(step, donate_argnums=(0, 1))
    xb, yb = jax.device_put(x[:batch]), jax.device_put(y[:batch])
    t0 = time.perf_counter()
    holder["p"], holder["o"], v = step(holder["p"], holder["o"], xb, yb)
    jax.block_until_ready(v)
    compile_s = time.perf_counter() - t0

    def run(k):
        p, o = holder["p"], holder["o"]
        for _ in range(k):
            p, o, v = step(p, o, xb, yb)
        jax.block_until_ready(v)
        holder["p"], holder["o"] = p, o

    return run, compile_s


def _torch_model(torch, model_name: str, net):
    from jtoolkit.models import torch_state_dict

    if model_name == "simple":
        tnet = torch.nn.Sequential()
        tnet.fc1 = torch.nn.Linear(1024, 224)
        tnet.relu = torch.nn.ReLU()
        tnet.fc2 = torch.nn.Linear(224, 10)
        tnet.load_state_dict(
            {k: torch.tensor(v) for k, v in torch_state_dict(net).items()}
        )
        return tnet, False
    nn = torch.nn
    tnet = nn.Module()
    tnet.features = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )
    tnet.pool = nn.AdaptiveAvgPool2d((4, 4))
    tnet.classifier = nn.Sequential(
        nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    tnet.forward = lambda x: tnet.classifier(tnet.pool(tnet.features(x)))
    try:
        tnet.load_state_dict(
            {k: torch.tensor(v) for k, v in torch_state_dict(net).items()}
        )
    except (
        Exception
    ):  # layouts differ: same shapes and init scheme is what matters here
        pass
    return tnet, True


def _torch_step(torch, tnet, nchw: bool, batch: int, x, y, mode: str):
    import copy

    net = copy.deepcopy(tnet)
    xb = torch.tensor(x[:batch])
    if nchw:
        xb = xb.permute(0, 3, 1, 2).contiguous()
    yb = torch.tensor(y[:batch]).long()
    fused = mode == "fused"
    threads = 1 if mode == "eager1" else THREADS
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=fused or None)
    fwd = net.forward if nchw else net

    def one():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(fwd(xb), yb)
        loss.backward()
        opt.step()
        return loss

    if mode == "compile":
        one = torch.compile(one)
    t0 = time.perf_counter()
    one()
    compile_s = time.perf_counter() - t0

    def run(k):
        torch.set_num_threads(threads)
        for _ in range(k):
            one()
        torch.set_num_threads(THREADS)

    return run, compile_s


def bench_step(quick: bool) -> str:
    import jax
    import torch

    torch.set_num_threads(THREADS)
    rng = np.random.default_rng(0)
    out = []
    cases = [("simple", 64), ("simple", 512), ("cnn", 128)]
    steps = 5 if quick else 40
    reps = 3 if quick else 7
    for model_name, batch in cases:
        if model_name == "simple":
            x = rng.standard_normal((batch, 1024), dtype=np.float32)
        else:
            x = rng.standard_normal((batch, 32, 32, 1), dtype=np.float32)
        y = rng.integers(0, 10, batch).astype(np.int32)
        k = max(steps // (8 if model_name == "cnn" else 1), 2)
        jtk, jtk_c, net = _jtk_step(model_name, batch, x, y)
        hand, hand_c = _hand_step(net, batch, x, y)
        tnet, nchw = _torch_model(torch, model_name, net)
        runs = {"jtoolkit": jtk, "hand-written NNX+optax jit": hand}
        if len(jax.devices()) > 1:  # --cpu-split
            name = f"jtoolkit split over {len(jax.devices())} devices"
            runs[name] = _jtk_step(model_name, batch, x, y, split=True)[0]
        if model_name == "simple" and batch == 64:
            for spe in (4, 8, 16):
                runs[f"jtoolkit steps_per_execution={spe}"] = _jtk_multi_step(
                    batch, x, y, spe
                )
        compiles = {"jtoolkit": jtk_c, "hand-written NNX+optax jit": hand_c}
        notes = []
        for label, mode in (
            ("torch eager", "eager"),
            ("torch eager 1 thread", "eager1"),
            ("torch eager fused Adam", "fused"),
            ("torch.compile", "compile"),
        ):
            try:
                runs[label], compiles[label] = _torch_step(
                    torch, tnet, nchw, batch, x, y, mode
                )
            except Exception as err:  # torch.compile needs a C++ toolchain
                first = str(err).splitlines()[0][:120] if str(err) else ""
                notes.append(f"{label} skipped: {type(err).__name__}: {first}")
        for fn in runs.values():
            fn(k)  # warm-up

        def timed(fn, k=k):
            def go():
                t0 = time.perf_counter()
                fn(k)
                return (time.perf_counter() - t0) / k * 1e3

            return go

        def timed_multi(fn, name, k=k):
            per = int(name.rsplit("=", 1)[1]) if "steps_per_execution" in name else 1
            n = max(k // per, 1) * per

            def go():
                t0 = time.perf_counter()
                fn(n)
                return (time.perf_counter() - t0) / n * 1e3

            return go

        res = _interleave({n: timed_multi(f, n) for n, f in runs.items()}, reps)
        title = (
            f"Step: {model_name} batch {batch} ({k} steps x {reps} interleaved reps)"
        )
        out.append(_median_table(title, res, "ms/step"))
        out.append(
            "First call (compile) s: "
            + ", ".join(f"{n} {c:.2f}" for n, c in compiles.items())
            + "\n"
        )
        out.extend(n + "\n" for n in notes)
    return "\n".join(out)


# ------------------------------------------------------------------------ overhead
def bench_overhead(quick: bool) -> str:
    """The step object's per-call cost: ``TrainStep`` against the same pure update
    under a hand-written ``jax.jit(update, donate_argnums=0)`` (SimpleNN, batch 64).
    Same program, so the ratio is the object's Python overhead alone."""
    import jax
    from flax import nnx

    from jtoolkit import losses, models, optim
    from jtoolkit.train import TrainState, make_train_step

    rng = np.random.default_rng(0)
    x = jax.device_put(rng.standard_normal((64, 1024), dtype=np.float32))
    y = jax.device_put(rng.integers(0, 10, 64).astype(np.int32))
    opt = optim.adam(lr=1e-3)

    def loss_fn(m, b):
        return losses.cross_entropy(m(b[0]), b[1], reduction="none")

    step = make_train_step(loss_fn, opt)
    raw = jax.jit(lambda s, b: step.update(s, b, None), donate_argnums=0)
    net = models.SimpleNN(rngs=nnx.Rngs(0))
    holder = {"a": TrainState.create(net, opt), "b": TrainState.create(net, opt)}
    n, reps = (20, 5) if quick else (200, 15)

    def timed(fn, key):
        def go():
            state = holder[key]
            t0 = time.perf_counter()
            for _ in range(n):
                state, m = fn(state, (x, y))
            jax.block_until_ready(m["loss"])
            holder[key] = state
            return (time.perf_counter() - t0) / n * 1e3

        return go

    contenders = {"TrainStep": timed(step, "a"), "jax.jit(update)": timed(raw, "b")}
    for go in contenders.values():
        go()  # compile + warm
    res = _interleave(contenders, reps)
    ratio = statistics.median(res["TrainStep"]) / statistics.median(
        res["jax.jit(update)"]
    )
    lines = [
        f"### Step overhead: SimpleNN batch 64 ({n} calls x {reps} interleaved reps)",
        "",
        "| contender | median ms/step |",
        "|---|---|",
    ]
    lines += [f"| {k} | {statistics.median(v):.3f} |" for k, v in res.items()]
    return "\n".join(lines) + f"\n\nTrainStep / jax.jit(update): {ratio:.3f}x\n"


# --------------------------------------------------------------------------- epoch
def bench_epoch(quick: bool) -> str:
    import jax
    import torch
    from flax import nnx

    from jtoolkit import data, losses, models, optim
    from jtoolkit.train import TrainState, fit, make_fused_epoch, make_train_step

    torch.set_num_threads(THREADS)
    n = 6000 if quick else 60000
    reps = 2 if quick else 5
    rng = np.random.default_rng(0)
    x = rng.random((n, 1024), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.int32)
    opt = optim.adam(lr=1e-3)

    def loss_fn(m, b):
        return losses.cross_entropy(m(b[0]), b[1], reduction="none")

    step = make_train_step(loss_fn, opt)
    fused = make_fused_epoch(loss_fn, opt, batch_size=64)
    loader = data.DataLoader(
        data.ArrayDataset(x, y), batch_size=64, shuffle=True, seed=0
    )
    net = models.SimpleNN(rngs=nnx.Rngs(0))
    dev = jax.device_put((x, y))
    holder = {
        "s": TrainState.create(net, opt),
        "f": TrainState.create(net, opt),
        "k": TrainState.create(net, opt),
        "e": 0,
    }

    t0 = time.perf_counter()
    holder["f"], m = fused(holder["f"], dev, jax.random.key(0))
    jax.block_until_ready(m["loss"])
    fused_compile = time.perf_counter() - t0

    def jtk_epoch():
        t = time.perf_counter()
        holder["s"], _ = fit(holder["s"], step, loader, 1, progress=False)
        return time.perf_counter() - t

    def jtk_epoch_k8():
        t = time.perf_counter()
        holder["k"], _ = fit(
            holder["k"], step, loader, 1, progress=False, steps_per_execution=8
        )
        return time.perf_counter() - t

    def fused_epoch():
        t = time.perf_counter()
        holder["e"] += 1
        holder["f"], m = fused(holder["f"], dev, jax.random.key(holder["e"]))
        jax.block_until_ready(m["loss"])
        return time.perf_counter() - t

    tnet = torch.nn.Sequential(
        torch.nn.Linear(1024, 224), torch.nn.ReLU(), torch.nn.Linear(224, 10)
    )
    topt = torch.optim.Adam(tnet.parameters(), lr=1e-3)
    tds = torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y).long())
    tloader = torch.utils.data.DataLoader(tds, batch_size=64, shuffle=True)

    def torch_epoch(threads=THREADS):
        torch.set_num_threads(threads)
        t = time.perf_counter()
        for xb, yb in tloader:
            topt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(tnet(xb), yb).backward()
            topt.step()
        elapsed = time.perf_counter() - t
        torch.set_num_threads(THREADS)
        return elapsed

    jtk_epoch()  # compile + warm
    jtk_epoch_k8()
    torch_epoch()
    res = _interleave(
        {
            "torch eager": torch_epoch,
            "torch eager 1 thread": lambda: torch_epoch(1),
            "jtoolkit DataLoader + fit": jtk_epoch,
            "jtoolkit DataLoader + fit, steps_per_execution=8": jtk_epoch_k8,
            "jtoolkit fused scan epoch": fused_epoch,
        },
        reps,
    )
    title = f"Epoch: SimpleNN, {n} samples, batch 64, Adam ({reps} interleaved reps)"
    return (
        _median_table(title, res, "s/epoch")
        + f"Fused epoch first call (compile + 1 epoch): {fused_compile:.2f} s\n"
    )


# ---------------------------------------------------------------------------- demo
_TORCH_DEMO = textwrap.dedent(
    """
    import importlib.util, os, time
    import numpy as np
    import torch
    torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "2")))
    torch.manual_seed(0)
    spec = importlib.util.find_spec("sklearn")
    root = next(iter(spec.submodule_search_locations))
    path = os.path.join(root, "datasets", "data", "digits.csv.gz")
    t = np.loadtxt(path, delimiter=",", dtype=np.float32)
    x = (t[:, :64].reshape(-1, 8, 8) / 16.0).repeat(4, 1).repeat(4, 2).reshape(-1, 1024)
    y = t[:, 64].astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    nv = round(len(x) * 0.2)
    xv, yv, xt, yt = x[order[:nv]], y[order[:nv]], x[order[nv:]], y[order[nv:]]
    TD, DL = torch.utils.data.TensorDataset, torch.utils.data.DataLoader
    train = DL(TD(torch.tensor(xt), torch.tensor(yt)), batch_size=64, shuffle=True)
    val = DL(TD(torch.tensor(xv), torch.tensor(yv)), batch_size=64)
    nn = torch.nn
    net = nn.Sequential(nn.Linear(1024, 224), nn.ReLU(), nn.Linear(224, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for epoch in range(15):
        net.train()
        for xb, yb in train:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xb), yb).backward()
            opt.step()
        net.eval()
        correct = 0
        with torch.no_grad():
            for xb, yb in val:
                correct += (net(xb).argmax(1) == yb).sum().item()
    print("val_accuracy", correct / nv)
    """
)


def _wall(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def bench_demo(quick: bool) -> str:
    reps = 1 if quick else 3
    tmp = tempfile.mkdtemp()
    script = os.path.join(tmp, "torch_demo.py")
    with open(script, "w") as f:
        f.write(_TORCH_DEMO)
    env = {**os.environ, "OMP_NUM_THREADS": str(THREADS)}
    jtk = [sys.executable, "-m", "jtoolkit.train", "--no-progress"]
    res: dict[str, list[float]] = {
        "torch eager": [],
        "torch eager 1 thread": [],
        "jtoolkit, empty cache": [],
        "jtoolkit, warm cache": [],
    }
    for i in range(reps):
        cache = os.path.join(tmp, f"cache{i}")
        jenv = {**env, "JAX_COMPILATION_CACHE_DIR": cache}
        res["torch eager"].append(_wall([sys.executable, script], env))
        one = {**env, "BENCH_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
        res["torch eager 1 thread"].append(_wall([sys.executable, script], one))
        res["jtoolkit, empty cache"].append(_wall(jtk, jenv))
        res["jtoolkit, warm cache"].append(_wall(jtk, jenv))
    return _median_table(
        f"Demo process wall time (digits, SimpleNN, 15 epochs; {reps} reps)", res, "s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: few reps")
    parser.add_argument(
        "--only", default="overhead,step,epoch,demo", help="comma list of parts"
    )
    parser.add_argument(
        "--cpu-split",
        action="store_true",
        help="one JAX CPU device per usable core (jtoolkit.train.use_cpu_cores); "
        "step adds a contender data-parallel over them",
    )
    args = parser.parse_args()
    import jax

    if args.cpu_split:
        from jtoolkit.train import use_cpu_cores

        use_cpu_cores()
    import torch

    parts = args.only.split(",")
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"## bench_train ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    cpu = platform.processor() or platform.machine()
    print(
        f"- machine: {cpu}, {os.cpu_count()} cores; jax {jax.__version__} on "
        f"{jax.devices()[0].platform}; torch {torch.__version__} ({THREADS} threads)"
    )
    print(f"- command: `python benchmarks/bench_train.py {' '.join(sys.argv[1:])}`")
    print(f"- uptime before: `{load}`\n")
    if "overhead" in parts:
        print(bench_overhead(args.quick), flush=True)
    if "step" in parts:
        print(bench_step(args.quick), flush=True)
    if "epoch" in parts:
        print(bench_epoch(args.quick), flush=True)
    if "demo" in parts:
        print(bench_demo(args.quick), flush=True)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"- uptime after: `{load}`")


if __name__ == "__main__":
    main()
