"""Tutorial section "Scheduler", in jtoolkit.

Run: ``python examples/08_schedulers.py`` (CPU, a few seconds).

torch's schedulers are objects that mutate ``optimizer.param_groups[i]["lr"]`` when
``scheduler.step()`` is called. jtoolkit's are closed-form functions ``count -> lr``
(optax schedules) with torch's values: ``schedule(e)`` is the lr after ``e`` calls of
``scheduler.step()``. Pass one as the optimizer's ``lr``; ``per_epoch`` makes an
epoch schedule readable by the jitted step, which only sees its update count. The
exception is ReduceLROnPlateau, which depends on a metric: a small pure state
machine (``init``/``step``) whose lr goes into the optimizer state with ``set_lr``.
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtoolkit import losses, models, optim, schedules, train


def lrs(schedule, counts):
    """The schedule's values at ``counts``, rounded for printing.

    Schedules are jittable: one compiled program per schedule instead of one per op.
    """
    values = jax.jit(schedule)(jnp.asarray(list(counts))).tolist()
    return [float(f"{v:.6g}") for v in values]


rng = np.random.default_rng(0)
x = rng.standard_normal((16, 4)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.int32)
criterion = losses.CrossEntropyLoss()


def loss_fn(model, batch):
    inputs, target = batch
    return criterion(model(inputs), target)


# --- StepLR, stepped once per epoch ----------------------------------------------
# torch: optimizer = SGD(model.parameters(), lr=0.1)
#        scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
#        for epoch in range(100):
#            for input, target in dataloader:
#                optimizer.zero_grad(); loss_fn(model(input), target).backward()
#                optimizer.step()
#            scheduler.step()   # once per epoch
step_lr = schedules.step_lr(0.1, step_size=30, gamma=0.1)
print("StepLR at epochs 0, 29, 30, 59, 60, 90:", lrs(step_lr, [0, 29, 30, 59, 60, 90]))
# In a training loop: 2 optimizer steps per epoch; per_epoch maps step -> epoch.
steps_per_epoch = 2
optimizer = optim.sgd(lr=schedules.per_epoch(step_lr, steps_per_epoch))
state = train.TrainState.create(models.MLP([4, 8, 2], rngs=nnx.Rngs(0)), optimizer)
train_step = train.make_train_step(loss_fn, optimizer)
seen = []
for _epoch in range(32):
    for _ in range(steps_per_epoch):
        state, _ = train_step(state, (x, y))
    seen.append(float(optim.current_lr(state.opt_state)))
print("lr used in epochs 28-31:", [float(f"{v:.6g}") for v in seen[28:]])

# --- The schedulers of the tutorial's table -----------------------------------------
epochs = list(range(8))
# torch: MultiStepLR(optimizer, milestones=[2, 5], gamma=0.1)
print("MultiStepLR:", lrs(schedules.multistep_lr(0.1, milestones=[2, 5]), epochs))
# torch: ExponentialLR(optimizer, gamma=0.5)
print("ExponentialLR:", lrs(schedules.exponential_lr(0.1, gamma=0.5), epochs))
# torch: CosineAnnealingLR(optimizer, T_max=5, eta_min=0.001)  (rises again past T_max)
print("CosineAnnealingLR:", lrs(schedules.cosine_annealing_lr(0.1, 5, 0.001), epochs))
# torch: CyclicLR(optimizer, base_lr=0.01, max_lr=0.1, step_size_up=2)
cyclic = schedules.cyclic_lr(0.01, 0.1, step_size_up=2)
print("CyclicLR:", lrs(cyclic, epochs))

# --- ReduceLROnPlateau -------------------------------------------------------------
# torch: scheduler = ReduceLROnPlateau(optimizer, 'min', patience=5)
#        for epoch in range(epochs):
#            train(...); val_loss = validate(...)
#            scheduler.step(val_loss)
plateau = schedules.ReduceLROnPlateau("min", patience=5)
optimizer = optim.sgd(lr=0.1)  # a float lr, so set_lr can change it
opt_state = optimizer.init({"w": jnp.zeros(1)})
sched = plateau.init(0.1)
plateau_step = jax.jit(plateau.step)
val_losses = [1.0, 0.9, 0.8] + [0.85] * 7 + [0.7] + [0.75] * 7
history = []
for val_loss in val_losses:
    # ... train one epoch with opt_state ...
    sched = plateau_step(sched, val_loss)  # scheduler.step(val_loss)
    opt_state = optim.set_lr(opt_state, sched.lr)  # the lr for the next epoch
    history.append(float(f"{float(optim.current_lr(opt_state)):.6g}"))
print("ReduceLROnPlateau lrs:", history)

# --- OneCycleLR, stepped every batch --------------------------------------------
# torch: scheduler = OneCycleLR(optimizer, max_lr=0.01,
#                               steps_per_epoch=len(dataloader), epochs=num_epochs)
#        for epoch in range(num_epochs):
#            for batch in dataloader: ...; optimizer.step(); scheduler.step()
num_epochs, batches = 2, 5
one_cycle = schedules.one_cycle_lr(0.01, epochs=num_epochs, steps_per_epoch=batches)
print("OneCycleLR per batch:", lrs(one_cycle, range(num_epochs * batches)))
# torch's OneCycleLR also cycles SGD's momentum (Adam's beta1) between 0.85 and 0.95;
# jtoolkit's optimizers take the momentum schedule too:
momentum = schedules.one_cycle_momentum(epochs=num_epochs, steps_per_epoch=batches)
print("OneCycle momentum:", lrs(momentum, range(num_epochs * batches)))
optimizer = optim.sgd(lr=one_cycle, momentum=momentum)

# --- Tips ---------------------------------------------------------------------------
# "Call scheduler.step() once per epoch": with per_epoch the count does it for you.
# "Mind the order of several schedulers": chain them explicitly with sequential_lr
# (torch: SequentialLR(optimizer, [LinearLR(...), ExponentialLR(...)], milestones=[3]))
chained = schedules.sequential_lr(
    [
        schedules.linear_lr(0.1, start_factor=0.25, total_iters=3),
        schedules.exponential_lr(0.1, gamma=0.5),
    ],
    milestones=[3],
)
print("SequentialLR(LinearLR, ExponentialLR):", lrs(chained, epochs))
# "Save scheduler and optimizer with state_dict()": a schedule has no state; its
# count lives in the optimizer state, which train.save_checkpoint saves.

# --- Warmup to tame the first epochs ---------------------------------------------
# torch (as the tutorial writes it):
#   lr_scheduler = CosineAnnealingLR(optimizer, max_epochs=total_epochs,
#       warmup_epochs=warmup_epochs, warmup_start_lr=0.0001, eta_min=0.00001)
# torch's CosineAnnealingLR has no max_epochs / warmup_epochs / warmup_start_lr: this
# raises TypeError. The intended scheduler is Lightning-Bolts'
# LinearWarmupCosineAnnealingLR, which jtoolkit provides:
warmup_epochs, total_epochs = 5, 100
warmup_cosine = schedules.linear_warmup_cosine_annealing(
    0.001,  # the optimizer's lr (the peak)
    warmup_epochs=warmup_epochs,
    max_epochs=total_epochs,
    warmup_start_lr=0.0001,
    eta_min=0.00001,
)
print("warmup-cosine epochs 0-6:", lrs(warmup_cosine, range(7)))
print("warmup-cosine epochs 50, 99, 100:", lrs(warmup_cosine, [50, 99, 100]))
# With torch alone: SequentialLR(LinearLR(start_factor=0.1, total_iters=5),
#                               CosineAnnealingLR(T_max=95, eta_min=1e-5), [5])
torch_only = schedules.sequential_lr(
    [
        schedules.linear_lr(0.001, start_factor=0.1, total_iters=warmup_epochs),
        schedules.cosine_annealing_lr(0.001, T_max=95, eta_min=0.00001),
    ],
    milestones=[warmup_epochs],
)
print("SequentialLR warmup-cosine epochs 0-6:", lrs(torch_only, range(7)))
