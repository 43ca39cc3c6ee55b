"""GPU benchmark: jtoolkit against torch CUDA eager, and a bf16 MLP's TFLOP/s and MFU.

Run by ``benchmarks/gpu_check.sh`` on a machine with an NVIDIA GPU (JAX's CUDA plugin
and torch with CUDA installed). Contenders, same model, batch and data:

- step: SimpleNN (1024-224-10) + cross entropy + Adam at batch 64 and 512, and the
  CNN at batch 128: jtoolkit ``make_train_step`` (1 and 16 steps per dispatch) vs
  torch CUDA eager (foreach Adam) and fused Adam;
- epoch: 60,000 samples, batch 64: ``DataLoader`` + ``fit`` (k = 1, 16) and the
  fused ``lax.scan`` epoch vs torch's DataLoader + CUDA eager;
- bf16: an MLP of 4 layers 8192 wide at batch 8192, ``precision="bf16"`` (fp32 master
  weights), its training TFLOP/s (6 x batch x weights per step) and MFU against the
  chip's dense bf16 peak (``--peak-tflops``, default 989: H100/H200 SXM), with torch
  ``autocast(bfloat16)`` beside it.

Medians of interleaved repetitions; compile time excluded (warm-up first).
``--smoke`` runs tiny sizes on whatever devices there are (a check of the script).

Usage: ``python benchmarks/bench_gpu.py [--smoke] [--output FILE]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _interleave(fns: dict, reps: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(reps):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(fns[name]())
    return {name: statistics.median(v) for name, v in times.items()}


def _table(title: str, medians: dict[str, float], unit: str, scale: float) -> str:
    base = medians.get("torch eager")
    rows = [f"### {title}", "", f"| contender | median {unit} | vs torch eager |"]
    rows.append("|---|---|---|")
    for name, med in medians.items():
        ratio = f"{med / base:.2f}x" if base else "-"
        rows.append(f"| {name} | {med * scale:.3f} | {ratio} |")
    return "\n".join(rows) + "\n"


def _jtk_model(name: str, nnx, models, width: int = 0):
    if name == "simple":
        return models.SimpleNN(rngs=nnx.Rngs(0))
    if name == "cnn":
        return models.CNN(rngs=nnx.Rngs(0))
    return models.MLP([width] * 5, rngs=nnx.Rngs(0))


def _torch_model(torch, name: str, net, width: int = 0):
    from jtoolkit.models import torch_state_dict

    if name == "simple":
        t = torch.nn.Sequential(
            torch.nn.Linear(1024, 224), torch.nn.ReLU(), torch.nn.Linear(224, 10)
        )
    elif name == "cnn":
        return None
    else:
        layers = []
        for _ in range(4):
            layers += [torch.nn.Linear(width, width), torch.nn.ReLU()]
        t = torch.nn.Sequential(*layers[:-1])
    if name == "simple":
        sd = torch_state_dict(net)
        t.load_state_dict(
            {
                k.replace("fc1", "0").replace("fc2", "2"): torch.tensor(v)
                for k, v in sd.items()
            },
            strict=False,
        )
    return t


def _jtk_runner(model, batch_x, batch_y, k: int, precision: str = "fp32"):
    import jax

    from jtoolkit import losses, optim
    from jtoolkit.train import TrainState, make_train_step

    opt = optim.adam(1e-3)

    def loss_fn(m, b):
        return losses.cross_entropy(m(b[0]), b[1])

    step = make_train_step(loss_fn, opt, steps=k, precision=precision)
    holder = {"s": TrainState.create(model, opt)}
    if k > 1:
        batch = jax.device_put((np.stack([batch_x] * k), np.stack([batch_y] * k)))
    else:
        batch = jax.device_put((batch_x, batch_y))

    def run(n: int) -> None:
        s = holder["s"]
        for _ in range(max(n // k, 1)):
            s, m = step(s, batch)
        jax.block_until_ready(m["loss"])
        holder["s"] = s

    run(k)
    return run


def _torch_runner(torch, tnet, x, y, fused: bool, bf16: bool = False):
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    tnet = tnet.to(dev)
    opt = torch.optim.Adam(tnet.parameters(), lr=1e-3, fused=fused and dev == "cuda")
    xb, yb = torch.tensor(x, device=dev), torch.tensor(y, device=dev).long()

    def run(n: int) -> None:
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            with torch.autocast(dev, dtype=torch.bfloat16, enabled=bf16):
                loss = torch.nn.functional.cross_entropy(tnet(xb), yb)
            loss.backward()
            opt.step()
        if dev == "cuda":
            torch.cuda.synchronize()

    run(2)
    return run


def _per_step(run, n: int):
    def go() -> float:
        t = time.perf_counter()
        run(n)
        return (time.perf_counter() - t) / n

    return go


def bench_steps(torch, smoke: bool) -> str:
    from flax import nnx

    from jtoolkit import models

    rng = np.random.default_rng(0)
    out = []
    n, reps = (16, 2) if smoke else (320, 7)
    for name, batch in (("simple", 64), ("simple", 512), ("cnn", 128)):
        shape = (batch, 1024) if name == "simple" else (batch, 32, 32, 1)
        x = rng.standard_normal(shape, dtype=np.float32)
        y = rng.integers(0, 10, batch).astype(np.int32)
        net = _jtk_model(name, nnx, models)
        fns = {
            "jtoolkit": _per_step(_jtk_runner(net, x, y, 1), n),
            "jtoolkit steps_per_execution=16": _per_step(_jtk_runner(net, x, y, 16), n),
        }
        tnet = _torch_model(torch, name, net)
        if tnet is None:  # the CNN's torch twin, NCHW
            tnet = torch.nn.Sequential(
                torch.nn.Conv2d(1, 32, 3, padding=1),
                torch.nn.ReLU(),
                torch.nn.MaxPool2d(2),
                torch.nn.Conv2d(32, 64, 3, padding=1),
                torch.nn.ReLU(),
                torch.nn.MaxPool2d(2),
                torch.nn.AdaptiveAvgPool2d((4, 4)),
                torch.nn.Flatten(),
                torch.nn.Linear(1024, 128),
                torch.nn.ReLU(),
                torch.nn.Linear(128, 10),
            )
            tx = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        else:
            tx = x
        fns["torch eager"] = _per_step(_torch_runner(torch, tnet, tx, y, False), n)
        fns["torch eager fused Adam"] = _per_step(
            _torch_runner(torch, tnet, tx, y, True), n
        )
        med = _interleave(fns, reps)
        out.append(_table(f"Step: {name} batch {batch}", med, "ms/step", 1e3))
    return "\n".join(out)


def bench_epoch(torch, smoke: bool) -> str:
    import jax
    from flax import nnx

    from jtoolkit import data, losses, models, optim
    from jtoolkit.train import TrainState, fit, make_fused_epoch, make_train_step

    n = 4096 if smoke else 60000
    rng = np.random.default_rng(0)
    x = rng.random((n, 1024), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.int32)
    opt = optim.adam(1e-3)

    def loss_fn(m, b):
        return losses.cross_entropy(m(b[0]), b[1], reduction="none")

    loader = data.DataLoader(data.ArrayDataset(x, y), batch_size=64, shuffle=True)
    net = models.SimpleNN(rngs=nnx.Rngs(0))
    steps = {
        1: make_train_step(loss_fn, opt),
        16: make_train_step(loss_fn, opt, steps=16),
    }
    states = {k: TrainState.create(net, opt) for k in (1, 16, "f")}
    fused = make_fused_epoch(loss_fn, opt, batch_size=64)
    dev = jax.device_put((x, y))

    def jtk(k):
        def go():
            t = time.perf_counter()
            states[k], _ = fit(
                states[k], steps[k], loader, 1, progress=False, steps_per_execution=k
            )
            return time.perf_counter() - t

        return go

    def fused_epoch():
        t = time.perf_counter()
        states["f"], m = fused(states["f"], dev, jax.random.key(0))
        jax.block_until_ready(m["loss"])
        return time.perf_counter() - t

    cuda = "cuda" if torch.cuda.is_available() else "cpu"
    tnet = _torch_model(torch, "simple", net).to(cuda)
    topt = torch.optim.Adam(tnet.parameters(), lr=1e-3)
    tds = torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y).long())
    tloader = torch.utils.data.DataLoader(
        tds, batch_size=64, shuffle=True, pin_memory=cuda == "cuda"
    )

    def torch_epoch():
        t = time.perf_counter()
        for xb, yb in tloader:
            xb, yb = xb.to(cuda, non_blocking=True), yb.to(cuda, non_blocking=True)
            topt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(tnet(xb), yb).backward()
            topt.step()
        if cuda == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t

    fns = {
        "torch eager": torch_epoch,
        "jtoolkit DataLoader + fit": jtk(1),
        "jtoolkit fit, steps_per_execution=16": jtk(16),
        "jtoolkit fused scan epoch": fused_epoch,
    }
    for fn in fns.values():
        fn()  # compile, warm
    med = _interleave(fns, 2 if smoke else 5)
    return _table(f"Epoch: SimpleNN, {n} samples, batch 64", med, "s/epoch", 1)


def bench_bf16(torch, smoke: bool, peak: float) -> str:
    from flax import nnx

    from jtoolkit import models

    width, batch = (256, 256) if smoke else (8192, 8192)
    n, reps = (4, 2) if smoke else (20, 5)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, width), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int32)
    net = _jtk_model("mlp", nnx, models, width)
    flops = 6.0 * batch * 4 * width * width  # forward + backward, 4 layers
    jtk = _per_step(_jtk_runner(net, x, y, 1, precision="bf16"), n)
    tnet = _torch_model(torch, "mlp", net, width)
    tch = _per_step(_torch_runner(torch, tnet, x, y, True, bf16=True), n)
    med = _interleave({"jtoolkit bf16": jtk, "torch autocast bf16": tch}, reps)
    rows = [
        f"### bf16 MLP: 4 x {width} wide, batch {batch}",
        "",
        "| contender | ms/step | TFLOP/s | MFU |",
        "|---|---|---|---|",
    ]
    for name, sec in med.items():
        tflops = flops / sec / 1e12
        rows.append(
            f"| {name} | {sec * 1e3:.2f} | {tflops:.0f} | {tflops / peak:.1%} |"
        )
    return "\n".join(rows) + f"\n(peak taken as {peak:.0f} TFLOP/s dense bf16)\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--output", default=None)
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    ns = parser.parse_args()
    import jax
    import torch

    head = [
        f"## bench_gpu ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"- jax {jax.__version__} on {jax.devices()[0].device_kind}; torch "
        f"{torch.__version__} on "
        f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu'}",
        "",
    ]
    parts = [
        bench_steps(torch, ns.smoke),
        bench_epoch(torch, ns.smoke),
        bench_bf16(torch, ns.smoke, ns.peak_tflops),
    ]
    text = "\n".join(head) + "\n".join(parts)
    print(text, flush=True)
    if ns.output:
        with open(ns.output, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
