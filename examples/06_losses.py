"""Tutorial section "Loss", in jtoolkit.

Run: ``python examples/06_losses.py`` (CPU, a few seconds).

jtoolkit's losses are pure functions with torch's names, options and numbers
(``mse_loss``, ``cross_entropy``, ...) and module-style constructors
(``MSELoss()``, ...) that return callables, as ``criterion = nn.MSELoss()``. The
inputs below are fixed numpy arrays (``np.random.default_rng(0)``), so the printed
values can be checked against torch on the same arrays.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtoolkit import losses, models, optim, train

rng = np.random.default_rng(0)
pred = rng.standard_normal((4, 3)).astype(np.float32)  # a model's outputs
target = rng.standard_normal((4, 3)).astype(np.float32)
logits = rng.standard_normal((4, 5)).astype(np.float32)
labels = np.array([1, 0, 4, 2])
binary_target = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]], np.float32)
anchor, positive, negative = rng.standard_normal((3, 4, 8)).astype(np.float32)

# --- The common losses ------------------------------------------------------------
# torch: mse_loss = nn.MSELoss(); loss = mse_loss(output, targets)
mse = losses.MSELoss()
print(f"MSELoss: {float(mse(pred, target)):.6f}")
# torch: ce_loss = nn.CrossEntropyLoss(); loss = ce_loss(output, targets)
ce = losses.CrossEntropyLoss()  # logits in, no softmax before it (built in)
print(f"CrossEntropyLoss: {float(ce(logits, labels)):.6f}")
# torch: bce_loss = nn.BCELoss(); output = torch.sigmoid(model(inputs))
#        loss = bce_loss(output, targets.float())
bce = losses.BCELoss()
print(f"BCELoss: {float(bce(jax.nn.sigmoid(pred), binary_target)):.6f}")
# torch: nn.BCEWithLogitsLoss()  (sigmoid + BCELoss, numerically safer)
bce_logits = losses.BCEWithLogitsLoss()
print(f"BCEWithLogitsLoss: {float(bce_logits(pred, binary_target)):.6f}")
# torch: nn.L1Loss(), nn.HuberLoss(), nn.SmoothL1Loss()
print(f"L1Loss: {float(losses.L1Loss()(pred, target)):.6f}")
print(f"HuberLoss: {float(losses.HuberLoss()(pred, target)):.6f}")
print(f"SmoothL1Loss: {float(losses.SmoothL1Loss()(pred, target)):.6f}")
# torch: nn.TripletMarginLoss(margin=1.0)
triplet = losses.TripletMarginLoss(margin=1.0)
print(f"TripletMarginLoss: {float(triplet(anchor, positive, negative)):.6f}")
# torch: nn.CrossEntropyLoss(weight=class_weights)  (imbalanced classes)
class_weights = np.array([1.0, 2.0, 0.5, 1.0, 3.0], np.float32)
weighted_ce = losses.CrossEntropyLoss(weight=class_weights)
print(f"weighted CrossEntropyLoss: {float(weighted_ce(logits, labels)):.6f}")


# --- Custom losses ----------------------------------------------------------------
# torch (method 1): class CustomLoss(nn.Module):
#           def __init__(self, alpha=0.5): ...
#           def forward(self, pred, target):
#               mse = torch.mean((pred - target)**2); l1 = torch.mean(torch.abs(...))
#               return self.alpha * mse + (1 - self.alpha) * l1
# In JAX a loss is a function; its hyperparameters are bound with functools.partial.
def my_custom_loss(pred, target, alpha=0.5):
    mse = jnp.mean((pred - target) ** 2)
    l1 = jnp.mean(jnp.abs(pred - target))
    return alpha * mse + (1 - alpha) * l1


criterion = functools.partial(my_custom_loss, alpha=0.3)  # CustomLoss(alpha=0.3)
print(f"CustomLoss(alpha=0.3): {float(criterion(pred, target)):.6f}")
# jtoolkit ships the same function as losses.alpha_mse_l1_loss
shipped = losses.alpha_mse_l1_loss(pred, target, alpha=0.3)
print(f"alpha_mse_l1_loss(alpha=0.3): {float(shipped):.6f}")

# torch (method 2): def custom_loss(pred, target, beta=0.3):
#           base_loss = F.binary_cross_entropy(pred, target)
#           penalty = torch.mean(torch.relu(pred - 0.7))**2
#           return base_loss + beta * penalty
probabilities = jax.nn.sigmoid(pred)
print(f"custom_loss: {float(losses.custom_loss(probabilities, binary_target)):.6f}")
# the gradient comes for free (torch: loss.backward(); pred.grad)
g = jax.jit(jax.grad(losses.custom_loss))(probabilities, binary_target)
print(f"custom_loss grad sum: {float(g.sum()):.6f}")

# --- Multiple losses: weighted sum, one backward ----------------------------------
# torch: loss1 = criterion1(output1, target1) * weight1
#        loss2 = criterion2(output2, target2) * weight2
#        total_loss = loss1 + loss2; total_loss.backward()
total = 1.0 * ce(logits, labels) + 0.5 * mse(pred, target)
print(f"total_loss (1.0*CE + 0.5*MSE): {float(total):.6f}")
# torch: class MultiTaskLoss(nn.Module): ... return loss1 + 0.5*loss2
multi = losses.multi_task_loss(logits, pred, labels, target)
print(f"MultiTaskLoss: {float(multi):.6f}")


# --- MultiTaskLoss in a training loop ---------------------------------------------
# torch: criterion = MultiTaskLoss(); optimizer = torch.optim.Adam(model.parameters(),
#        lr=0.001); for data, (labels_class, labels_reg) in train_loader:
#            outputs_class, outputs_reg = model(data)
#            loss = criterion(outputs_class, outputs_reg, labels_class, labels_reg)
#            optimizer.zero_grad(); loss.backward(); optimizer.step()
class TwoHeads(nnx.Module):
    """A shared body with a classification head and a regression head."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.body = models.Linear(8, 16, rngs=rngs)
        self.cls = models.Linear(16, 3, rngs=rngs)
        self.reg = models.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        h = jax.nn.relu(self.body(x))
        return self.cls(h), self.reg(h)[:, 0]


x = rng.standard_normal((64, 8)).astype(np.float32)
y_class = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 1).astype(np.int32)
y_reg = x[:, 2] * 2.0 - x[:, 3]


def loss_fn(model, batch):
    data, labels_class, labels_reg = batch
    outputs_class, outputs_reg = model(data)
    return losses.multi_task_loss(outputs_class, outputs_reg, labels_class, labels_reg)


optimizer = optim.adam(lr=0.01)
state = train.TrainState.create(TwoHeads(rngs=nnx.Rngs(0)), optimizer)
# torch ("memory saving" order): loss = criterion(output, target); loss.backward()
#        optimizer.step(); optimizer.zero_grad()  # reset the gradients (important!)
# The step below computes the gradients, applies them and keeps nothing: there is
# no .grad buffer to reset, so the order of those calls cannot matter.
step = train.make_train_step(loss_fn, optimizer)
first = None
for _ in range(50):
    state, metrics = step(state, (x, y_class, y_reg))
    first = float(metrics["loss"]) if first is None else first
print(f"multi-task training: loss {first:.4f} -> {float(metrics['loss']):.4f}")
