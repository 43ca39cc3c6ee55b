"""``python -m jtoolkit.train``: the demo; argparse into a frozen ``DemoConfig``.

The parser only builds the config; ``run(config)`` does the work on the library
(datasets, ``jtoolkit.models``, ``jtoolkit.optim``, ``jtoolkit.schedules``,
``jtoolkit.data.DataLoader``, ``fit``), so tests and scripts call it directly.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable

from jtoolkit._src.demo.config import OPTIMIZERS, SCHEDULERS, DemoConfig, UsageError
from jtoolkit._src.train.runtime import (
    Preempted,
    end_process,
    parse_coordinator_address,
)

__all__ = ["build_parser", "main", "parse_config", "run"]


def _int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [minimum, maximum], else a one-line error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer, got {text!r}"
            ) from None
        if value < minimum or (maximum is not None and value > maximum):
            want = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
            raise argparse.ArgumentTypeError(f"expected an integer {want}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)


_non_negative_int = _int_at_least(0)


_seed = _int_at_least(0, 2**32 - 1)  # numpy's and torch's seed range


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {value}")
    return value


def _decay(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a decay in [0, 1), got {value}")
    return value


def _fraction(text: str) -> float:
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {value}")
    return value


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in --help, except for on/off flags (``--no-progress``'s default
    ``True`` reads as if the bars were off by default)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.nargs == 0 or action.default is False:  # flags, --resume [auto]
            return action.help or ""
        return super()._get_help_string(action) or ""


class _OneLineErrors(argparse.ArgumentParser):
    """Bad options print one line (what is wrong, where to look) and exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The demo's argument parser (``--help`` lists every option and default)."""
    d = DemoConfig()
    p = _OneLineErrors(
        prog="python -m jtoolkit.train",
        description=(
            "Train the PyTorch tutorial's network (SimpleNN 1024-224-10) or an "
            "MLP/CNN with jtoolkit's jitted train step; digits by default (offline)."
        ),
        formatter_class=_Help,
    )
    add = p.add_argument
    add(
        "--dataset",
        choices=("digits", "synthetic", "mnist"),
        default=d.dataset,
        help="digits: scikit-learn's bundled 8x8 digits upsampled to 32x32; "
        "synthetic: generated; mnist: IDX files in --data-dir",
    )
    add(
        "--data-dir",
        default=d.data_dir,
        help="directory with MNIST's train-images-idx3-ubyte[.gz] and "
        "train-labels-idx1-ubyte[.gz]",
    )
    add(
        "--model",
        choices=("simple", "mlp", "cnn"),
        default=d.model,
        help="simple: SimpleNN(1024, 224, 10); mlp: MLP([1024, 256, 128, 10]); "
        "cnn: CNN(1, 10) on 32x32x1 images",
    )
    add(
        "--epochs",
        type=_positive_int,
        default=d.epochs,
        help="total epochs (with --resume: including those already done)",
    )
    add(
        "--batch-size",
        type=_positive_int,
        default=d.batch_size,
        help="samples per step",
    )
    add(
        "--lr",
        type=_positive_float,
        default=d.lr,
        help="learning rate (default: the optimizer's torch default, 1e-3 for adam; "
        "%(default)s means that)",
    )
    add("--optimizer", choices=OPTIMIZERS, default=d.optimizer, help="torch.optim twin")
    add(
        "--scheduler",
        choices=SCHEDULERS,
        default=d.scheduler,
        help="lr schedule: step (x0.1 every epochs//3), cosine, onecycle (per "
        "step), plateau (ReduceLROnPlateau on val_loss, patience 2), warmup-cosine",
    )
    add(
        "--seed",
        type=_seed,
        default=d.seed,
        help="init, shuffle, split and dropout (0 to 2**32-1)",
    )
    add(
        "--device",
        choices=("auto", "cpu", "gpu"),
        default=d.device,
        help="auto: JAX's default device; gpu: exit 2 if there is none",
    )
    add(
        "--precision",
        choices=("fp32", "bf16"),
        default=d.precision,
        help="bf16: compute in bfloat16 with float32 master weights",
    )
    add(
        "--num-workers",
        type=_non_negative_int,
        default=d.num_workers,
        help="DataLoader worker processes",
    )
    add(
        "--checkpoint-dir",
        default=d.checkpoint_dir,
        help="save a checkpoint every epoch (last 3 kept)",
    )
    add(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        choices=("auto",),
        help="continue from the newest intact checkpoint in --checkpoint-dir "
        "(damaged ones are skipped with a warning); no checkpoint: exit 2. "
        "--resume auto: start fresh when there is no checkpoint yet (one fixed "
        "command line for a preemption loop). Same options as the first run; "
        "--epochs may grow. A checkpoint already at --epochs: nothing to do, exit 0; "
        "past --epochs: exit 2",
    )
    add(
        "--checkpoint-every-steps",
        type=_positive_int,
        default=d.checkpoint_every_steps,
        help="also checkpoint every N batches (mid-epoch; a resume continues there)",
    )
    add(
        "--log-dir",
        default=d.log_dir,
        help="write TensorBoard event files (epoch metrics) to this directory",
    )
    add(
        "--ema",
        type=_decay,
        default=d.ema,
        metavar="DECAY",
        help="keep an exponential moving average of the weights (as torch's "
        "AveragedModel with get_ema_multi_avg_fn(DECAY)); validate on it",
    )
    add(
        "--metrics-file",
        default=d.metrics_file,
        help="append one JSON object per epoch to this file",
    )
    add("--plot", default=d.plot, help="write a PNG of loss, accuracy and lr curves")
    add(
        "--val-split",
        type=_fraction,
        default=d.val_split,
        help="fraction of the data held out for validation",
    )
    add(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress bars (they are shown by default)",
    )
    add(
        "--steps-per-execution",
        type=_positive_int,
        default=d.steps_per_execution,
        help="optimizer steps per jitted call (Keras's name); same results as 1, "
        "less Python dispatch per step. None: 8, but 1 for --model cnn on a CPU "
        "(a CNN's step is long enough that 8 per call measured no faster)",
    )
    _add_scale_out(p)
    return p


def _add_scale_out(p: argparse.ArgumentParser) -> None:
    """Data parallelism and multi-process options (``jax.sharding``/``distributed``)."""
    g = p.add_argument_group(
        "scaling out",
        "--batch-size is the global batch: each of N processes loads batch/N rows "
        "of its DistributedSampler shard. Without the three flags below, JAX's "
        "environment variables (JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, "
        "JAX_PROCESS_ID, as set by python -m jtoolkit.launch) or SLURM/Open MPI "
        "are used when present.",
    )
    g.add_argument(
        "--data-parallel",
        action="store_true",
        help="train data-parallel on every local device (and every process's)",
    )
    g.add_argument(
        "--fsdp",
        action="store_true",
        help="fully sharded data parallel: like --data-parallel, with parameters "
        "and optimizer state split over the devices (torch's FSDP)",
    )
    g.add_argument(
        "--cpu-split",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="CPU only: give JAX one CPU device per usable core (the most that "
        "divide --batch-size) and train data-parallel over them. Off by default: "
        "on 2 cores the split costs more CPU time per step than it wins back "
        "(benchmarks/RESULTS.md)",
    )
    g.add_argument(
        "--coordinator-address",
        default=None,
        help="HOST:PORT of process 0, for a multi-process run",
    )
    g.add_argument(
        "--num-processes", type=_positive_int, default=None, help="processes in all"
    )
    g.add_argument(
        "--process-id", type=_non_negative_int, default=None, help="this process's rank"
    )
    g.add_argument(
        "--init-timeout",
        type=_positive_float,
        default=None,
        help="seconds to wait for every process to join (JAX's default: 300)",
    )


def parse_config(argv: list[str] | None = None) -> DemoConfig:
    """Parse ``argv`` into a ``DemoConfig`` (argparse exits 2 on bad options).

    Raises:
        UsageError: options that argparse cannot check alone (e.g. --resume without
            --checkpoint-dir).
    """
    args = build_parser().parse_args(argv)
    config = DemoConfig(**vars(args))
    if config.resume and config.checkpoint_dir is None:
        raise UsageError("--resume needs --checkpoint-dir DIR")
    if config.checkpoint_every_steps and config.checkpoint_dir is None:
        raise UsageError("--checkpoint-every-steps needs --checkpoint-dir DIR")
    if config.dataset == "mnist" and config.data_dir is None:
        raise UsageError("--dataset mnist needs --data-dir DIR with the IDX files")
    if config.dataset != "mnist" and config.data_dir is not None:
        raise UsageError(
            f"--data-dir is only used with --dataset mnist, not {config.dataset}"
        )
    if config.coordinator_address is not None:  # before JAX is imported
        try:
            parse_coordinator_address(config.coordinator_address)
        except ValueError as err:
            raise UsageError(f"--coordinator-address: {err}") from None
    if (
        config.num_processes is not None
        and config.process_id is not None
        and config.process_id >= config.num_processes
    ):
        raise UsageError(
            f"--process-id {config.process_id} must be below --num-processes "
            f"{config.num_processes}"
        )
    return config


def configure_runtime(config: DemoConfig) -> str:
    """Pick the device and enable JAX's persistent compilation cache.

    The cache is ``enable_compilation_cache``'s (``$JAX_COMPILATION_CACHE_DIR``,
    else ``~/.cache/jtoolkit/jax``; ``JTOOLKIT_COMPILATION_CACHE=0`` turns it off).

    Returns:
        A one-line description of the device.

    Raises:
        UsageError: ``--device gpu`` without a GPU.
    """
    import jax

    from jtoolkit._src.core.compilation_cache import enable_compilation_cache
    from jtoolkit._src.train.distributed import initialize_distributed
    from jtoolkit._src.train.runtime import JobSetupError

    if config.device == "cpu":
        jax.config.update("jax_platforms", "cpu")
    if config.cpu_split:
        _split_over_cores(config)
    try:
        initialize_distributed(
            config.coordinator_address,
            config.num_processes,
            config.process_id,
            timeout_s=config.init_timeout,
            agree={"config": _config_digest(config)},
        )
    except JobSetupError:
        raise  # connected processes: one line and exit 2 without JAX's barrier
    except (RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        raise UsageError(f"cannot join the multi-process run: {first}") from None
    enable_compilation_cache()
    if config.cpu_split and jax.default_backend() != "cpu":
        raise UsageError(
            f"--cpu-split splits a batch over CPU cores, but JAX's default device "
            f"is a {jax.default_backend()}; pass --device cpu, or --data-parallel "
            "to split over the accelerators"
        )
    if config.device == "gpu":
        try:
            gpus = jax.devices("gpu")
        except RuntimeError:
            gpus = []
        if not gpus:
            names = ", ".join(sorted({d.platform for d in jax.devices()}))
            raise UsageError(f"--device gpu: no GPU found (available: {names})")
        jax.config.update("jax_default_device", gpus[0])
    device = jax.devices("gpu")[0] if config.device == "gpu" else jax.devices()[0]
    procs = jax.process_count()
    where = f"{procs} process" + ("es" if procs > 1 else "")
    if config.data_parallel or config.fsdp or config.cpu_split:
        kind = "fully sharded data-parallel" if config.fsdp else "data-parallel"
        return (
            f"{device.platform} ({device.device_kind}), {kind} on "
            f"{jax.device_count()} device(s) in {where}"
        )
    count = jax.device_count()
    return f"{device.platform} ({device.device_kind}, 1 of {count} device(s), {where})"


def _split_over_cores(config: DemoConfig) -> None:
    """``--cpu-split``: one JAX CPU device per usable core, before JAX starts.

    The count is the largest one up to the usable cores that divides
    ``--batch-size`` (a data-parallel batch splits evenly; ``fit`` pads the ragged
    last batch to the full shape).

    Raises:
        UsageError: with ``--device gpu``.
    """
    from jtoolkit._src.train.cpu_devices import usable_cores, use_cpu_cores

    if config.device == "gpu":
        raise UsageError("--cpu-split splits over CPU cores: not with --device gpu")
    cores = usable_cores()
    use_cpu_cores(max(n for n in range(1, cores + 1) if config.batch_size % n == 0))


# per process, or checked on their own (num_processes)
_PER_PROCESS = ("coordinator_address", "process_id", "num_processes", "init_timeout")


def _config_digest(config: DemoConfig) -> str:
    """A hash of the options every process must share (not its rank or address)."""
    shared = {
        k: v for k, v in dataclasses.asdict(config).items() if k not in _PER_PROCESS
    }
    text = json.dumps(shared, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run(config: DemoConfig, log=print) -> list[dict]:
    """Train as ``config`` says; returns the metrics history (one dict per epoch).

    Raises:
        UsageError: a missing checkpoint or data directory, or unusable files.
    """
    from jtoolkit._src.demo.run import train_demo

    return train_demo(config, log)


def main(argv: list[str] | None = None) -> int:
    """Parse, configure, train; exit code 0, or 2 with a one-line message."""
    try:
        config = parse_config(argv)
        device = configure_runtime(config)
        primary = _is_primary()
        log = print if primary else _silent  # only process 0 prints
        log(f"jtoolkit.train: device {device}", flush=True)
        start = time.perf_counter()
        history = run(config, log)
    except UsageError as err:
        print(f"python -m jtoolkit.train: error: {err}", file=sys.stderr)
        return end_process(2)
    except FloatingPointError as err:  # the demo has no nan_policy: name its options
        what = str(err).split("; that update")[0]
        print(
            f"python -m jtoolkit.train: error: training diverged: {what}; lower --lr "
            "or pick another --optimizer or --scheduler",
            file=sys.stderr,
        )
        return end_process(2)
    except Preempted as err:  # saved already; exits 143 (the launcher's sign)
        if _is_primary():
            print(f"python -m jtoolkit.train: {err}", file=sys.stderr, flush=True)
        raise
    except KeyboardInterrupt:
        print("python -m jtoolkit.train: interrupted", file=sys.stderr)
        return end_process(130)
    except (OSError, RuntimeError, ValueError) as err:
        message = _file_failure(err)
        if message is None:
            raise
        print(f"python -m jtoolkit.train: error: {message}", file=sys.stderr)
        return end_process(2)
    if history and primary:
        _summary(history, time.perf_counter() - start)
    return 0


def _file_failure(err: BaseException) -> str | None:
    """One line for a file-system failure mid-run (a full disk, a read-only or
    vanished directory, another writer, a damaged checkpoint); None for a bug."""
    from jtoolkit._src.checkpoint.integrity import CheckpointCorruptError
    from jtoolkit._src.core.files import UnsafePathError

    if isinstance(err, OSError):
        if (
            err.filename is not None
            and err.strerror
            and type(err).__str__ is (OSError.__str__)
        ):
            return f"{err.filename}: {err.strerror}"
    elif not isinstance(err, CheckpointCorruptError | UnsafePathError):
        return None
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _silent(*args: object, **kwargs: object) -> None:
    """The log of processes other than 0."""


def _is_primary() -> bool:
    import jax

    return jax.process_index() == 0


def _summary(history: list[dict], seconds: float) -> None:
    last = history[-1]
    best = max(history, key=lambda r: r.get("val_accuracy", float("-inf")))
    print(
        f"done: {last['epoch']} epochs in {seconds:.1f} s; final train_loss "
        f"{last['train_loss']:.4f}, val_loss {last.get('val_loss', float('nan')):.4f}, "
        f"val_accuracy {last.get('val_accuracy', float('nan')):.4f} (best "
        f"{best.get('val_accuracy', float('nan')):.4f} at epoch {best['epoch']})",
        flush=True,
    )
