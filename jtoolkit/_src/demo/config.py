"""The demo's configuration: a frozen dataclass the CLI parses arguments into."""

from __future__ import annotations

import dataclasses

__all__ = ["DemoConfig", "UsageError"]


OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta")


SCHEDULERS = ("none", "step", "cosine", "onecycle", "plateau", "warmup-cosine")


class UsageError(Exception):
    """A bad option or missing file: exit code 2 with a one-line message."""


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Every option of the demo (the CLI only parses arguments into this)."""

    dataset: str = "digits"
    data_dir: str | None = None
    model: str = "simple"
    epochs: int = 15
    batch_size: int = 64
    lr: float | None = None
    optimizer: str = "adam"
    scheduler: str = "none"
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    num_workers: int = 0
    checkpoint_dir: str | None = None
    resume: bool | str = False  # True (strict), "auto" or False
    checkpoint_every_steps: int | None = None
    log_dir: str | None = None
    ema: float | None = None
    metrics_file: str | None = None
    plot: str | None = None
    progress: bool = True
    val_split: float = 0.2
    steps_per_execution: int | None = None  # None: run.steps_per_execution
    data_parallel: bool = False
    fsdp: bool = False
    cpu_split: bool = False
    coordinator_address: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
    init_timeout: float | None = None
