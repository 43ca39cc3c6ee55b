"""Plot a schedule to a PNG: ``plot_schedule`` and ``python -m jtoolkit.schedules``."""

import argparse
import ast
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence

import jax.numpy as jnp
import numpy as np

from jtoolkit._src.core.checks import check_int
from jtoolkit._src.core.files import atomic_writer
from jtoolkit._src.schedules.cyclic import (
    cyclic_lr,
    cyclic_momentum,
    one_cycle_lr,
    one_cycle_momentum,
)
from jtoolkit._src.schedules.decay import (
    cosine_annealing_lr,
    exponential_lr,
    linear_lr,
    linear_warmup_cosine_annealing,
    multistep_lr,
    step_lr,
)
from jtoolkit._src.schedules.numerics import Schedule

__all__ = ["PlotConfig", "main", "plot_schedule"]


PLOTTABLE: dict[str, Callable[..., Schedule]] = {
    builder.__name__: builder
    for builder in (
        step_lr,
        multistep_lr,
        exponential_lr,
        cosine_annealing_lr,
        linear_lr,
        cyclic_lr,
        cyclic_momentum,
        one_cycle_lr,
        one_cycle_momentum,
        linear_warmup_cosine_annealing,
    )
}


"""Schedules the CLI can build from ``key=value`` arguments (no callables needed)."""


def plot_schedule(
    schedule: Schedule, steps: int, path: str | os.PathLike, title: str | None = None
) -> str:
    """Evaluate ``schedule`` on counts ``0..steps-1`` and write a PNG line plot.

    matplotlib is an optional extra (``pip install matplotlib``), imported here
    only; no pyplot global state is touched.

    Args:
        schedule: any schedule ``count -> value``.
        steps: number of counts to plot, a positive int.
        path: output file (``.png``).
        title: optional title (defaults to none).

    Returns:
        The path written, as a string.

    Raises:
        ImportError: matplotlib is not installed (the message says how to fix it).
        ValueError: ``steps`` is not positive.

    Example:
        >>> import pathlib, tempfile
        >>> from jtoolkit.schedules import cosine_annealing_lr
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     out = pathlib.Path(tmp) / "cos.png"
        ...     path = plot_schedule(cosine_annealing_lr(0.1, T_max=10), 40, out)
        ...     pathlib.Path(path).read_bytes()[:4]
        b'\x89PNG'
    """
    steps = check_int("steps", steps, fn="plot_schedule", minimum=1)
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "plot_schedule needs matplotlib, which is not installed; install it "
            "with `pip install matplotlib`"
        ) from error
    counts = np.arange(steps)
    values = np.asarray(schedule(jnp.asarray(counts)))
    figure = Figure(figsize=(6, 3.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(counts, values)
    axes.set_xlabel("count (scheduler steps)")
    axes.set_ylabel("value")
    if title:
        axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_writer(os.fspath(path)) as f:
        figure.savefig(f, format="png")
    return os.fspath(path)


@dataclasses.dataclass(frozen=True)
class PlotConfig:
    """What ``python -m jtoolkit.schedules --plot`` draws: a schedule and its args."""

    name: str
    out: str
    steps: int = 100
    kwargs: tuple[tuple[str, object], ...] = ()


def _value(text: str) -> object:
    """A ``key=value`` value as a Python literal where it parses, else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _parse(argv: Sequence[str]) -> PlotConfig:
    parser = argparse.ArgumentParser(
        prog="python -m jtoolkit.schedules",
        description="Plot a jtoolkit schedule to a PNG, e.g. --plot "
        "cosine_annealing_lr --out cos.png --steps 50 lr=0.1 T_max=10",
    )
    parser.add_argument("--plot", required=True, choices=sorted(PLOTTABLE))
    parser.add_argument("--out", required=True, help="output PNG path")
    parser.add_argument("--steps", type=int, default=100, help="counts to plot")
    parser.add_argument("args", nargs="*", help="schedule arguments as key=value")
    parsed = parser.parse_args(argv)
    pairs = []
    for item in parsed.args:
        key, sep, text = item.partition("=")
        if not sep or not key:
            parser.error(f"schedule arguments must be key=value, got {item!r}")
        pairs.append((key, _value(text)))
    return PlotConfig(parsed.plot, parsed.out, parsed.steps, tuple(pairs))


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: parse into a :class:`PlotConfig` and plot; 2 on bad input."""
    config = _parse(sys.argv[1:] if argv is None else argv)
    try:
        schedule = PLOTTABLE[config.name](**dict(config.kwargs))
        plot_schedule(schedule, config.steps, config.out, title=config.name)
    except (TypeError, ValueError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(config.out)
    return 0
