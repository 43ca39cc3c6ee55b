"""The demo's training run, built from the same pieces jtoolkit's public modules export.

This file doubles as the worked example of a custom training script: data into
``jtoolkit.data.DataLoader``, a ``jtoolkit.models`` network, a ``jtoolkit.optim``
optimizer with a ``jtoolkit.schedules`` schedule, ``make_train_step`` /
``make_eval_step`` and ``fit``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import warnings
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.core.files import append_text, atomic_write, read_bytes
from jtoolkit._src.demo.config import DemoConfig, UsageError
from jtoolkit._src.demo.preflight import check_outputs, check_resume, record_run

__all__ = [
    "build_model",
    "build_optimizer",
    "loss_fn",
    "metric_fn",
    "steps_per_execution",
    "train_demo",
]


def loss_fn(model: nnx.Module, batch: tuple) -> jnp.ndarray:
    """Per-example cross entropy (so fit can mask the padded last batch)."""
    from jtoolkit._src.losses.classification import cross_entropy

    x, y = batch
    return cross_entropy(model(x), y, reduction="none")


def metric_fn(model: nnx.Module, batch: tuple) -> dict:
    """Per-example validation loss and accuracy."""
    from jtoolkit._src.losses.classification import cross_entropy

    x, y = batch
    logits = model(x)
    return {
        "loss": cross_entropy(logits, y, reduction="none"),
        "accuracy": (jnp.argmax(logits, -1) == y).astype(jnp.float32),
    }


def steps_per_execution(config: DemoConfig) -> int:
    """``--steps-per-execution`` as given; unset, 8, or 1 for the CNN on a CPU.

    XLA's CPU convolutions inside the 8-step ``lax.scan`` ran the CNN's epoch ~2.2x
    slower than single steps (digits, batch 128: 17-18 s vs 7.6-8.7 s per epoch on
    2 Intel cores; benchmarks/RESULTS.md), while dispatch is a small part of a
    convolution step.

    Example:
        >>> steps_per_execution(DemoConfig(model="simple"))
        8
        >>> steps_per_execution(DemoConfig(model="cnn", steps_per_execution=4))
        4
    """
    import jax

    if config.steps_per_execution is not None:
        return config.steps_per_execution
    return 1 if config.model == "cnn" and jax.default_backend() == "cpu" else 8


def build_model(name: str, seed: int) -> nnx.Module:
    """SimpleNN (the tutorial's 1024-224-10), an MLP, or the CNN."""
    from jtoolkit._src.nn.networks import CNN, MLP, SimpleNN

    rngs = nnx.Rngs(seed)
    if name == "simple":
        return SimpleNN(1024, 224, 10, rngs=rngs)
    if name == "mlp":
        return MLP([1024, 256, 128, 10], dropout=0.1, rngs=rngs)
    return CNN(1, 10, rngs=rngs)


def _schedule(config: DemoConfig, lr: float, steps_per_epoch: int) -> Any:
    """The lr (float or step -> lr schedule) for ``config.scheduler``."""
    from jtoolkit._src.schedules.compose import per_epoch
    from jtoolkit._src.schedules.cyclic import one_cycle_lr
    from jtoolkit._src.schedules.decay import (
        cosine_annealing_lr,
        linear_warmup_cosine_annealing,
        step_lr,
    )

    epochs = max(config.epochs, 1)
    if config.scheduler in ("none", "plateau"):
        return lr
    if config.scheduler == "step":
        return per_epoch(step_lr(lr, max(epochs // 3, 1)), steps_per_epoch)
    if config.scheduler == "cosine":
        return per_epoch(cosine_annealing_lr(lr, epochs), steps_per_epoch)
    if config.scheduler == "onecycle":
        return one_cycle_lr(lr, total_steps=epochs * steps_per_epoch)
    warmup = max(epochs // 10, 1)
    # Bolts' scheduler needs max_epochs > warmup_epochs; a 1-epoch run is all warmup.
    return per_epoch(
        linear_warmup_cosine_annealing(lr, warmup, max(epochs, warmup + 1)),
        steps_per_epoch,
    )


# torch's OneCycleLR (cycle_momentum=True) also writes these optimizers' momentum
# or beta1 every step; Adagrad and Adadelta have neither, so only their lr cycles.
_CYCLED_MOMENTUM = {
    "sgd": "momentum",
    "rmsprop": "momentum",
    "adam": "betas",
    "adamw": "betas",
}


def _momentum_kwargs(config: DemoConfig, steps_per_epoch: int) -> dict[str, Any]:
    """The momentum twin torch's OneCycleLR cycles, as optimizer keyword arguments."""
    if config.scheduler != "onecycle" or config.optimizer not in _CYCLED_MOMENTUM:
        return {}
    from jtoolkit._src.schedules.cyclic import one_cycle_momentum

    total = max(config.epochs, 1) * steps_per_epoch
    momentum = one_cycle_momentum(total_steps=total)
    if _CYCLED_MOMENTUM[config.optimizer] == "betas":
        return {"betas": (momentum, 0.999)}
    return {"momentum": momentum}


def build_optimizer(config: DemoConfig, steps_per_epoch: int):
    """``jtoolkit.optim.<name>(lr=...)`` with the configured schedule."""
    from jtoolkit._src.optim import alias

    factory = getattr(alias, config.optimizer)
    lr = config.lr
    if lr is None:
        lr = factory.__defaults__[0] if factory.__defaults__ else 1e-3
    schedule = _schedule(config, float(lr), steps_per_epoch)
    momentum = _momentum_kwargs(config, steps_per_epoch)
    return factory(lr=schedule, **momentum), float(lr)


@functools.lru_cache(maxsize=4)
def _engine(config: DemoConfig, steps_per_epoch: int):
    """Optimizer and compiled steps, shared by runs with the same settings.

    Repeated ``run`` calls in one process (tests, notebooks, a resume right after a
    run) then reuse the compiled steps instead of compiling them again.
    """
    from jtoolkit._src.train.step import make_eval_step, make_train_step

    optimizer, lr = build_optimizer(config, steps_per_epoch)
    import jax

    # Several processes always train data-parallel (one model over all devices).
    sharded = (
        config.data_parallel
        or config.fsdp
        or config.cpu_split
        or jax.process_count() > 1
    )
    mesh = "auto" if sharded else None
    shard = "fsdp" if config.fsdp else None
    step = make_train_step(
        loss_fn, optimizer, precision=config.precision, mesh=mesh, shard=shard
    )
    evaluate = make_eval_step(
        metric_fn, precision=config.precision, mesh=mesh, shard=shard
    )
    return optimizer, lr, step, evaluate


def _engine_key(config: DemoConfig) -> DemoConfig:
    """The config fields the compiled steps depend on (others reset to defaults)."""
    keep = (
        "model",
        "optimizer",
        "lr",
        "scheduler",
        "precision",
        "data_parallel",
        "fsdp",
        "cpu_split",
    )
    fields = {name: getattr(config, name) for name in keep}
    if config.scheduler not in ("none", "plateau"):  # these schedules span the run
        fields["epochs"] = config.epochs
    return DemoConfig(**fields)


def _loaders(config: DemoConfig):
    from jtoolkit._src.demo.datasets import load_dataset

    try:
        split = load_dataset(
            config.dataset, config.data_dir, config.seed, config.val_split
        )
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        raise UsageError(str(err)) from None
    if config.model != "cnn":
        split = split._replace(
            x_train=split.x_train.reshape(len(split.x_train), -1),
            x_val=split.x_val.reshape(len(split.x_val), -1),
        )
    return _split_loaders(config, split)


def _split_loaders(config: DemoConfig, split: Any):
    """The training loader reads this process's DistributedSampler shard.

    ``--batch-size`` is the global batch: with N processes each loads batch/N rows
    of its shard (rows ``rank::N`` of the epoch's permutation), so the global batches
    are those of a single-process run (the sampler's padding copies masked by
    ``fit``). ``fit`` shards the validation loader: each process evaluates 1/N.
    """
    import jax

    from jtoolkit._src.data.datasets import ArrayDataset
    from jtoolkit._src.data.loader import DataLoader
    from jtoolkit._src.data.samplers import DistributedSampler

    procs = jax.process_count()
    if config.batch_size % procs:
        raise UsageError(
            f"--batch-size {config.batch_size} must divide by the {procs} processes"
        )
    dataset = ArrayDataset(split.x_train, split.y_train)
    batch = _batch_size(config, len(dataset))
    if procs > 1:
        sampler = DistributedSampler(
            dataset, procs, jax.process_index(), shuffle=True, seed=config.seed
        )
        shuffle = False
    else:
        sampler, shuffle = None, True
    train = DataLoader(
        dataset,
        batch_size=batch // procs,
        shuffle=shuffle,
        sampler=sampler,
        seed=config.seed,
        num_workers=config.num_workers,
        persistent_workers=config.num_workers > 0,
    )
    val = DataLoader(ArrayDataset(split.x_val, split.y_val), batch_size=batch // procs)
    return train, val


def _batch_size(config: DemoConfig, rows: int) -> int:
    """``--batch-size``, clamped to the training rows (a whole-data batch, not a
    padded one), rounded down to a multiple of the process count."""
    procs = _process_count()
    if config.batch_size <= rows:
        return config.batch_size
    return max(rows - rows % procs, procs)


def _process_count() -> int:
    import jax

    return jax.process_count()


def _resolve_auto(config: DemoConfig, log: Callable[[str], None]) -> DemoConfig:
    """``--resume auto``: resume when the directory holds a checkpoint, else start
    fresh (saying so); plain ``--resume`` stays strict."""
    if config.resume != "auto":
        return config
    import os

    from jtoolkit._src.checkpoint.store import latest_step

    directory = config.checkpoint_dir
    found = (
        directory is not None
        and os.path.isdir(directory)
        and latest_step(directory) is not None
    )
    if not found:
        log(f"jtoolkit.train: no checkpoint in {directory} yet: starting fresh")
    return dataclasses.replace(config, resume=found)


def _callbacks(config: DemoConfig, writer: Callable[[dict], None] | None) -> list:
    """The demo's options as fit callbacks."""
    from jtoolkit._src.train import callbacks as cb

    out: list = []
    if config.scheduler == "plateau":
        out.append(cb.ReduceLROnPlateau("val_loss", patience=2))
    if writer is not None:
        out.append(cb.LambdaCallback(on_epoch_end=lambda run, record: writer(record)))
    if config.ema is not None:
        out.append(cb.EMA(config.ema))
    if config.log_dir is not None:
        out.append(cb.TensorBoard(config.log_dir))
    if config.checkpoint_dir is not None:
        every = config.checkpoint_every_steps
        out.append(cb.ModelCheckpoint(config.checkpoint_dir, every_steps=every))
    return out


def _metrics_writer(config: DemoConfig) -> Callable[[dict], None] | None:
    """Append one JSON line per epoch; the first write of a run first cuts the file
    back to the epochs before it (a resumed run repeats none, and a line torn by a
    kill is dropped)."""
    if config.metrics_file is None:
        return None
    path = config.metrics_file
    if not config.resume:
        atomic_write(path, "")
    cut = [False]

    def write(record: dict) -> None:
        if not cut[0]:
            _cut_metrics(path, record["epoch"])
            cut[0] = True
        append_text(path, json.dumps(record) + "\n")

    return write


def _cut_metrics(path: str, epoch: int) -> None:
    """Keep only the complete lines of ``path`` for epochs before ``epoch``."""
    try:
        lines = read_bytes(path).decode("utf-8", "replace").split("\n")
    except FileNotFoundError:
        return
    kept = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("epoch", epoch) < epoch:
            kept.append(line + "\n")
    atomic_write(path, "".join(kept))


def _batch_note(config: DemoConfig, train: Any) -> str:
    """The batch size for the run header, with the reason if it was clamped."""
    size = train.batch_size * _process_count()
    if size == config.batch_size:
        return str(size)
    return (
        f"{size} (--batch-size {config.batch_size} clamped to the "
        f"{len(train.dataset)} training rows)"
    )


def train_demo(config: DemoConfig, log: Callable[[str], None] = print) -> list[dict]:
    """Build everything from ``config`` and run ``fit``; return the history."""
    import jax

    from jtoolkit._src.train.loop import fit
    from jtoolkit._src.train.state import TrainState

    config = _resolve_auto(config, log)
    check_outputs(config)
    train, val = _loaders(config)
    optimizer, lr, step, evaluate = _engine(_engine_key(config), len(train))
    model = build_model(config.model, config.seed)
    state = TrainState.create(model, optimizer, seed=config.seed)
    start, done = check_resume(config, state, lr, log)
    log(
        f"jtoolkit.train: {config.model} on {config.dataset} "
        f"({len(train.dataset)} train / {len(val.dataset)} val), {config.optimizer} "
        f"lr {lr:g}, scheduler {config.scheduler}, batch {_batch_note(config, train)}, "
        f"{config.epochs} epochs, {config.precision}"
    )
    if config.resume:
        log(
            f"jtoolkit.train: resumed from epoch {start} (of {config.epochs}) in "
            f"{config.checkpoint_dir}"
        )
    if start == config.epochs and config.resume:
        log(f"jtoolkit.train: already complete at epoch {start}: nothing to do")
        return done
    record_run(config, lr)
    primary = jax.process_index() == 0  # only process 0 writes files
    writer = _metrics_writer(config) if primary else None
    with warnings.catch_warnings():  # check_resume already reported skipped ones
        warnings.filterwarnings("ignore", "skipped .* damaged checkpoint")
        _, history = fit(
            state,
            step,
            train,
            config.epochs,
            validation=val,
            eval_step=evaluate,
            callbacks=_callbacks(config, writer),
            resume=bool(config.resume),
            progress=config.progress,
            steps_per_execution=steps_per_execution(config),
            log=log,
        )
    if config.plot is not None and primary:
        from jtoolkit._src.demo.plot import plot_history

        plot_history(history, config.plot)
        log(f"jtoolkit.train: wrote {config.plot}")
    return history
