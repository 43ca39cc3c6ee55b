"""Port of the PyTorch beginner tutorial "Quickstart" (``beginner_source/basics/
quickstart_tutorial.py``, FashionMNIST) to jtoolkit.

Run: ``python examples/ports/quickstart.py`` (CPU, offline, a few seconds).

What is the same as upstream: ``NeuralNetwork`` (``Flatten`` ->
``Linear(784, 512)`` -> ``ReLU`` -> ``Linear(512, 512)`` -> ``ReLU`` ->
``Linear(512, 10)``, inside ``linear_relu_stack``, so torch's ``state_dict`` names
match), ``CrossEntropyLoss``, ``SGD(lr=1e-3)``, batch size 64, 5 epochs, the
``train``/``test`` loops and their printed lines, saving the weights, loading them
into a fresh model and predicting the first test image.

What differs:

* Data: no download. ``--data digits`` (default) stands in for FashionMNIST:
  scikit-learn's bundled 8x8 digits (read from its CSV) resized to 28x28, pixels in
  [0, 1] like ``ToTensor()``; ``--data synthetic`` is ten noisy random templates.
  1500 images train, 297 test. The class names are then the digits.
* Images are NHWC ``[N, 28, 28, 1]``; with one channel, flattening NHWC or NCHW
  gives the same 784 features.
* The training step is one jitted pure function (``jtoolkit.train``); the last,
  smaller batch is kept and padded (a ``mask``), so it does not recompile.
* Weights are saved as safetensors (``model.safetensors``, torch's names), not
  ``torch.save``'s pickle; ``--save`` chooses the path (default: a temporary one).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtoolkit import data, losses, models, optim, train


def _sibling(name: str):
    """The sibling port ``name``.py, loaded by path (never a same-named package)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_jtoolkit_port_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


load_images = _sibling("mnist").load_images  # the offline 28x28 image loader


class NeuralNetwork(nnx.Module):
    """upstream's ``NeuralNetwork``: [N, 28, 28(, 1)] images -> [N, 10] logits."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.flatten = models.Flatten()
        self.linear_relu_stack = models.Sequential(
            models.Linear(28 * 28, 512, rngs=rngs),
            models.ReLU(),
            models.Linear(512, 512, rngs=rngs),
            models.ReLU(),
            models.Linear(512, 10, rngs=rngs),
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.linear_relu_stack(self.flatten(x))


loss_fn = losses.CrossEntropyLoss(reduction="none")  # per example: masks the last batch


def objective(model: NeuralNetwork, batch) -> jax.Array:
    """``loss_fn(model(X), y)`` per example; the train step averages (with a mask)."""
    x, y = batch
    return loss_fn(model(x), y)


def _pad(x: np.ndarray, y: np.ndarray, size: int):
    """Pad a short last batch to ``size`` rows and return the mask of real rows."""
    mask = np.zeros(size, np.float32)
    mask[: len(x)] = 1.0
    extra = size - len(x)
    if extra:
        x = np.concatenate([x, np.zeros((extra, *x.shape[1:]), x.dtype)])
        y = np.concatenate([y, np.zeros(extra, y.dtype)])
    return x, y, mask


def train_loop(loader, step, state, batch_size: int, log_interval: int):
    """upstream's ``train(dataloader, model, loss_fn, optimizer)``."""
    size = len(loader.dataset)
    for batch, (x, y) in enumerate(loader):
        n = len(x)
        x, y, mask = _pad(x, y, batch_size)
        state, metrics = step(state, (x, y), mask)
        if batch % log_interval == 0:
            loss, current = float(metrics["loss"]), batch * batch_size + n
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")
    return state


@jax.jit
def _test_sums(model: NeuralNetwork, x: jax.Array, y: jax.Array):
    pred = model(x)
    return jnp.mean(loss_fn(pred, y)), jnp.sum(jnp.argmax(pred, axis=1) == y)


def test_loop(model: NeuralNetwork, x: np.ndarray, y: np.ndarray, batch_size: int):
    """upstream's ``test(dataloader, model, loss_fn)``; returns the average loss."""
    num_batches = -(-len(x) // batch_size)
    test_loss, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        loss, right = _test_sums(
            model, x[start : start + batch_size], y[start : start + batch_size]
        )
        test_loss, correct = test_loss + float(loss), correct + int(right)
    test_loss /= num_batches
    accuracy = 100 * correct / len(x)
    print(f"Test Error: \n Accuracy: {accuracy:>0.1f}%, Avg loss: {test_loss:>8f} \n")
    return test_loss


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description="jtoolkit port of PyTorch's Quickstart")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--log-interval", type=int, default=10, help="upstream: 100")
    p.add_argument("--data", choices=["digits", "synthetic"], default="digits")
    p.add_argument("--save", default=None, help="weights file (.safetensors)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    images, labels = load_images(args.data, args.seed)
    x_test, y_test = images[1500:], labels[1500:]
    training_data = data.ArrayDataset(images[:1500], labels[:1500])
    train_dataloader = data.DataLoader(
        training_data, batch_size=args.batch_size, shuffle=True, seed=args.seed
    )
    model = NeuralNetwork(rngs=nnx.Rngs(args.seed))
    print(models.summary(model))
    optimizer = optim.sgd(lr=args.lr)
    state = train.TrainState.create(model, optimizer, seed=args.seed)
    step = train.make_train_step(objective, optimizer)
    test_loss = float("nan")
    for t in range(args.epochs):
        print(f"Epoch {t + 1}\n-------------------------------")
        state = train_loop(
            train_dataloader, step, state, args.batch_size, args.log_interval
        )
        test_loss = test_loop(state.module(), x_test, y_test, args.batch_size)
    print("Done!")

    with tempfile.TemporaryDirectory() as tmp:
        path = args.save or os.path.join(tmp, "model.safetensors")
        models.save_safetensors(state.module(), path)
        print(f"Saved PyTorch Model State to {path}")
        model = NeuralNetwork(rngs=nnx.Rngs(1))
        models.load_safetensors(model, path)
    classes = [str(d) for d in range(10)]  # FashionMNIST: "T-shirt/top", ...
    pred = model(x_test[:1])
    predicted, actual = classes[int(pred[0].argmax())], classes[int(y_test[0])]
    print(f'Predicted: "{predicted}", Actual: "{actual}"')
    return test_loss


if __name__ == "__main__":
    main()
