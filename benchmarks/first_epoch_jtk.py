"""One epoch (train + validation) of a small workload in jtoolkit, timed by phase.

Run by ``bench_startup.py`` in a fresh process: ``python first_epoch_jtk.py WORKLOAD``
with WORKLOAD one of ``demo``, ``cnn``, ``lstm``, ``resnet``; ``first_epoch_torch.py``
is the same program in torch. Prints one JSON line: wall-clock stamps (``time.time()``)
after the imports, the model build and the first epoch, plus what ``jax.monitoring``
saw (seconds tracing, lowering to StableHLO, XLA compiling, reading the persistent
cache; the number of programs compiled and read from the cache).
"""

import time

T_START = time.time()

import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402

from jtoolkit import data, losses, models, optim, schedules, train  # noqa: E402

T_IMPORT = time.time()
SEEN = {"trace": 0.0, "lower": 0.0, "compile": 0.0, "cache_read": 0.0}
COUNT = {"compiled": 0, "cache_hits": 0}
_DURATION = {
    "/jax/core/compile/jaxpr_trace_duration": "trace",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
    "/jax/core/compile/backend_compile_duration": "compile",
    "/jax/compilation_cache/cache_retrieval_time_sec": "cache_read",
}


def _on_duration(event: str, secs: float, **_: object) -> None:
    if event in _DURATION:
        SEEN[_DURATION[event]] += secs
    if event == "/jax/core/compile/backend_compile_duration":
        COUNT["compiled"] += 1


def _on_event(event: str, **_: object) -> None:
    if event == "/jax/compilation_cache/cache_hits":
        COUNT["cache_hits"] += 1


jax.monitoring.register_event_duration_secs_listener(_on_duration)
jax.monitoring.register_event_listener(_on_event)


def digits(side: int) -> tuple[np.ndarray, np.ndarray]:
    """sklearn's bundled digits, [N, side, side] in [0, 1] (nearest upsampling)."""
    spec = importlib.util.find_spec("sklearn")
    root = next(iter(spec.submodule_search_locations))  # type: ignore[union-attr]
    path = os.path.join(root, "datasets", "data", "digits.csv.gz")
    t = np.loadtxt(path, delimiter=",", dtype=np.float32)
    r = side // 8
    x = (t[:, :64].reshape(-1, 8, 8) / 16.0).repeat(r, 1).repeat(r, 2)
    return x, t[:, 64].astype(np.int32)


def split(x: np.ndarray, y: np.ndarray):
    order = np.random.default_rng(0).permutation(len(x))
    nv = round(len(x) * 0.2)
    return (x[order[nv:]], y[order[nv:]]), (x[order[:nv]], y[order[:nv]])


class BasicBlock(nnx.Module):
    """CIFAR ResNet's BasicBlock: two 3x3 conv+BN, 1x1 conv+BN shortcut on a change."""

    def __init__(self, cin: int, cout: int, stride: int, *, rngs: nnx.Rngs) -> None:
        conv = models.Conv2d
        self.conv1 = conv(cin, cout, 3, stride, 1, bias=False, rngs=rngs)
        self.bn1 = models.BatchNorm2d(cout)
        self.conv2 = conv(cout, cout, 3, 1, 1, bias=False, rngs=rngs)
        self.bn2 = models.BatchNorm2d(cout)
        self.shortcut = models.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = models.Sequential(
                conv(cin, cout, 1, stride, bias=False, rngs=rngs),
                models.BatchNorm2d(cout),
            )

    def __call__(self, x: jax.Array) -> jax.Array:
        out = jax.nn.relu(self.bn1(self.conv1(x)))
        return jax.nn.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nnx.Module):
    """ResNet-8 for 32x32 inputs: 16-32-64 channels, one BasicBlock per stage."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.conv = models.Conv2d(1, 16, 3, 1, 1, bias=False, rngs=rngs)
        self.bn = models.BatchNorm2d(16)
        self.layers = models.Sequential(
            BasicBlock(16, 16, 1, rngs=rngs),
            BasicBlock(16, 32, 2, rngs=rngs),
            BasicBlock(32, 64, 2, rngs=rngs),
        )
        self.fc = models.Linear(64, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        out = self.layers(jax.nn.relu(self.bn(self.conv(x))))
        return self.fc(out.mean(axis=(1, 2)))


class LanguageModel(nnx.Module):
    """Embedding -> 2-layer LSTM -> Linear over the vocabulary."""

    def __init__(self, vocab: int, width: int, *, rngs: nnx.Rngs) -> None:
        self.embed = models.Embedding(vocab, width, rngs=rngs)
        self.lstm = models.LSTM(width, width, 2, batch_first=True, rngs=rngs)
        self.fc = models.Linear(width, vocab, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        out, _ = self.lstm(self.embed(x))
        return self.fc(out)


def tokens(vocab: int, bptt: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random token stream cut into [n, bptt] inputs and next-token targets."""
    stream = np.random.default_rng(0).integers(0, vocab, n * bptt + 1)
    return stream[:-1].reshape(n, bptt), stream[1:].reshape(n, bptt)


def classify(m, batch):
    x, y = batch
    return losses.cross_entropy(m(x), y, reduction="none")


def classify_metrics(m, batch):
    x, y = batch
    logits = m(x)
    return {
        "loss": losses.cross_entropy(logits, y, reduction="none"),
        "accuracy": (logits.argmax(-1) == y).astype(jnp.float32),
    }


def lm_loss(m, batch):
    x, y = batch
    return losses.cross_entropy(m(x).transpose(0, 2, 1), y, reduction="none").mean(-1)


def workload(name: str):
    """(model, optimizer, loss_fn, metric_fn, train_loader, val_loader)."""
    rngs = nnx.Rngs(0)
    if name == "lstm":
        x, y = tokens(1000, 35, 600)
        (xt, yt), (xv, yv) = split(x, y)
        model = LanguageModel(1000, 128, rngs=rngs)
        opt, size = optim.adam(1e-3), 20
        loss_fn, metric_fn = lm_loss, lambda m, b: {"loss": lm_loss(m, b)}
    else:
        side = 32 if name == "resnet" else 16
        x, y = digits(side)
        (xt, yt), (xv, yv) = split(x[..., None], y)  # NHWC
        if name == "resnet":
            size = 128
            steps = -(-len(xt) // size)
            lr = schedules.per_epoch(schedules.cosine_annealing_lr(0.1, 1), steps)
            opt = optim.sgd(lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
            model = ResNet(rngs=rngs)
        else:
            size, opt = 64, optim.adam(1e-3)
            model = models.CNN(1, 10, rngs=rngs)
        loss_fn, metric_fn = classify, classify_metrics
    loader = data.DataLoader(data.ArrayDataset(xt, yt), batch_size=size, shuffle=True)
    val = data.DataLoader(data.ArrayDataset(xv, yv), batch_size=size)
    return model, opt, loss_fn, metric_fn, loader, val


def main() -> None:
    name = sys.argv[1]
    if name == "demo":
        from jtoolkit._src.demo.cli import main as demo

        t_built = time.time()
        with tempfile.TemporaryDirectory() as work:
            os.chdir(work)
            demo(["--epochs", "1", "--no-progress"])
    else:
        model, opt, loss_fn, metric_fn, loader, val = workload(name)
        state = train.TrainState.create(model, opt)
        jax.block_until_ready(state)
        t_built = time.time()
        step = train.make_train_step(loss_fn, opt)
        ev = train.make_eval_step(metric_fn)
        result = train.fit(
            state,
            step,
            loader,
            1,
            validation=val,
            eval_step=ev,
            progress=False,
            log=lambda line: None,
        )
        jax.block_until_ready(result.state)
    t_epoch = time.time()
    out = {"start": T_START, "import": T_IMPORT, "built": t_built, "epoch": t_epoch}
    print(json.dumps({**out, **SEEN, **COUNT}), flush=True)


if __name__ == "__main__":
    main()
