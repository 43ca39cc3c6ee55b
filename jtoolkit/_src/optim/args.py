"""Argument checks shared by the `jtoolkit.optim` factories (torch's messages)."""

from __future__ import annotations

from collections.abc import Sequence

import optax

from jtoolkit._src.optim.schedulable import Schedulable

__all__ = ["check", "check_adam_args", "check_betas", "check_nonneg", "coupled_decay"]


def check(ok: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``ok`` (torch raises at construction)."""
    if not ok:
        raise ValueError(message)


def check_nonneg(name: str, value: Schedulable) -> None:
    """torch's ``if not 0.0 <= value`` check, ``"Invalid <name>: <value>"``.

    ``name`` is torch's phrase: ``"learning rate"``, ``"epsilon value"``,
    ``"weight_decay value"``. A schedule is not checked.
    """
    if not callable(value):
        check(0.0 <= value, f"Invalid {name}: {value}")


def check_betas(betas: Sequence[Schedulable]) -> tuple[Schedulable, float]:
    """torch's beta range checks; beta1 may be a schedule, beta2 may not."""
    check(
        len(betas) == 2,
        f"betas must be a pair (beta1, beta2), got {betas!r}",
    )
    b1, b2 = betas
    if not callable(b1):
        check(0.0 <= b1 < 1.0, f"Invalid beta parameter at index 0: {b1}")
    if callable(b2):
        raise ValueError(
            "betas[1] must be a float; only betas[0] may be a schedule (as OneCycleLR "
            "cycles it)"
        )
    check(0.0 <= b2 < 1.0, f"Invalid beta parameter at index 1: {b2}")
    return b1, float(b2)


def check_adam_args(
    lr: Schedulable, betas: Sequence[Schedulable], eps: float, weight_decay: float
) -> tuple[Schedulable, float]:
    """torch's checks shared by the Adam family, in torch's order; returns the betas."""
    check_nonneg("learning rate", lr)
    check_nonneg("epsilon value", eps)
    b1, b2 = check_betas(betas)
    check_nonneg("weight_decay value", weight_decay)
    return b1, b2


def coupled_decay(weight_decay: float) -> optax.GradientTransformation:
    """torch's L2 penalty ``g + wd * p``, applied before the optimizer's scaling."""
    return optax.add_decayed_weights(weight_decay) if weight_decay else optax.identity()
