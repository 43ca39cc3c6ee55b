"""``--plot``: loss, accuracy and lr curves of a metrics history as one PNG."""

from __future__ import annotations

from jtoolkit._src.core.files import atomic_writer

__all__ = ["plot_history"]


def plot_history(history: list[dict], path: str) -> None:
    """Write loss (train/val), val accuracy and lr per epoch to ``path`` (PNG).

    matplotlib is imported lazily (the ``demo`` extra), with the Agg backend.

    Raises:
        RuntimeError: matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise RuntimeError(
            "--plot needs matplotlib: pip install 'jtoolkit[demo]'"
        ) from err
    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    axes[0].plot(epochs, [r["train_loss"] for r in history], label="train")
    if all("val_loss" in r for r in history):
        axes[0].plot(epochs, [r["val_loss"] for r in history], label="val")
    axes[0].set_title("loss")
    axes[0].legend()
    if all("val_accuracy" in r for r in history):
        axes[1].plot(epochs, [r["val_accuracy"] for r in history])
    axes[1].set_title("val accuracy")
    lrs = [r.get("lr") for r in history]
    if all(v is not None for v in lrs):
        axes[2].plot(epochs, lrs)
    axes[2].set_title("lr")
    for ax in axes:
        ax.set_xlabel("epoch")
    fig.tight_layout()
    try:
        with atomic_writer(path) as f:
            fig.savefig(f, format="png")
    finally:
        plt.close(fig)
