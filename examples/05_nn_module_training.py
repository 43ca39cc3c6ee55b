"""Tutorial section "nn.Module" and "a simple training example", in jtoolkit.

Run: ``python examples/05_nn_module_training.py`` (CPU, a few seconds).

torch defines a network by subclassing ``nn.Module``; jtoolkit's layers are Flax NNX
modules with torch's constructor arguments, initialisation and ``print(model)``.
The training loop is where the two differ most: torch mutates ``.grad`` and the
parameters in place, jtoolkit computes gradients as values and returns new
parameters. The tutorial's loop calls only ``loss.backward()`` and says it also
updates the parameters: it does not (backward only fills ``.grad``; an optimizer's
``step()`` changes the parameters). Section 3 shows this.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from sklearn.datasets import load_digits

from jtoolkit import data, losses, models, optim, schedules, train


# --- 1. Defining a network --------------------------------------------------------
# torch: class SimpleNN(nn.Module):
#            def __init__(self):
#                super(SimpleNN, self).__init__()
#                self.fc1 = nn.Linear(1024, 224)
#                self.fc2 = nn.Linear(224, 10)
#            def forward(self, x):
#                x = torch.relu(self.fc1(x)); x = self.fc2(x); return x
class SimpleNN(nnx.Module):
    """The tutorial's network, written the way a user writes it (``rngs`` is explicit
    randomness: torch draws the initial weights from a global generator)."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.fc1 = models.Linear(1024, 224, rngs=rngs)  # input -> hidden
        self.fc2 = models.Linear(224, 10, rngs=rngs)  # hidden -> output

    def __call__(self, x: jax.Array) -> jax.Array:  # torch's forward
        x = jax.nn.relu(self.fc1(x))
        return self.fc2(x)


# torch: model = SimpleNN(); print(model)
model = SimpleNN(rngs=nnx.Rngs(0))
print(models.summary(model))
# jtoolkit also ships this network: models.SimpleNN(in_features=1024, hidden=224,
# out_features=10, rngs=...), used below with 64 inputs for the 8x8 digits.
print("parameters:", models.count_parameters(model))  # sum(p.numel() ...)
out = model(jnp.ones((2, 1024)))
print("output shape:", out.shape)  # torch.Size([2, 10])

# --- 2. Data: sklearn's digits (offline), 8x8 images as 64 features ---------------
digits = load_digits()
x_all = (digits.data / 16.0).astype(np.float32)
y_all = digits.target.astype(np.int32)
train_set = data.ArrayDataset(x_all[:1500], y_all[:1500])
test_x, test_y = x_all[1500:], y_all[1500:]
# torch: train_loader = DataLoader(train_dataset, batch_size=64, shuffle=True)
# drop_last=True: a jitted step compiles once per input shape, so a smaller last
# batch (1500 % 64 = 28 rows) would compile it a second time. (fit() and the step's
# mask= argument pad the last batch instead, keeping every sample.)
train_loader = data.DataLoader(
    train_set, batch_size=64, shuffle=True, drop_last=True, seed=0
)
criterion = losses.CrossEntropyLoss()  # torch: criterion = nn.CrossEntropyLoss()

# --- 3. What loss.backward() does (and does not) do -------------------------------
# torch: outputs = model(batch_data); loss = criterion(outputs, batch_labels)
#        loss.backward()   # the tutorial: "backprop and parameter update" -- wrong:
#                          # backward() only fills p.grad; optimizer.step() updates.
net = models.SimpleNN(64, 32, 10, rngs=nnx.Rngs(0))
graphdef, params = nnx.split(net)
batch_x, batch_y = next(iter(train_loader))


def loss_of(p, x, y):
    return criterion(nnx.merge(graphdef, p)(x), y)


before = jax.tree.map(jnp.copy, params)
# jit compiles the whole backward pass once (eager JAX would compile op by op)
backward = jax.jit(jax.value_and_grad(loss_of))
loss, grads = backward(params, batch_x, batch_y)  # loss.backward()
# the gradients are a new pytree shaped like the parameters (torch's p.grad) ...
same_tree = jax.tree.structure(grads) == jax.tree.structure(params)
print("grads shaped like params:", same_tree)
# ... and the parameters are untouched (JAX arrays are immutable; so are torch's here)
unchanged = jax.tree.all(jax.tree.map(jnp.array_equal, params, before))
print("after backward, parameters unchanged:", unchanged)
# torch: optimizer.step()  -- the separate update
sgd = optim.sgd(lr=0.1)


@jax.jit
def optimizer_step(params, grads):
    updates, _ = sgd.update(grads, sgd.init(params), params)
    return optax.apply_updates(params, updates)


loss_after, _ = backward(optimizer_step(params, grads), batch_x, batch_y)
print(f"after optimizer step: loss {float(loss):.4f} -> {float(loss_after):.4f}")


# --- 4. The training loop ---------------------------------------------------------
# torch: model.train()
#        for epoch in range(num_epochs):
#            for batch_data, batch_labels in train_loader:
#                batch_data = batch_data.to(device); ...
#                optimizer.zero_grad()
#                loss = criterion(model(batch_data), batch_labels)
#                loss.backward(); optimizer.step()
def loss_fn(model: nnx.Module, batch) -> jax.Array:
    x, y = batch
    return criterion(model(x), y)


optimizer = optim.adam(lr=1e-2)
net = models.SimpleNN(64, 32, 10, rngs=nnx.Rngs(0))
state = train.TrainState.create(net, optimizer)
train_step = train.make_train_step(loss_fn, optimizer)  # jitted once; the state's
# model is put in train mode inside the step (torch: model.train())
for epoch in range(3):
    epoch_losses = []
    for batch in data.prefetch_to_device(train_loader):  # .to(device), overlapped
        state, metrics = train_step(state, batch)
        epoch_losses.append(float(metrics["loss"]))
    print(f"epoch {epoch}: train loss {np.mean(epoch_losses):.4f}")


# torch: model.eval()
#        with torch.no_grad(): acc = (model(x).argmax(1) == y).float().mean()
per_example = losses.CrossEntropyLoss(reduction="none")


def metric_fn(model: nnx.Module, batch) -> dict:
    """Per-example values (shape (batch,)): the eval step averages them, and fit can
    pad a smaller last batch and mask the padding out."""
    x, y = batch
    logits = model(x)
    return {"loss": per_example(logits, y), "accuracy": jnp.argmax(logits, 1) == y}


eval_step = train.make_eval_step(metric_fn)
accuracy = float(eval_step(state, (test_x, test_y))["accuracy"])
print(f"test accuracy: {accuracy:.3f}")


# --- 5. The whole loop in one call: train.fit -------------------------------------
# torch: for epoch in range(epochs):
#            train(...); val_loss = validate(...); scheduler.step(val_loss)
# fit runs the epochs with the same compiled steps, validates, steps the
# ReduceLROnPlateau on val_loss (written into the optimizer with set_lr) and can
# checkpoint, resume and stop early (see its docstring).
val_loader = data.DataLoader(data.ArrayDataset(test_x, test_y), batch_size=64)
plateau = schedules.ReduceLROnPlateau("min", factor=0.5, patience=0)
state, history = train.fit(
    state,
    train_step,
    train_loader,
    epochs=2,
    eval_step=eval_step,
    val_loader=val_loader,
    plateau=plateau,
    progress=False,
)
for row in history:
    print(
        f"fit epoch {row['epoch']}: train_loss {row['train_loss']:.4f}, "
        f"val_loss {row['val_loss']:.4f}, val_accuracy {row['val_accuracy']:.3f}, "
        f"lr {float(row['lr']):.4g}"
    )
