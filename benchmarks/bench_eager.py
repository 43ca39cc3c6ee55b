"""Eager calls of functional ops, losses, tensor ops and models: jtoolkit vs torch.

torch users call ``F.*`` and ``model(x)`` outside any compiled function all the
time. jtoolkit runs such a call as one compiled program per shapes and options
(``core/eager_jit``; a composite model's forward: ``nn/eager_call``);
``JTOOLKIT_EAGER_JIT=0`` runs it op by op, one XLA program per JAX primitive, as
before. For each op this prints, interleaved over ``--reps`` rounds (medians):

* first call on a new shape: milliseconds and programs compiled, both jtoolkit
  modes (torch has no compile step: its first call is shown too);
* steady state: microseconds per call, torch eager, jtoolkit op by op, jtoolkit
  one program.

Usage: ``python benchmarks/bench_eager.py [--reps 5] [--calls 200]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.nn.functional as TF
from flax import nnx
from jax import monitoring

import jtoolkit.functional as F
import jtoolkit.tensor_ops as T
from jtoolkit import models

_MODEL_CALLS = 50  # a model's steady state: --calls // this many calls (op by op
# an LSTM's eager call took ~0.6 s)

_PROGRAMS = [0]
monitoring.register_event_duration_secs_listener(
    lambda event, duration, **_: _PROGRAMS.__setitem__(
        0, _PROGRAMS[0] + (event == "/jax/core/compile/backend_compile_duration")
    )
)


def _cases(batch: int):
    """(name, jtoolkit call, torch call) on fresh arrays of a given batch size."""
    rng = np.random.default_rng(batch)
    img = rng.normal(size=(batch, 3, 32, 32)).astype(np.float32)
    feats = rng.normal(size=(batch, 128)).astype(np.float32)
    labels = rng.integers(0, 10, size=(batch,))
    logits = feats[:, :10].copy()
    weight = rng.normal(size=(8, 3, 3, 3)).astype(np.float32)
    half = feats * 0.5
    host = dict(
        img=img, feats=feats, logits=logits, labels=labels, weight=weight, half=half
    )
    j = {k: jnp.asarray(v) for k, v in host.items()}
    t = {k: torch.from_numpy(np.asarray(v)) for k, v in host.items()}
    seq = rng.normal(size=(20, batch, 32)).astype(np.float32)
    tgt = rng.normal(size=(9, batch, 32)).astype(np.float32)
    small = rng.normal(size=(batch, 16, 16, 1)).astype(np.float32)
    lstm, lstm_t = models.LSTM(32, 64, 2, rngs=nnx.Rngs(0)), torch.nn.LSTM(32, 64, 2)
    former = models.Transformer(32, 4, 2, 2, 64, dropout=0.0, rngs=nnx.Rngs(0))
    former_t = torch.nn.Transformer(32, 4, 2, 2, 64, dropout=0.0)
    cnn = models.Sequential(
        models.Conv2d(1, 16, 3, padding=1, rngs=nnx.Rngs(0)),
        models.BatchNorm2d(16),
        models.ReLU(),
        models.MaxPool2d(2),
        models.Conv2d(16, 32, 3, padding=1, rngs=nnx.Rngs(1)),
        models.ReLU(),
        models.AdaptiveAvgPool2d(1),
        models.Flatten(),
        models.Linear(32, 10, rngs=nnx.Rngs(2)),
    )
    cnn_t = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1),
        torch.nn.BatchNorm2d(16),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(32, 10),
    )
    small_t = torch.from_numpy(small.transpose(0, 3, 1, 2).copy())
    seq_t, tgt_t = torch.from_numpy(seq), torch.from_numpy(tgt)
    return [
        ("relu", lambda: F.relu(j["feats"]), lambda: TF.relu(t["feats"])),
        ("gelu", lambda: F.gelu(j["feats"]), lambda: TF.gelu(t["feats"])),
        (
            "layer_norm",
            lambda: F.layer_norm(j["feats"], (128,)),
            lambda: TF.layer_norm(t["feats"], (128,)),
        ),
        (
            "softmax",
            lambda: F.softmax(j["feats"], dim=1),
            lambda: TF.softmax(t["feats"], dim=1),
        ),
        (
            "conv2d",
            lambda: F.conv2d(j["img"], j["weight"], padding=1),
            lambda: TF.conv2d(t["img"], t["weight"], padding=1),
        ),
        (
            "max_pool2d",
            lambda: F.max_pool2d(j["img"], 2),
            lambda: TF.max_pool2d(t["img"], 2),
        ),
        (
            "interpolate",
            lambda: F.interpolate(j["img"], scale_factor=2, mode="bilinear"),
            lambda: TF.interpolate(t["img"], scale_factor=2, mode="bilinear"),
        ),
        (
            "cross_entropy",
            lambda: F.cross_entropy(j["logits"], j["labels"]),
            lambda: TF.cross_entropy(t["logits"], t["labels"]),
        ),
        (
            "mse_loss",
            lambda: F.mse_loss(j["feats"], j["half"]),
            lambda: TF.mse_loss(t["feats"], t["half"]),
        ),
        ("tensor var", lambda: T.var(j["feats"], 1), lambda: t["feats"].var(1)),
        (
            "tensor clamp",
            lambda: T.clamp(j["feats"], -0.5, 0.5),
            lambda: t["feats"].clamp(-0.5, 0.5),
        ),
        ("model: LSTM(32, 64, 2)", lambda: lstm(seq)[0], lambda: lstm_t(seq_t)[0]),
        (
            "model: Transformer(32, 4, 2, 2, 64)",
            lambda: former(seq, tgt),
            lambda: former_t(seq_t, tgt_t),
        ),
        ("model: Sequential CNN", lambda: cnn(small), lambda: cnn_t(small_t)),
    ]


def _block(out):
    return jax.block_until_ready(out)


def _mode(on: bool) -> None:
    os.environ["JTOOLKIT_EAGER_JIT"] = "1" if on else "0"


def _first_call(fn, on: bool) -> tuple[float, int]:
    _mode(on)
    start, programs = time.perf_counter(), _PROGRAMS[0]
    _block(fn())
    return (time.perf_counter() - start) * 1e3, _PROGRAMS[0] - programs


def _per_call_us(fn, calls: int, block=_block) -> float:
    block(fn())
    start = time.perf_counter()
    for _ in range(calls):
        block(fn())
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = [name for name, _, _ in _cases(1)]
    first = {
        name: {"op": [], "one": [], "torch": [], "n_op": 0, "n_one": 0}
        for name in names
    }
    steady = {name: {"op": [], "one": [], "torch": []} for name in names}
    for rep in range(args.reps):
        # a new batch size per rep and mode: a first call on a new shape
        for (name, jfn, tfn), (_, jfn2, _) in zip(
            _cases(16 + 2 * rep), _cases(17 + 2 * rep), strict=True
        ):
            ms, n = _first_call(jfn, on=False)
            first[name]["op"].append(ms)
            first[name]["n_op"] = n
            ms, n = _first_call(jfn2, on=True)
            first[name]["one"].append(ms)
            first[name]["n_one"] = n
            start = time.perf_counter()
            with torch.no_grad():
                tfn()
            first[name]["torch"].append((time.perf_counter() - start) * 1e3)
        for name, jfn, tfn in _cases(64):
            calls = args.calls
            if name.startswith("model:"):
                calls = max(3, args.calls // _MODEL_CALLS)
            _mode(False)
            steady[name]["op"].append(_per_call_us(jfn, calls))
            _mode(True)
            steady[name]["one"].append(_per_call_us(jfn, calls))
            with torch.no_grad():
                steady[name]["torch"].append(
                    _per_call_us(tfn, calls, block=lambda o: o)
                )
    med = statistics.median
    print(
        f"jax {jax.__version__}, torch {torch.__version__} (1 thread); "
        f"{args.reps} interleaved reps, medians"
    )
    print(
        "\n| op | first call: op by op ms (programs) | one program ms (programs) "
        "| torch ms | per call: torch us | op by op us | one program us | "
        "one program / torch |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        f, s = first[name], steady[name]
        print(
            f"| {name} | {med(f['op']):.0f} ({f['n_op']}) | {med(f['one']):.0f} "
            f"({f['n_one']}) | {med(f['torch']):.2f} | {med(s['torch']):.0f} | "
            f"{med(s['op']):.0f} | {med(s['one']):.0f} | "
            f"{med(s['one']) / med(s['torch']):.2f}x |"
        )


if __name__ == "__main__":
    main()
