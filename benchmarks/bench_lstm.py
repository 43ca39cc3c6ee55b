"""LSTM word language model train step: jtoolkit vs torch eager (issue 16).

The setup of torch's word_language_model example at its small size: Embedding(10000,
200) -> 2-layer LSTM(200, 200) -> Linear(200, 10000), batch 20, bptt 35, Adam,
cross-entropy over every token; every step starts from a zero state in both libraries.

Contenders (interleaved repetitions, medians, ratios to torch eager):

* ``jtk-unroll<k>``: ``jtoolkit.models`` trained through ``jtoolkit.train``'s compiled
  ``make_train_step`` with ``jtoolkit.optim.adam``, the LSTM's scan unrolled ``k``
  steps per iteration (the library's default is ``recurrent._UNROLL``, 1); its
  backward pass is the hand-written one of ``recurrent._lstm_fused``;
* ``torch``: torch eager ``nn.LSTM`` (its fused CPU kernel), ``torch.optim.Adam``,
  ``torch.set_num_threads(threads)``.

"Per epoch" multiplies the median step by the steps of one epoch of the Penn Treebank
training text (929,589 tokens / (batch * bptt)). Compile time is reported apart.
Options: ``--help``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtoolkit import losses, models, optim, train
from jtoolkit._src.nn import recurrent

__all__: list[str] = []

PTB_TRAIN_TOKENS = 929_589


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=10000)
    parser.add_argument("--emsize", type=int, default=200)
    parser.add_argument("--nhid", type=int, default=200)
    parser.add_argument("--nlayers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads (1: XLA 1 thread too)"
    )
    parser.add_argument("--unrolls", default="1,2", help="comma-separated scan unrolls")
    parser.add_argument("--quick", action="store_true", help="5 reps")
    args = parser.parse_args()
    if args.quick:
        args.reps = 5
    return args


class WordLM(nnx.Module):
    """Embedding -> LSTM -> Linear over [T, N] token ids (torch's example's layout)."""

    def __init__(self, args: argparse.Namespace, rngs: nnx.Rngs) -> None:
        self.encoder = models.Embedding(args.vocab, args.emsize, rngs=rngs)
        self.rnn = models.LSTM(
            args.emsize, args.nhid, args.nlayers, batch_first=False, rngs=rngs
        )
        self.decoder = models.Linear(args.nhid, args.vocab, rngs=rngs)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        out, _ = self.rnn(self.encoder(tokens))
        return self.decoder(out)


def torch_word_lm(torch, args):
    nn = torch.nn

    class TorchWordLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Embedding(args.vocab, args.emsize)
            self.rnn = nn.LSTM(args.emsize, args.nhid, args.nlayers)
            self.decoder = nn.Linear(args.nhid, args.vocab)

        def forward(self, tokens):
            out, _ = self.rnn(self.encoder(tokens))
            return self.decoder(out)

    return TorchWordLM()


def _loss(model: WordLM, batch) -> jax.Array:
    tokens, targets = batch
    logits = model(tokens)
    return losses.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    )


def jtk_step(model: WordLM, batch, unroll: int) -> Callable[[], None]:
    """One compiled train step (scan unrolled ``unroll`` steps) as a thunk."""
    opt = optim.adam(1e-3)
    step = train.make_train_step(_loss, opt)
    box = {"state": train.TrainState.create(model, opt)}

    def run():
        box["state"], metrics = step(box["state"], batch)
        jax.block_until_ready(metrics["loss"])

    def first():  # compiles: the scan's unroll is read at trace time
        saved, recurrent._UNROLL = recurrent._UNROLL, unroll
        try:
            run()
        finally:
            recurrent._UNROLL = saved

    run.first = first
    return run


def jtk_lstm_fwd_bwd(lstm, x, unroll: int) -> Callable[[], None]:
    """Gradients of sum(output**2) w.r.t. the LSTM's parameters and input, jitted."""
    graphdef, params = nnx.split(lstm, nnx.Param)

    @jax.jit
    def grads(params, x):
        def loss(params, x):
            return jnp.sum(nnx.merge(graphdef, params)(x)[0] ** 2)

        return jax.grad(loss, argnums=(0, 1))(params, x)

    def run():
        jax.block_until_ready(grads(params, x))

    def first():
        saved, recurrent._UNROLL = recurrent._UNROLL, unroll
        try:
            run()
        finally:
            recurrent._UNROLL = saved

    run.first = first
    return run


def torch_lstm_fwd_bwd(lstm, x) -> Callable[[], None]:
    x = x.clone().requires_grad_()

    def run():
        lstm.zero_grad()
        x.grad = None
        (lstm(x)[0] ** 2).sum().backward()

    return run


def torch_step(torch, net, tokens, targets) -> Callable[[], None]:
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run():
        opt.zero_grad()
        logits = net(tokens)
        loss_fn(logits.view(-1, logits.shape[-1]), targets.view(-1)).backward()
        opt.step()

    return run


def measure(thunks: dict[str, Callable[[], None]], reps: int) -> dict[str, dict]:
    """Warm every thunk (compile time), then time ``reps`` interleaved rounds."""
    results = {}
    for name, thunk in thunks.items():
        start = time.perf_counter()
        getattr(thunk, "first", thunk)()
        thunk()
        results[name] = {"warmup_s": time.perf_counter() - start, "times": []}
    names = list(thunks)
    for rep in range(reps):
        shift = rep % len(names)  # rotate so no contender always follows torch
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            thunks[name]()
            results[name]["times"].append(time.perf_counter() - start)
    for entry in results.values():
        entry["median_ms"] = 1e3 * statistics.median(entry["times"])
        entry["min_ms"] = 1e3 * min(entry["times"])
    return results


def table(results: dict[str, dict], steps_per_epoch: int) -> str:
    base = results["torch"]["median_ms"]
    lines = [
        "| contender | median ms/step | s/epoch | ratio to torch eager | min ms "
        "| first call s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, entry in results.items():
        lines.append(
            f"| {name} | {entry['median_ms']:.1f} "
            f"| {entry['median_ms'] * steps_per_epoch / 1e3:.1f} "
            f"| {entry['median_ms'] / base:.2f}x | {entry['min_ms']:.1f} "
            f"| {entry['warmup_s']:.2f} |"
        )
    return "\n".join(lines)


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
            f"- versions: jax {jax.__version__}, torch {torch.__version__} "
            f"({args.threads} threads)",
            f"- model: Embedding({args.vocab}, {args.emsize}) -> "
            f"{args.nlayers}-layer LSTM({args.emsize}, {args.nhid}) -> "
            f"Linear({args.nhid}, {args.vocab}); batch {args.batch}, bptt {args.bptt},"
            " Adam",
            f"- uptime at start: `{uptime}`",
            f"- reps: {args.reps} interleaved (rotated), medians",
        ]
    )


def main() -> None:
    args = _parse()
    if args.threads == 1:  # before the first jax op creates the CPU backend
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "")
            + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        )
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(header(torch, args), flush=True)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, args.vocab, (args.bptt, args.batch))
    targets = rng.integers(0, args.vocab, (args.bptt, args.batch))
    net = torch_word_lm(torch, args)
    sd = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    batch = (jnp.asarray(tokens, jnp.int32), jnp.asarray(targets, jnp.int32))
    thunks = {}
    for unroll in (int(u) for u in args.unrolls.split(",")):
        model = models.load_torch_state_dict(WordLM(args, nnx.Rngs(0)), sd)
        thunks[f"jtk-unroll{unroll}"] = jtk_step(model, batch, unroll)
    thunks["torch"] = torch_step(
        torch, net, torch.from_numpy(tokens), torch.from_numpy(targets)
    )
    steps_per_epoch = PTB_TRAIN_TOKENS // (args.batch * args.bptt)
    print(f"- steps per epoch-equivalent: {steps_per_epoch}\n")
    print("**Word-LM train step (Adam)**\n")
    print(table(measure(thunks, args.reps), steps_per_epoch), flush=True)
    x = rng.standard_normal((args.bptt, args.batch, args.emsize)).astype(np.float32)
    lstm_sd = {k[4:]: v for k, v in sd.items() if k.startswith("rnn.")}
    thunks = {}
    for unroll in (int(u) for u in args.unrolls.split(",")):
        lstm = models.LSTM(
            args.emsize, args.nhid, args.nlayers, batch_first=False, rngs=nnx.Rngs(0)
        )
        models.load_torch_state_dict(lstm, lstm_sd)
        thunks[f"jtk-unroll{unroll}"] = jtk_lstm_fwd_bwd(lstm, jnp.asarray(x), unroll)
    thunks["torch"] = torch_lstm_fwd_bwd(net.rnn, torch.from_numpy(x))
    print("\n**The LSTM alone: forward + backward**\n")
    print(table(measure(thunks, args.reps), steps_per_epoch))
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\n- uptime at end: `{uptime}`")


if __name__ == "__main__":
    main()
