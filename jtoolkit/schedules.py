"""torch.optim.lr_scheduler as closed-form, jittable schedules ``count -> lr``.

A schedule is a pure function of ``count``, the number of scheduler steps taken,
returning a float32 array shaped like ``count``; its value at ``count = e`` equals
torch's ``optimizer.param_groups[0]["lr"]`` after ``e`` calls of
``scheduler.step()`` (to ``rtol=1e-6``), at any count, under ``jax.jit`` and
``jax.vmap``, without recompiling per step. Arguments are validated when the
schedule is built. ``per_epoch`` turns an epoch schedule into an optimizer-step
schedule. ``ReduceLROnPlateau`` depends on metrics, so it is a small pure state
machine (``init``/``step``) instead.

With ``jtoolkit.optim``, a schedule is passed where torch would step a scheduler
after every ``optimizer.step()``; the optimizer evaluates it at the number of
updates already applied. torch's OneCycleLR/CyclicLR also cycle momentum, so pass
the twin too::

    lr = one_cycle_lr(0.1, epochs=10, steps_per_epoch=len(loader))
    mom = one_cycle_momentum(epochs=10, steps_per_epoch=len(loader))
    tx = jtoolkit.optim.sgd(lr=lr, momentum=mom)  # Adam: betas=(mom, 0.999)

A scheduler stepped once per epoch becomes ``per_epoch(schedule, len(loader))``.

Plot a schedule: ``python -m jtoolkit.schedules --plot cosine_annealing_lr --out
cos.png --steps 50 lr=0.1 T_max=10`` (or :func:`plot_schedule`).

Example:
    >>> from jtoolkit import schedules
    >>> lr = schedules.cosine_annealing_lr(0.1, T_max=10, eta_min=0.001)
    >>> round(float(lr(10)), 6), round(float(lr(20)), 6)
    (0.001, 0.1)
"""

from jtoolkit._src.schedules.compose import (
    chained_scheduler,
    lambda_lr,
    per_epoch,
    sequential_lr,
)
from jtoolkit._src.schedules.cyclic import (
    cyclic_lr,
    cyclic_momentum,
    one_cycle_lr,
    one_cycle_momentum,
)
from jtoolkit._src.schedules.decay import (
    constant_lr,
    cosine_annealing_lr,
    cosine_annealing_warm_restarts,
    exponential_lr,
    linear_lr,
    linear_warmup_cosine_annealing,
    multiplicative_lr,
    multistep_lr,
    polynomial_lr,
    step_lr,
    swa_lr,
)
from jtoolkit._src.schedules.numerics import Schedule
from jtoolkit._src.schedules.plateau import PlateauState, ReduceLROnPlateau
from jtoolkit._src.schedules.plot import plot_schedule

__all__ = [
    "PlateauState",
    "ReduceLROnPlateau",
    "Schedule",
    "chained_scheduler",
    "constant_lr",
    "cosine_annealing_lr",
    "cosine_annealing_warm_restarts",
    "cyclic_lr",
    "cyclic_momentum",
    "exponential_lr",
    "lambda_lr",
    "linear_lr",
    "linear_warmup_cosine_annealing",
    "multiplicative_lr",
    "multistep_lr",
    "one_cycle_lr",
    "one_cycle_momentum",
    "per_epoch",
    "plot_schedule",
    "polynomial_lr",
    "sequential_lr",
    "step_lr",
    "swa_lr",
]

if __name__ == "__main__":
    import sys

    from jtoolkit._src.schedules.plot import main

    sys.exit(main())
