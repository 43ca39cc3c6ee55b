"""Conv2d forward+backward and the CNN train step: jtoolkit vs torch eager vs flax.nnx.

Conv2d cases: plain (1->32, 32->64), grouped (groups=4), depthwise (groups=C) and
dilated (dilation=2), each forward + backward (input and parameter gradients).

Contenders (interleaved repetitions, medians, ratios to torch eager):

* ``jtk-xla`` / ``jtk-im2col`` / ``jtk-hybrid``: ``jtoolkit.models`` with each ``impl``
  ("hybrid" is what ``impl="auto"`` picks on CPU; ``jtk-auto`` in the grouped,
  depthwise and dilated cases);
* ``flax``: the same network built from ``flax.nnx.Conv`` / ``nnx.Linear``;
* ``torch``: torch eager, ``torch.set_num_threads(threads)``.

``--only loop``: 8 SGD steps of one Conv2d(32, 64, 3) inside one ``lax.scan`` (what
``steps_per_execution`` and ``accumulate`` compile), lowered "xla" (XLA's own
gradients, left on its generic loop inside a while body) and "looped" (what "auto"
picks there), against 8 single jitted steps and torch.

JAX steps are ``jax.jit``-compiled pure functions over ``nnx.split`` state (the
training engine's functional core), warmed up first (compile time is reported apart),
and timed with ``jax.block_until_ready``. Options: ``--help``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jtoolkit import models
from jtoolkit.functional import adaptive_avg_pool2d

__all__: list[str] = []


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--size", type=int, default=28, help="H = W of the images")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--quick", action="store_true", help="3 reps, batch 32")
    parser.add_argument(
        "--only",
        choices=["conv", "variants", "cnn", "lowering", "loop"],
        default=None,
    )
    parser.add_argument(
        "--policies",
        default=None,
        help="lowering: comma-separated indices into the per-layer rules to compare "
        "(default: all)",
    )
    args = parser.parse_args()
    if args.quick:
        args.reps, args.batch = 3, 32
    return args


# ------------------------------------------------------------------ contenders


class FlaxCNN(nnx.Module):
    """``models.CNN`` built from flax's own layers (nnx.Conv with torch's padding)."""

    def __init__(self, in_channels: int, num_classes: int, rngs: nnx.Rngs):
        pad = ((1, 1), (1, 1))
        self.conv1 = nnx.Conv(in_channels, 32, (3, 3), padding=pad, rngs=rngs)
        self.conv2 = nnx.Conv(32, 64, (3, 3), padding=pad, rngs=rngs)
        self.fc1 = nnx.Linear(1024, 128, rngs=rngs)
        self.fc2 = nnx.Linear(128, num_classes, rngs=rngs)

    def __call__(self, x):
        x = jax.nn.relu(self.conv2(jax.nn.relu(self.conv1(x))))
        x = nnx.max_pool(x, (2, 2), strides=(2, 2))  # flax's own (reduce_window)
        x = adaptive_avg_pool2d(x, (4, 4), data_format="NHWC")  # flax has none
        x = x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)
        return self.fc2(jax.nn.relu(self.fc1(x)))


def torch_cnn(torch, in_channels: int, num_classes: int):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d((4, 4)),
        nn.Flatten(),
        nn.Linear(1024, 128),
        nn.ReLU(),
        nn.Linear(128, num_classes),
    )


def jax_train_step(model: nnx.Module, x, y) -> Callable[[], None]:
    """One SGD step of cross-entropy through the functional core, as a thunk."""
    graphdef, params = nnx.split(model, nnx.Param)
    tx = optax.sgd(0.01, momentum=0.9)
    state = {"params": params, "opt": tx.init(params)}

    @jax.jit
    def step(params, opt_state, x, y):
        def loss_fn(params):
            logits = nnx.merge(graphdef, params)(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def run():
        params, opt, loss = step(state["params"], state["opt"], x, y)
        jax.block_until_ready(loss)
        state["params"], state["opt"] = params, opt

    return run


def torch_train_step(torch, net, x, y) -> Callable[[], None]:
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run():
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()

    return run


def jax_conv_fwd_bwd(layer: nnx.Module, x) -> Callable[[], None]:
    graphdef, params = nnx.split(layer, nnx.Param)

    @jax.jit
    def grads(params, x):
        def loss(params, x):
            return jnp.sum(nnx.merge(graphdef, params)(x) ** 2)

        return jax.grad(loss, argnums=(0, 1))(params, x)

    return lambda: jax.block_until_ready(grads(params, x))


def torch_conv_fwd_bwd(torch, layer, x) -> Callable[[], None]:
    x = x.clone().requires_grad_()

    def run():
        layer.zero_grad()
        x.grad = None
        (layer(x) ** 2).sum().backward()

    return run


# ------------------------------------------------------------------ lowering cost

# The ResNet-8 of first_epoch_jtk.py (32x32 digits): every distinct conv layer as
# (in, out, kernel, stride, input side, is the first layer).
RESNET_CONVS = [
    (1, 16, 3, 1, 32, True),
    (16, 16, 3, 1, 32, False),
    (16, 32, 3, 2, 32, False),
    (16, 32, 1, 2, 32, False),
    (32, 32, 3, 1, 16, False),
    (32, 64, 3, 2, 16, False),
    (32, 64, 1, 2, 16, False),
    (64, 64, 3, 1, 8, False),
]


def _compiled(fn, *args) -> tuple[Callable, float, float]:
    """``fn`` jitted, lowered and compiled for ``args``; the wall seconds that took
    and the process's CPU seconds (insensitive to other processes' load)."""
    start, cpu = time.perf_counter(), time.process_time()
    exe = jax.jit(fn).lower(*args).compile()
    return exe, time.perf_counter() - start, time.process_time() - cpu


def _policies() -> dict[str, Callable[[tuple, tuple, tuple], bool]]:
    """Per-layer rules for ``impl="auto"``'s hybrid-or-xla choice, to compare."""
    from jtoolkit._src.nn import conv_lowering

    def stride1_from(channels: int):
        def rule(x_shape, kernel_shape, stride):
            *k, cin, _ = kernel_shape
            one = int(np.prod(k)) == 1
            return one or (all(s == 1 for s in stride) and cin >= channels)

        return rule

    return {
        "hybrid everywhere (wave 4)": lambda x_shape, kernel_shape, stride: True,
        "xla everywhere": lambda x_shape, kernel_shape, stride: False,
        "hybrid for 1x1 only": stride1_from(1 << 30),
        "1x1; k x k stride 1 from 16 in-ch": stride1_from(16),
        "1x1; k x k stride 1, >= 32 in-ch, >= 28x28 (default)": (
            conv_lowering.hybrid_pays
        ),
    }


def lowering_layers(args) -> str:
    """Compile seconds and forward+backward ms of each ResNet conv, xla vs hybrid."""
    from jtoolkit._src.nn import conv_lowering

    rng = np.random.default_rng(0)
    rows, thunks, compile_s, compile_cpu = [], {}, {}, {}
    for cin, cout, k, s, side, first in RESNET_CONVS:
        x = jnp.asarray(rng.standard_normal((args.batch, side, side, cin), np.float32))
        w = jnp.asarray(rng.standard_normal((k, k, cin, cout), np.float32))
        pads = ((k // 2, k // 2),) * 2
        name = f"{cin}->{cout} k{k} s{s} {side}x{side}"
        rows.append(name)
        for impl in ("xla", "hybrid"):
            conv = getattr(conv_lowering, f"conv_{impl}")

            def loss(x, w, conv=conv, s=s, pads=pads):
                return jnp.sum(conv(x, w, (s, s), pads, (1, 1)) ** 2)

            # the first layer's input is data: no input gradient, as in training
            grad = jax.grad(loss, argnums=1 if first else (0, 1))
            exe, secs, cpu = _compiled(grad, x, w)
            compile_s[name, impl] = secs
            compile_cpu[name, impl] = cpu
            thunks[name, impl] = partial(
                lambda exe, x, w: jax.block_until_ready(exe(x, w)), exe, x, w
            )
    timed = measure({f"{n}|{i}": t for (n, i), t in thunks.items()}, args.reps)
    lines = [
        f"**ResNet-8 conv layers, forward+backward, batch {args.batch}: compile s "
        "and median ms per lowering**",
        "",
        "| layer (in->out, kernel, stride, input) | xla compile s (CPU s) "
        "| hybrid compile s (CPU s) | xla ms | hybrid ms | hybrid / xla run |",
        "|---|---|---|---|---|---|",
    ]
    for name in rows:
        xla, hyb = timed[f"{name}|xla"], timed[f"{name}|hybrid"]
        lines.append(
            f"| {name} | {compile_s[name, 'xla']:.2f} ({compile_cpu[name, 'xla']:.2f})"
            f" | {compile_s[name, 'hybrid']:.2f} ({compile_cpu[name, 'hybrid']:.2f})"
            f" | {xla['median_ms']:.1f} | {hyb['median_ms']:.1f}"
            f" | {hyb['median_ms'] / xla['median_ms']:.2f}x |"
        )
    return "\n".join(lines)


def lowering_resnet(args) -> str:
    """The ResNet-8's whole SGD train step per ``impl="auto"`` threshold: compile
    seconds (lower + XLA compile) and median step ms."""
    from first_epoch_jtk import ResNet  # benchmarks/ is sys.path[0] when run

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((args.batch, 32, 32, 1), np.float32))
    y = jnp.asarray(rng.integers(0, 10, args.batch), jnp.int32)
    thunks, compile_s, compile_cpu = {}, {}, {}
    from jtoolkit._src.nn import conv_lowering

    default = conv_lowering.hybrid_pays
    policies = list(_policies().items())
    if args.policies:
        policies = [policies[int(i)] for i in args.policies.split(",")]
    for label, rule in policies:
        conv_lowering.hybrid_pays = rule
        jax.clear_caches()
        model = ResNet(rngs=nnx.Rngs(0))
        model.train()
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)
        tx = optax.sgd(0.1, momentum=0.9, nesterov=True)

        def step(params, rest, opt_state, x, y, graphdef=graphdef, tx=tx):
            def loss_fn(params, rest):
                m = nnx.merge(graphdef, params, rest, copy=True)
                logits = m(x)
                loss = optax.softmax_cross_entropy_with_integer_labels(logits, y)
                return loss.mean(), nnx.state(m, nnx.BatchStat)

            grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
            (loss, stats), grads = grad_fn(params, rest)
            updates, opt_state = tx.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), stats, opt_state, loss

        opt_state = tx.init(params)
        exe, compile_s[label], compile_cpu[label] = _compiled(
            step, params, rest, opt_state, x, y
        )
        thunks[label] = partial(
            lambda exe, *a: jax.block_until_ready(exe(*a)),
            exe,
            params,
            rest,
            opt_state,
            x,
            y,
        )
    conv_lowering.hybrid_pays = default
    timed = measure(thunks, args.reps)
    lines = [
        f'**ResNet-8 SGD train step, batch {args.batch}, per `impl="auto"` choice**',
        "",
        "| hybrid where | compile s | compile CPU s | median step ms | min step ms |",
        "|---|---|---|---|---|",
    ]
    for label, entry in timed.items():
        lines.append(
            f"| {label} | {compile_s[label]:.2f} | {compile_cpu[label]:.2f}"
            f" | {entry['median_ms']:.1f}"
            f" | {entry['min_ms']:.1f} |"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------ harness


def measure(thunks: dict[str, Callable[[], None]], reps: int) -> dict[str, dict]:
    """Warm every thunk (compile time), then time ``reps`` interleaved rounds."""
    results = {}
    for name, thunk in thunks.items():
        start = time.perf_counter()
        thunk()
        results[name] = {"warmup_s": time.perf_counter() - start, "times": []}
    for _ in range(reps):
        for name, thunk in thunks.items():
            start = time.perf_counter()
            thunk()
            results[name]["times"].append(time.perf_counter() - start)
    for entry in results.values():
        entry["median_ms"] = 1e3 * statistics.median(entry["times"])
        entry["min_ms"] = 1e3 * min(entry["times"])  # robust to other processes' load
    return results


def table(title: str, results: dict[str, dict]) -> str:
    base = results["torch"]["median_ms"]
    lines = [
        f"**{title}**",
        "",
        "| contender | median ms | ratio to torch eager | min ms | ratio of mins "
        "| first call s |",
        "|---|---|---|---|---|---|",
    ]
    base_min = results["torch"]["min_ms"]
    for name, entry in results.items():
        lines.append(
            f"| {name} | {entry['median_ms']:.1f} | {entry['median_ms'] / base:.2f}x"
            f" | {entry['min_ms']:.1f} | {entry['min_ms'] / base_min:.2f}x"
            f" | {entry['warmup_s']:.2f} |"
        )
    return "\n".join(lines)


def conv_cases(torch, args) -> list[tuple[str, dict]]:
    rng = np.random.default_rng(0)
    out = []
    for cin, cout in ((1, 32), (32, 64)):
        x = rng.standard_normal((args.batch, args.size, args.size, cin), np.float32)
        ref = torch.nn.Conv2d(cin, cout, 3, padding=1)
        sd = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
        thunks = {}
        for impl in ("xla", "im2col", "hybrid"):
            layer = models.Conv2d(cin, cout, 3, padding=1, rngs=nnx.Rngs(0), impl=impl)
            models.load_torch_state_dict(layer, sd)
            thunks[f"jtk-{impl}"] = jax_conv_fwd_bwd(layer, jnp.asarray(x))
        flax_conv = nnx.Conv(
            cin, cout, (3, 3), padding=((1, 1), (1, 1)), rngs=nnx.Rngs(0)
        )
        thunks["flax"] = jax_conv_fwd_bwd(flax_conv, jnp.asarray(x))
        tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        thunks["torch"] = torch_conv_fwd_bwd(torch, ref, tx)
        out.append((f"Conv2d({cin}, {cout}, 3, padding=1) fwd+bwd", thunks))
    return out


VARIANTS = [  # (title, in, out, Conv2d keywords)
    ("grouped", 32, 64, {"padding": 1, "groups": 4}),
    ("depthwise", 32, 32, {"padding": 1, "groups": 32}),
    ("dilated", 32, 64, {"padding": 2, "dilation": 2}),
]


def variant_cases(torch, args) -> list[tuple[str, dict]]:
    """Grouped, depthwise and dilated Conv2d fwd+bwd: ``impl="xla"`` and "auto"
    (on CPU: "hybrid", once per group; for depthwise the shifted-slice kernel)."""
    rng = np.random.default_rng(0)
    out = []
    for title, cin, cout, kw in VARIANTS:
        x = rng.standard_normal((args.batch, args.size, args.size, cin), np.float32)
        ref = torch.nn.Conv2d(cin, cout, 3, **kw)
        sd = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
        thunks = {}
        for impl in ("xla", "auto"):
            layer = models.Conv2d(cin, cout, 3, **kw, rngs=nnx.Rngs(0), impl=impl)
            models.load_torch_state_dict(layer, sd)
            thunks[f"jtk-{impl}"] = jax_conv_fwd_bwd(layer, jnp.asarray(x))
        pad = kw["padding"]
        flax_conv = nnx.Conv(
            cin,
            cout,
            (3, 3),
            padding=((pad, pad), (pad, pad)),
            feature_group_count=kw.get("groups", 1),
            kernel_dilation=kw.get("dilation", 1),
            rngs=nnx.Rngs(0),
        )
        thunks["flax"] = jax_conv_fwd_bwd(flax_conv, jnp.asarray(x))
        tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        thunks["torch"] = torch_conv_fwd_bwd(torch, ref, tx)
        args_text = ", ".join(f"{k}={v}" for k, v in kw.items())
        out.append((f"{title} Conv2d({cin}, {cout}, 3, {args_text}) fwd+bwd", thunks))
    return out


def cnn_case(torch, args) -> tuple[str, dict]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, args.size, args.size, 1), np.float32)
    y = rng.integers(0, 10, args.batch)
    thunks = {}
    for impl in ("xla", "hybrid"):
        model = models.CNN(1, 10, rngs=nnx.Rngs(0))
        for layer in (model.features[0], model.features[2]):
            layer.impl = impl
        thunks[f"jtk-{impl}"] = jax_train_step(model, jnp.asarray(x), jnp.asarray(y))
    flax_model = FlaxCNN(1, 10, nnx.Rngs(0))
    thunks["flax"] = jax_train_step(flax_model, jnp.asarray(x), jnp.asarray(y))
    net = torch_cnn(torch, 1, 10)
    tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    thunks["torch"] = torch_train_step(torch, net, tx, torch.from_numpy(y))
    return (
        f"CNN train step (SGD momentum, batch {args.batch}, {args.size}x{args.size})",
        thunks,
    )


def header(torch, args) -> str:
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                line.split(":", 1)[1].strip() for line in f if "model name" in line
            )
    except (OSError, StopIteration):
        pass
    return "\n".join(
        [
            f"- machine: {cpu}, {os.cpu_count()} cores; jax backend "
            f"{jax.default_backend()}",
            f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            f"- versions: jax {jax.__version__}, flax {_flax_version()}, "
            f"torch {torch.__version__} ({args.threads} threads)",
            f"- uptime at start: `{uptime}`",
            f"- reps: {args.reps} interleaved, medians",
        ]
    )


def _flax_version() -> str:
    import flax

    return flax.__version__


def loop_case(torch, args) -> tuple[str, dict]:
    """8 SGD steps of a Conv2d(32, 64, 3) layer in one scan vs 8 single steps."""
    from jtoolkit._src.nn import conv_lowering

    steps, size = 8, args.size
    rng = np.random.default_rng(0)
    xs_np = rng.standard_normal((steps, args.batch, size, size, 32), np.float32)
    w_np = 0.05 * rng.standard_normal((3, 3, 32, 64), np.float32)
    xs, w0 = jnp.asarray(xs_np), jnp.asarray(w_np)
    pads = ((1, 1), (1, 1))

    def sgd(conv):
        def loss(w, x):
            return jnp.sum(conv(x, w, (1, 1), pads, (1, 1)) ** 2)

        return lambda w, x: w - 1e-6 * jax.grad(loss)(w, x)

    def scanned(conv):
        step = sgd(conv)
        fn = jax.jit(
            lambda w, xs: jax.lax.scan(lambda w, x: (step(w, x), None), w, xs)[0]
        )
        return lambda: jax.block_until_ready(fn(w0, xs))

    single = jax.jit(sgd(conv_lowering.conv_xla))

    def singles():
        w = w0
        for i in range(steps):
            w = single(w, xs[i])
        jax.block_until_ready(w)

    conv_t = torch.nn.Conv2d(32, 64, 3, padding=1, bias=False)
    opt = torch.optim.SGD(conv_t.parameters(), lr=1e-6)
    xs_t = torch.from_numpy(np.ascontiguousarray(xs_np.transpose(0, 1, 4, 2, 3)))

    def torch_steps():
        for i in range(steps):
            opt.zero_grad()
            (conv_t(xs_t[i]) ** 2).sum().backward()
            opt.step()

    return (
        f"{steps} SGD steps of Conv2d(32, 64, 3), batch {args.batch}, {size}x{size}",
        {
            "torch": torch_steps,
            "jtk 8 single jitted steps": singles,
            'jtk scan, "looped"': scanned(conv_lowering.conv_looped),
            'jtk scan, "xla"': scanned(conv_lowering.conv_xla),
        },
    )


def main() -> None:
    args = _parse()
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(header(torch, args))
    cases = []
    if args.only == "lowering":
        print()
        print(lowering_layers(args), flush=True)
        print()
        print(lowering_resnet(args), flush=True)
    if args.only in (None, "conv"):
        cases += conv_cases(torch, args)
    if args.only in (None, "variants"):
        cases += variant_cases(torch, args)
    if args.only in (None, "cnn"):
        cases.append(cnn_case(torch, args))
    if args.only in (None, "loop"):
        cases.append(loop_case(torch, args))
    for title, thunks in cases:
        print()
        print(table(title, measure(thunks, args.reps)), flush=True)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\n- uptime at end: `{uptime}`")


if __name__ == "__main__":
    main()
