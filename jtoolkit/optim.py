"""torch.optim on optax: optimizers whose parameters equal torch's step for step.

Each optimizer is a short ``optax.chain`` of small transforms with torch's argument
names, defaults and validation messages. The learning rate lives in the optimizer
state (read it with `current_lr`, the lr the last update used, or `next_lr`,
torch's ``param_group["lr"]`` after ``scheduler.step()``; write it with `set_lr`,
the twin of ``param_group["lr"] = lr``); ``lr``, SGD/RMSprop ``momentum`` and
Adam-family ``betas[0]`` may also be schedules ``count -> value`` evaluated at the
number of updates already applied (torch's scheduler stepped after each
``optimizer.step()``; OneCycleLR's momentum cycling included). ``lbfgs`` is the
exception: like torch's ``LBFGS.step(closure)`` it calls the loss function itself,
so it is an object with ``init`` and ``step(loss_fn, params, state)`` run on the
host, not an optax chain.

Example:
    >>> import optax
    >>> from jtoolkit import optim
    >>> params = {"w": jnp.array([1.0, -2.0])}
    >>> tx = optim.sgd(lr=0.1, momentum=0.9)
    >>> state = tx.init(params)
    >>> updates, state = tx.update({"w": jnp.array([0.5, 0.5])}, state, params)
    >>> [round(x, 6) for x in optax.apply_updates(params, updates)["w"].tolist()]
    [0.95, -2.05]
"""

from jtoolkit._src.optim.accumulate import accumulate
from jtoolkit._src.optim.adafactor import adafactor
from jtoolkit._src.optim.alias import (
    adadelta,
    adagrad,
    adam,
    adamax,
    adamw,
    nadam,
    radam,
    rmsprop,
    sgd,
)
from jtoolkit._src.optim.asgd import asgd
from jtoolkit._src.optim.clipping import clip_grad_norm, global_norm
from jtoolkit._src.optim.groups import param_groups
from jtoolkit._src.optim.lbfgs import LBFGS, LBFGSState, lbfgs
from jtoolkit._src.optim.lr import current_lr, next_lr, set_lr
from jtoolkit._src.optim.muon import muon
from jtoolkit._src.optim.rprop import rprop

__all__ = [
    "LBFGS",
    "LBFGSState",
    "accumulate",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "asgd",
    "clip_grad_norm",
    "current_lr",
    "global_norm",
    "lbfgs",
    "muon",
    "nadam",
    "next_lr",
    "param_groups",
    "radam",
    "rmsprop",
    "rprop",
    "set_lr",
    "sgd",
]
