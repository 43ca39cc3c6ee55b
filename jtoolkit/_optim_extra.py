"""torch's Adamax, NAdam and RAdam as optax chains (re-exported by `jtoolkit.optim`)."""

from __future__ import annotations

from collections.abc import Sequence

import optax

from jtoolkit._optim_adam import (
    scale_by_torch_adamax,
    scale_by_torch_nadam,
    scale_by_torch_radam,
)
from jtoolkit._optim_checks import check_adam_args, check_nonneg, coupled_decay
from jtoolkit._optim_transforms import Schedulable, maximize_sign, scale_by_torch_lr

__all__ = ["adamax", "nadam", "radam"]


def adamax(
    lr: Schedulable = 2e-3,
    betas: Sequence[Schedulable] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Adamax (Adam with the infinity norm), torch's eps placement.

    torch: ``torch.optim.Adamax``: ``u = max(beta2 * u, |g| + eps)``,
    ``p -= lr / bc1 * m / u``.

    Args:
        lr: learning rate, a float or a schedule ``count -> lr``.
        betas: ``(beta1, beta2)``; beta1 may be a schedule ``count -> beta1``.
        eps: added to ``|g|`` inside the maximum.
        weight_decay: L2 penalty added to the gradient.
        maximize: ascend the objective instead of descending it.

    Returns:
        An ``optax.GradientTransformation``.

    Raises:
        ValueError: torch's messages, e.g. ``Invalid epsilon value: -1.0``.

    Example:
        >>> tx = adamax(lr=0.1)
        >>> u, _ = tx.update({"w": jnp.ones(1)}, tx.init({"w": jnp.zeros(1)}))
        >>> [round(x, 6) for x in u["w"].tolist()]
        [-0.1]
    """
    b1, b2 = check_adam_args(lr, betas, eps, weight_decay)
    return optax.chain(
        maximize_sign(maximize),
        coupled_decay(weight_decay),
        scale_by_torch_adamax(b1, b2, eps),
        scale_by_torch_lr(lr),
    )


def _decay_chain(
    scaling: optax.GradientTransformation,
    lr: Schedulable,
    weight_decay: float,
    maximize: bool,
    decoupled: bool,
) -> optax.GradientTransformation:
    """maximize -> coupled L2 | scaling -> decoupled decay -> ``-lr``."""
    decay = coupled_decay(weight_decay)
    return optax.chain(
        maximize_sign(maximize),
        optax.identity() if decoupled else decay,
        scaling,
        decay if decoupled else optax.identity(),
        scale_by_torch_lr(lr),
    )


def nadam(
    lr: Schedulable = 2e-3,
    betas: Sequence[Schedulable] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """NAdam with torch's momentum-decay schedule ``mu_t`` (optax's nadam differs).

    torch: ``torch.optim.NAdam``: ``mu_t = beta1 (1 - 0.5 * 0.96^(t psi))``,
    ``p -= lr (1-mu_t)/(1-prod mu) g/denom + lr mu_{t+1}/(1-prod mu) m/denom``
    with ``denom = sqrt(v / bc2) + eps``.

    Args:
        lr: learning rate, a float or a schedule ``count -> lr``.
        betas: ``(beta1, beta2)``; beta1 may be a schedule ``count -> beta1``.
        eps: added to the denominator after the square root.
        weight_decay: L2 penalty (decoupled when ``decoupled_weight_decay``).
        momentum_decay: ``psi`` in ``mu_t``.
        decoupled_weight_decay: AdamW-style decay ``p *= 1 - lr * weight_decay``.
        maximize: ascend the objective instead of descending it.

    Returns:
        An ``optax.GradientTransformation``.

    Raises:
        ValueError: torch's messages, e.g. ``Invalid momentum_decay value: -1``.

    Example:
        >>> tx = nadam(lr=0.1)
        >>> u, _ = tx.update({"w": jnp.ones(1)}, tx.init({"w": jnp.zeros(1)}))
        >>> [round(x, 4) for x in u["w"].tolist()]
        [-0.1056]
    """
    b1, b2 = check_adam_args(lr, betas, eps, weight_decay)
    check_nonneg(momentum_decay, "Invalid momentum_decay value")
    scaling = scale_by_torch_nadam(b1, b2, eps, momentum_decay)
    return _decay_chain(scaling, lr, weight_decay, maximize, decoupled_weight_decay)


def radam(
    lr: Schedulable = 1e-3,
    betas: Sequence[Schedulable] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Rectified Adam: SGD with momentum until ``rho_t > 5``, then rectified Adam.

    torch: ``torch.optim.RAdam``.

    Args:
        lr: learning rate, a float or a schedule ``count -> lr``.
        betas: ``(beta1, beta2)``; beta1 may be a schedule ``count -> beta1``.
        eps: added to ``sqrt(v)``.
        weight_decay: L2 penalty (decoupled when ``decoupled_weight_decay``).
        decoupled_weight_decay: AdamW-style decay ``p *= 1 - lr * weight_decay``.
        maximize: ascend the objective instead of descending it.

    Returns:
        An ``optax.GradientTransformation``.

    Raises:
        ValueError: torch's messages, e.g. ``Invalid beta parameter at index 1: 1.0``.

    Example:
        >>> tx = radam(lr=0.1)
        >>> u, _ = tx.update({"w": jnp.ones(1)}, tx.init({"w": jnp.zeros(1)}))
        >>> [round(x, 6) for x in u["w"].tolist()]
        [-0.1]
    """
    b1, b2 = check_adam_args(lr, betas, eps, weight_decay)
    scaling = scale_by_torch_radam(b1, b2, eps)
    return _decay_chain(scaling, lr, weight_decay, maximize, decoupled_weight_decay)
