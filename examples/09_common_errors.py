"""Tutorial section "common errors and fixes", in jtoolkit.

Run: ``python examples/09_common_errors.py`` (CPU, a few seconds).

Three mistakes the tutorial warns about, and what becomes of them in a functional
design:

1. Forgetting ``optimizer.zero_grad()``: impossible. Gradients are return values of
   ``jax.grad``, not buffers that accumulate; summing two steps' gradients is
   something you would have to write.
2. Weight decay on BatchNorm: still possible (``weight_decay`` applies to every
   parameter it is given), and fixed the torch way, with parameter groups.
3. Calling ``scheduler.step()`` in the wrong place: impossible. A schedule is a
   function of the optimizer's own update count, evaluated inside the update;
   ``per_epoch`` states once that the schedule counts epochs.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jtoolkit import losses, models, optim, schedules

rng = np.random.default_rng(0)
x = rng.standard_normal((16, 4)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.int32)
criterion = losses.CrossEntropyLoss()

# --- 1. Forgetting zero_grad -----------------------------------------------------
# torch (wrong):  output = model(input); loss.backward(); optimizer.step()
#                 # .grad keeps the previous batches' gradients: they add up
# torch (right):  optimizer.zero_grad(); output = model(input)
#                 loss.backward(); optimizer.step()
model = models.Linear(4, 2, rngs=nnx.Rngs(0))
graphdef, params = nnx.split(model)


def loss_of(p, batch):
    inputs, target = batch
    return criterion(nnx.merge(graphdef, p)(inputs), target)


first_half, second_half = (x[:8], y[:8]), (x[8:], y[8:])
grad_fn = jax.jit(jax.grad(loss_of))
g1 = grad_fn(params, first_half)
g2 = grad_fn(params, second_half)
g2_again = grad_fn(params, second_half)
print(
    "grad of batch 2 is the same whenever it is taken:",
    jax.tree.all(jax.tree.map(jnp.array_equal, g2, g2_again)),
)
# What torch without zero_grad() would apply at step 2 is g1 + g2; in JAX that
# takes an explicit sum (jtoolkit.optim.accumulate does it on purpose):
stale = jax.tree.map(jnp.add, g1, g2)
print(f"norm of batch 2's gradient: {float(optim.global_norm(g2)):.4f}")
print(f"norm torch would use without zero_grad: {float(optim.global_norm(stale)):.4f}")


# --- 2. Weight decay on BatchNorm ------------------------------------------------
# torch (wrong): optimizer = Adam(model.parameters(), weight_decay=1e-4)
#                # also decays BatchNorm's weight and bias
# torch (right): params = [
#                    {'params': model.features.parameters(), 'weight_decay': 1e-4},
#                    {'params': model.bn.parameters(), 'weight_decay': 0}]
#                optimizer = Adam(params, lr=0.001)
class Net(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.features = models.Linear(4, 3, rngs=rngs)
        self.bn = models.BatchNorm1d(3)

    def __call__(self, x):
        return self.bn(self.features(x))


net_params = nnx.state(Net(rngs=nnx.Rngs(0)), nnx.Param)  # trainable leaves only
zero_grads = jax.tree.map(jnp.zeros_like, net_params)  # isolate the decay's effect

wrong = optim.adam(lr=0.001, weight_decay=1e-4)
right = optim.param_groups(
    optim.adam,
    [
        {"params": "features/*", "weight_decay": 1e-4},
        {"params": "bn/*", "weight_decay": 0},
    ],
    lr=0.001,
)


def one_step(tx, params, grads):
    updates, _ = tx.update(grads, tx.init(params), params)
    return optax.apply_updates(params, updates)


for name, tx in (("one group", wrong), ("param groups", right)):
    new = jax.jit(one_step, static_argnums=0)(tx, net_params, zero_grads)
    bn_moved = float(jnp.max(jnp.abs(new["bn"]["weight"] - net_params["bn"]["weight"])))
    fc_moved = float(
        jnp.max(jnp.abs(new["features"]["kernel"] - net_params["features"]["kernel"]))
    )
    print(
        f"{name}: decay moved bn.weight by {bn_moved:.4g}, "
        f"features.weight by {fc_moved:.4g}"
    )
# A predicate works too: decay only matrices (no biases, no norm parameters).
by_rank = optim.param_groups(
    optim.adamw,
    [
        {"params": lambda path, leaf: leaf.ndim > 1, "weight_decay": 1e-2},
        {"params": lambda path, leaf: leaf.ndim <= 1, "weight_decay": 0.0},
    ],
    lr=0.001,
)
rank_lrs = optim.current_lr(by_rank.init(net_params))
print("groups by rank, lrs:", [round(float(v), 6) for v in rank_lrs])

# --- 3. Scheduler step placement ----------------------------------------------------
# torch (wrong): for batch in train_loader: ...; optimizer.step(); scheduler.step()
#                # an epoch scheduler stepped every batch decays far too early
# torch (right): for epoch in range(epochs):
#                    for batch in train_loader: ...; optimizer.step()
#                    scheduler.step()
steps_per_epoch = 3
epoch_schedule = schedules.step_lr(0.1, step_size=2, gamma=0.1)  # StepLR(2, 0.1)
tx = optim.sgd(lr=schedules.per_epoch(epoch_schedule, steps_per_epoch))
w = {"w": jnp.zeros(2)}
opt_state = tx.init(w)
update = jax.jit(tx.update)
used = []
for _epoch in range(3):
    for _batch in range(steps_per_epoch):
        _, opt_state = update({"w": jnp.ones(2)}, opt_state, w)  # optimizer.step()
        used.append(float(f"{float(optim.current_lr(opt_state)):.6g}"))
print("lr per optimizer step, per_epoch(StepLR):", used)
# The torch mistake, written out, is reading the epoch schedule with the step count:
mistake = [float(f"{v:.6g}") for v in epoch_schedule(jnp.arange(9)).tolist()]
print("what stepping StepLR every batch gives:", mistake)
