"""Port of pytorch/examples ``mnist/main.py`` (the "Basic MNIST Example") to jtoolkit.

Run: ``python examples/ports/mnist.py`` (CPU, offline, a few seconds by default;
``--epochs 14 --limit-batches 0`` is upstream's full schedule).

What is the same as upstream: the ``Net`` (conv 1->32 3x3, conv 32->64 3x3, ReLUs,
2x2 max-pool, dropout 0.25, fc 9216->128, dropout 0.5, fc 128->10, log-softmax),
the ``nll_loss`` objective, ``Adadelta(lr=1.0)`` with ``StepLR(step_size=1,
gamma=0.7)`` stepped once per epoch, the normalisation ``(0.1307, 0.3081)``, the
train/test log lines and ``--save-model``.

What differs:

* Data: no download. ``--data digits`` (default) is scikit-learn's bundled 8x8
  digits (read from its CSV, scikit-learn is not imported) resized to 28x28 by
  nearest neighbour; ``--data synthetic`` is ten noisy random templates. 1500
  images train, the rest (297) test.
* Layout: images are NHWC ``[N, 28, 28, 1]`` (jtoolkit's image layers). Before
  ``flatten`` the features are transposed to NCHW, so ``fc1`` sees torch's order
  and a torch ``state_dict`` loads unchanged with ``models.load_torch_state_dict``.
* The training step is one jitted pure function (``jtoolkit.train``); the last,
  smaller training batch is dropped so it compiles once. ``--limit-batches``
  (default 10) stops each epoch early to keep the default run tiny.
* ``--dry-run``, ``--no-accel`` and ``--seed`` keep their meaning; dropout masks
  come from JAX's PRNG, so they differ from torch's.
"""

from __future__ import annotations

import argparse
import importlib.util
import os

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import jtoolkit.functional as F
from jtoolkit import data, models, optim, schedules, train

MEAN, STD = 0.1307, 0.3081  # upstream's transforms.Normalize((0.1307,), (0.3081,))


class Net(nnx.Module):
    """upstream's ``Net`` on NHWC input ``[N, 28, 28, 1]``; returns log-probabilities.

    ``dropout1``/``dropout2`` are upstream's fixed 0.25/0.5, made arguments so the
    tests can switch dropout off (JAX and torch draw different masks).
    """

    def __init__(
        self, dropout1: float = 0.25, dropout2: float = 0.5, *, rngs: nnx.Rngs
    ) -> None:
        self.conv1 = models.Conv2d(1, 32, 3, 1, rngs=rngs)
        self.conv2 = models.Conv2d(32, 64, 3, 1, rngs=rngs)
        self.dropout1 = models.Dropout(dropout1, rngs=rngs)
        self.dropout2 = models.Dropout(dropout2, rngs=rngs)
        self.fc1 = models.Linear(9216, 128, rngs=rngs)
        self.fc2 = models.Linear(128, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2, data_format="NHWC")
        x = self.dropout1(x)
        x = jnp.transpose(x, (0, 3, 1, 2))  # NHWC -> NCHW: torch's flatten order
        x = F.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def _digits_csv() -> str | None:
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = next(iter(spec.submodule_search_locations))
    path = os.path.join(root, "datasets", "data", "digits.csv.gz")
    return path if os.path.exists(path) else None


def load_images(kind: str = "digits", seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """28x28 grey images in [0, 1], NHWC float32, and int32 labels 0-9.

    ``digits``: scikit-learn's bundled digits resized 8 -> 28 (nearest); falls back
    to ``synthetic`` when scikit-learn is not installed.
    """
    path = _digits_csv() if kind == "digits" else None
    if path is not None:
        table = np.loadtxt(path, delimiter=",", dtype=np.float32)
        small = table[:, :64].reshape(-1, 8, 8) / 16.0
        rows = np.arange(28) * 8 // 28  # nearest-neighbour source row/column
        images = small[:, rows][:, :, rows]
        return images[..., None], table[:, 64].astype(np.int32)
    rng = np.random.default_rng(seed)
    templates = rng.random((10, 28, 28, 1), dtype=np.float32)
    labels = rng.integers(0, 10, 1797).astype(np.int32)
    noise = rng.normal(0.0, 0.3, (1797, 28, 28, 1)).astype(np.float32)
    return np.clip(templates[labels] + noise, 0.0, 1.0), labels


def normalize(images: np.ndarray) -> np.ndarray:
    """upstream's ``transforms.Normalize((0.1307,), (0.3081,))``."""
    return ((images - MEAN) / STD).astype(np.float32)


def loss_fn(model: Net, batch) -> jax.Array:
    """upstream's ``F.nll_loss(model(data), target)``."""
    x, y = batch
    return F.nll_loss(model(x), y)


def make_optimizer(lr: float, gamma: float, steps_per_epoch: int):
    """``Adadelta(lr)`` with ``StepLR(step_size=1, gamma)`` stepped once per epoch."""
    epoch_lr = schedules.step_lr(lr, step_size=1, gamma=gamma)
    return optim.adadelta(lr=schedules.per_epoch(epoch_lr, steps_per_epoch))


@jax.jit
def _test_sums(model: Net, x: jax.Array, y: jax.Array):
    out = model(x)
    loss = F.nll_loss(out, y, reduction="sum")
    correct = jnp.sum(jnp.argmax(out, axis=1) == y)
    return loss, correct


def test(model: Net, x: np.ndarray, y: np.ndarray, batch_size: int) -> float:
    """upstream's ``test()``: summed NLL and accuracy; returns the mean NLL."""
    model.eval()
    total, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        loss, right = _test_sums(
            model, x[start : start + batch_size], y[start : start + batch_size]
        )
        total, correct = total + float(loss), correct + int(right)
    model.train()
    total /= len(x)
    print(
        f"\nTest set: Average loss: {total:.4f}, Accuracy: {correct}/{len(x)} "
        f"({100.0 * correct / len(x):.0f}%)\n"
    )
    return total


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description="jtoolkit port of PyTorch's MNIST Example")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--test-batch-size", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=1, help="upstream: 14")
    p.add_argument("--lr", type=float, default=1.0)
    p.add_argument("--gamma", type=float, default=0.7)
    p.add_argument("--no-accel", action="store_true", help="run on the CPU")
    p.add_argument("--dry-run", action="store_true", help="one batch per epoch")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log-interval", type=int, default=10)
    p.add_argument("--save-model", action="store_true")
    p.add_argument("--data", choices=["digits", "synthetic"], default="digits")
    p.add_argument(
        "--limit-batches",
        type=int,
        default=10,
        help="training batches per epoch (0: all, as upstream)",
    )
    args = p.parse_args(argv)
    if args.no_accel:
        jax.config.update("jax_platforms", "cpu")

    images, labels = load_images(args.data, args.seed)
    images = normalize(images)
    x_test, y_test = images[1500:], labels[1500:]
    train_set = data.ArrayDataset(images[:1500], labels[:1500])
    loader = data.DataLoader(
        train_set,
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        seed=args.seed,
    )
    steps = len(loader)
    if args.limit_batches:
        steps = min(steps, args.limit_batches)
    if args.dry_run:
        steps = 1

    model = Net(rngs=nnx.Rngs(params=args.seed, dropout=args.seed))
    optimizer = make_optimizer(args.lr, args.gamma, steps)
    state = train.TrainState.create(model, optimizer, seed=args.seed)
    step = train.make_train_step(loss_fn, optimizer)
    test_loss = float("nan")
    for epoch in range(1, args.epochs + 1):
        for batch_idx, (x, y) in enumerate(loader):
            if batch_idx >= steps:
                break
            state, metrics = step(state, (x, y))
            if batch_idx % args.log_interval == 0 or batch_idx == steps - 1:
                seen, total = batch_idx * len(x), steps * args.batch_size
                print(
                    f"Train Epoch: {epoch} [{seen}/{total} "
                    f"({100.0 * batch_idx / steps:.0f}%)]\tLoss: "
                    f"{float(metrics['loss']):.6f}"
                )
        test_loss = test(state.module(), x_test, y_test, args.test_batch_size)
    if args.save_model:
        models.save_safetensors(state.module(), "mnist_cnn.safetensors")
    return test_loss


if __name__ == "__main__":
    main()
