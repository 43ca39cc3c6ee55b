"""Tutorial section "Optimizer", in jtoolkit.

Run: ``python examples/07_optimizers.py`` (CPU, a few seconds).

A jtoolkit optimizer is an ``optax.GradientTransformation`` whose updates equal
torch's step for step. There is no ``zero_grad()``: gradients are values returned by
``jax.grad``, not buffers that accumulate, and ``step()`` is the pure
``optimizer.update`` that returns new state (wrapped, with the forward and backward
pass, in one jitted ``train.make_train_step``). Param groups, clipping, gradient
accumulation and warmup are small transforms chained around the optimizer.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jtoolkit import losses, models, optim, schedules, train

rng = np.random.default_rng(0)
x = rng.standard_normal((32, 8)).astype(np.float32)
y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
criterion = losses.CrossEntropyLoss()


def loss_fn(model, batch):
    inputs, target = batch
    return criterion(model(inputs), target)


# --- The basic loop ---------------------------------------------------------------
# torch: optimizer = optim.Adam(model.parameters(), lr=0.001, weight_decay=1e-4)
#        for data, target in train_loader:
#            optimizer.zero_grad(); loss = criterion(model(data), target)
#            loss.backward(); optimizer.step()
optimizer = optim.adam(lr=0.001, weight_decay=1e-4)
state = train.TrainState.create(models.MLP([8, 16, 2], rngs=nnx.Rngs(0)), optimizer)
train_step = train.make_train_step(loss_fn, optimizer)
for _ in range(5):
    state, metrics = train_step(state, (x, y))
print(f"adam, 5 steps: loss {float(metrics['loss']):.4f}, step {int(state.step)}")

# torch: optim.Adam(params=model.parameters(), lr=0.001, betas=(0.9, 0.999),
#                   weight_decay=0.01, amsgrad=False)   -- the same keywords:
optimizer = optim.adam(lr=0.001, betas=(0.9, 0.999), weight_decay=0.01, amsgrad=False)

# --- The optimizer table: SGD, Momentum, Adam, RMSprop, Adagrad, Adadelta ---------
# Five steps on f(w) = sum((w - t)**2) from w = [1, -2, 3]; the values equal torch's.
w0 = jnp.array([1.0, -2.0, 3.0])
t = jnp.array([0.5, 0.5, -0.5])


def quadratic(w):
    return jnp.sum((w - t) ** 2)


table = {
    "SGD": optim.sgd(lr=0.1),
    "SGD(momentum=0.9)": optim.sgd(lr=0.1, momentum=0.9),
    "Adam": optim.adam(lr=0.1),
    "RMSprop": optim.rmsprop(lr=0.01),
    "Adagrad": optim.adagrad(lr=0.1),
    "Adadelta": optim.adadelta(lr=1.0),
}


def five_steps(tx, w):
    """optimizer.zero_grad(); loss.backward(); optimizer.step() -- five times."""
    opt_state = tx.init(w)
    for _ in range(5):
        updates, opt_state = tx.update(jax.grad(quadratic)(w), opt_state, w)
        w = optax.apply_updates(w, updates)
    return w


for name, tx in table.items():
    w = jax.jit(five_steps, static_argnums=0)(tx, w0)  # one compiled program
    print(f"{name} after 5 steps: {[round(v, 5) for v in w.tolist()]}")


# --- Different learning rates per layer (param groups) ----------------------------
# torch: optimizer = optim.SGD([
#            {'params': model.base.parameters(), 'lr': 0.001},
#            {'params': model.classifier.parameters(), 'lr': 0.01}], momentum=0.9)
#        scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
class Net(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.base = models.Linear(8, 16, rngs=rngs)
        self.classifier = models.Linear(16, 2, rngs=rngs)

    def __call__(self, x):
        return self.classifier(jax.nn.relu(self.base(x)))


# A group's "params" is a pattern over parameter paths ("base/kernel", ...). StepLR is
# an epoch schedule per group; per_epoch turns it into an optimizer-step schedule.
steps_per_epoch = 2
groups = [
    {
        "params": "base/*",
        "lr": schedules.per_epoch(
            schedules.step_lr(0.001, step_size=30, gamma=0.1), steps_per_epoch
        ),
    },
    {
        "params": "classifier/*",
        "lr": schedules.per_epoch(
            schedules.step_lr(0.01, step_size=30, gamma=0.1), steps_per_epoch
        ),
    },
]
grouped = optim.param_groups(optim.sgd, groups, momentum=0.9)
state = train.TrainState.create(Net(rngs=nnx.Rngs(0)), grouped)
start_lrs = [round(float(v), 6) for v in optim.current_lr(state.opt_state)]
print("group lrs at start:", start_lrs)
grouped_step = train.make_train_step(loss_fn, grouped)
for _ in range(31 * steps_per_epoch):  # 31 epochs of 2 steps on the same batch
    state, metrics = grouped_step(state, (x, y))
lrs = [round(float(v), 6) for v in optim.current_lr(state.opt_state)]
print("group lrs in epoch 30 (after StepLR's first decay):", lrs)

# --- Gradient clipping ------------------------------------------------------------
# torch: torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
#        optimizer.step()
clipped = optax.chain(optim.clip_grad_norm(max_norm=1.0), optim.sgd(lr=0.1))
grads = {"w": jnp.array([3.0, 4.0])}
updates, clip_state = clipped.update(grads, clipped.init(grads))
print(
    f"clip_grad_norm: total norm {float(clip_state[0].total_norm):.4f}, "
    f"update {[round(v, 6) for v in updates['w'].tolist()]}"
)

# --- Learning-rate warmup ---------------------------------------------------------
# torch: warmup_epochs = 5
#        for epoch in range(epochs):
#            lr = base_lr * min(epoch / warmup_epochs, 1.0)
#            for param_group in optimizer.param_groups: param_group['lr'] = lr
base_lr, warmup_epochs = 0.1, 5
tx = optim.sgd(lr=base_lr)
opt_state = tx.init(w0)
manual = []
for epoch in range(7):
    lr = base_lr * min(epoch / warmup_epochs, 1.0)
    opt_state = optim.set_lr(opt_state, lr)  # param_group['lr'] = lr (a new state)
    manual.append(round(float(optim.current_lr(opt_state)), 6))
print("manual warmup lrs:", manual)
# The same as a closed-form schedule (no mutation; usable inside the jitted step):
warmup = schedules.lambda_lr(base_lr, lambda e: jnp.minimum(e / warmup_epochs, 1.0))
print("lambda_lr warmup lrs:", [round(v, 6) for v in warmup(jnp.arange(7)).tolist()])

# --- Gradient accumulation (when memory is short) ---------------------------------
# torch: accumulation_steps = 4
#        for i, (data, target) in enumerate(train_loader):
#            loss = criterion(model(data), target) / accumulation_steps; loss.backward()
#            if (i+1) % accumulation_steps == 0: optimizer.step(); optimizer.zero_grad()
accumulation_steps = 4
model = models.MLP([8, 16, 2], rngs=nnx.Rngs(0))
accumulating = optim.accumulate(optim.sgd(lr=0.1), every_k=accumulation_steps)
state = train.TrainState.create(model, accumulating)
acc_step = train.make_train_step(loss_fn, accumulating)
for i in range(accumulation_steps):  # four micro-batches of 8
    state, _ = acc_step(state, (x[8 * i : 8 * i + 8], y[8 * i : 8 * i + 8]))
# ... equals one step on the whole batch of 32 (the mean of the four mean losses)
big = train.TrainState.create(model, optim.sgd(lr=0.1))
big, _ = train.make_train_step(loss_fn, optim.sgd(lr=0.1))(big, (x, y))
gaps = jax.tree.map(lambda a, b: jnp.max(jnp.abs(a - b)), state.params, big.params)
diff = max(float(g) for g in jax.tree.leaves(gaps))
print(f"accumulate(4) vs one big batch: max |diff| {diff:.1e}")

# --- Mixed precision --------------------------------------------------------------
# torch: scaler = torch.cuda.amp.GradScaler()
#        with torch.cuda.amp.autocast(): output = model(data); loss = criterion(...)
#        scaler.scale(loss).backward(); scaler.step(optimizer); scaler.update()
# (torch.cuda.amp.* is deprecated for torch.amp.GradScaler("cuda") / autocast("cuda").)
# jtoolkit: a precision for the step. bf16 needs no loss scaling; fp16 takes
# loss_scale=True (GradScaler's dynamic scale: skip the step on inf/nan, back off,
# grow every 2000 good steps). Master weights and optimizer state stay float32.
optimizer = optim.adam(lr=0.01)
for precision, scale in (("bf16", False), ("fp16", True)):
    state = train.TrainState.create(
        models.MLP([8, 16, 2], rngs=nnx.Rngs(0)), optimizer, loss_scale=scale
    )
    mp_step = train.make_train_step(loss_fn, optimizer, precision=precision)
    first = None
    for _ in range(20):
        state, metrics = mp_step(state, (x, y))
        first = float(metrics["loss"]) if first is None else first
    dtypes = sorted({str(p.dtype) for p in jax.tree.leaves(state.params)})
    extra = f", loss scale {float(metrics['loss_scale']):.0f}" if scale else ""
    print(
        f"{precision}: loss {first:.3f} -> {float(metrics['loss']):.3f}, "
        f"weights {dtypes}{extra}"
    )
