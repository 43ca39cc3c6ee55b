"""torch's optimizers (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, NAdam,
RAdam) as short optax chains of torch-exact transforms.
"""

from __future__ import annotations

from collections.abc import Sequence

import optax

from jtoolkit._src.optim.adam import (
    scale_by_torch_adam,
    scale_by_torch_adamax,
    scale_by_torch_nadam,
    scale_by_torch_radam,
)
from jtoolkit._src.optim.args import check, check_adam_args, check_nonneg, coupled_decay
from jtoolkit._src.optim.lr import scale_by_torch_lr
from jtoolkit._src.optim.schedulable import Schedulable
from jtoolkit._src.optim.transforms import (
    maximize_sign,
    scale_by_lr_decay,
    scale_by_torch_adadelta,
    scale_by_torch_rms,
    scale_by_torch_rss,
    torch_momentum,
)

__all__ = [
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "nadam",
    "radam",
    "rmsprop",
    "sgd",
]


def _torch_chain(
    lr: Schedulable,
    weight_decay: float,
    maximize: bool,
    *scaling: optax.GradientTransformation,
    decoupled: bool = False,
) -> optax.GradientTransformation:
    """torch's order: maximize -> L2 | ``scaling`` -> decoupled decay -> ``-lr``.

    Every optimizer here is this chain; only ``scaling`` (and for NAdam/Adam(W)
    whether weight decay is coupled) differs.
    """
    decay = coupled_decay(weight_decay)
    return optax.chain(
        maximize_sign(maximize),
        optax.identity() if decoupled else decay,
        *scaling,
        decay if decoupled else optax.identity(),
        scale_by_torch_lr(lr),
    )


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
    return _torch_chain(lr, weight_decay, maximize, scale_by_torch_adamax(b1, b2, eps))


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
    check_nonneg("momentum_decay value", momentum_decay)
    scaling = scale_by_torch_nadam(b1, b2, eps, momentum_decay)
    return _torch_chain(
        lr, weight_decay, maximize, scaling, decoupled=decoupled_weight_decay
    )


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
    return _torch_chain(
        lr, weight_decay, maximize, scaling, decoupled=decoupled_weight_decay
    )


def sgd(
    lr: Schedulable = 1e-3,
    momentum: Schedulable = 0,
    dampening: float = 0,
    weight_decay: float = 0,
    nesterov: bool = False,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Stochastic gradient descent with torch's momentum buffer.

    torch: ``torch.optim.SGD``. ``buf = g`` on the first step, then
    ``buf = momentum * buf + (1 - dampening) * g``; ``g + momentum * buf`` with
    nesterov; coupled weight decay ``g + weight_decay * p``.

    Args:
        lr: learning rate, a float or a schedule ``count -> lr``.
        momentum: momentum factor, a float or a schedule ``count -> momentum``.
        dampening: dampening for momentum (not applied on the first step).
        weight_decay: L2 penalty added to the gradient.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: ascend the objective instead of descending it.

    Returns:
        An ``optax.GradientTransformation``; params and grads are any pytree of
        float arrays.

    Raises:
        ValueError: torch's messages, e.g. ``Invalid learning rate: -1.0``.

    Example:
        >>> tx = sgd(lr=0.1)
        >>> u, _ = tx.update({"w": jnp.ones(2)}, tx.init({"w": jnp.zeros(2)}))
        >>> u["w"].tolist()
        [-0.10000000149011612, -0.10000000149011612]
    """
    check_nonneg("learning rate", lr)
    check_nonneg("momentum value", momentum)
    check_nonneg("weight_decay value", weight_decay)
    has_momentum = callable(momentum) or momentum > 0
    check(
        not nesterov or (has_momentum and dampening == 0),
        "Nesterov momentum requires a momentum and zero dampening",
    )
    return _torch_chain(
        lr,
        weight_decay,
        maximize,
        torch_momentum(momentum, dampening, nesterov)
        if has_momentum
        else optax.identity(),
    )


def adam(
    lr: Schedulable = 1e-3,
    betas: Sequence[Schedulable] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
) -> optax.GradientTransformation:
    """Adam with torch's bias correction, eps placement and coupled weight decay.

    torch: ``torch.optim.Adam``. ``p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)``;
    ``weight_decay`` is an L2 penalty added to the gradient (use `adamw` for
    decoupled decay); ``amsgrad`` keeps the maximum of the raw ``v``.

    Args:
        lr: learning rate, a float or a schedule ``count -> lr``.
        betas: ``(beta1, beta2)``; beta1 may be a schedule ``count -> beta1``.
        eps: added to the denominator after the square root.
        weight_decay: L2 penalty added to the gradient.
        amsgrad: use the AMSGrad variant.
        maximize: ascend the objective instead of descending it.
        decoupled_weight_decay: torch 2.13's flag: decay ``p *= 1 - lr * wd``
            instead of the L2 penalty, i.e. `adamw`.

    Returns:
        An ``optax.GradientTransformation``.

    Raises:
        ValueError: torch's messages, e.g. ``Invalid beta parameter at index 0: 1.0``.

    Example:
        >>> tx = adam(lr=0.1)
        >>> u, _ = tx.update({"w": jnp.ones(2)}, tx.init({"w": jnp.zeros(2)}))
        >>> [round(x, 6) for x in u["w"].tolist()]
        [-0.1, -0.1]
    """
    b1, b2 = check_adam_args(lr, betas, eps, weight_decay)
    scaling = scale_by_torch_adam(b1, b2, eps, amsgrad)
    return _torch_chain(
        lr, weight_decay, maximize, scaling, decoupled=decoupled_weight_decay
    )


def adamw(
    lr: Schedulable = 1e-3,
    betas: Sequence[Schedulable] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Adam with decoupled weight decay ``p *= 1 - lr * weight_decay`` (torch default).

    torch: ``torch.optim.AdamW`` (weight_decay defaults to 1e-2, optax's to 1e-4).

    Args:
        lr: learning rate, a float or a schedule ``count -> lr``.
        betas: ``(beta1, beta2)``; beta1 may be a schedule ``count -> beta1``.
        eps: added to the denominator after the square root.
        weight_decay: decoupled decay coefficient.
        amsgrad: use the AMSGrad variant.
        maximize: ascend the objective instead of descending it.

    Returns:
        An ``optax.GradientTransformation``.

    Raises:
        ValueError: torch's messages, e.g. ``Invalid weight_decay value: -0.1``.

    Example:
        >>> tx = adamw(lr=0.1, weight_decay=0.5)
        >>> p = {"w": jnp.ones(1)}
        >>> u, _ = tx.update({"w": jnp.zeros(1)}, tx.init(p), p)
        >>> [round(x, 6) for x in u["w"].tolist()]
        [-0.05]
    """
    b1, b2 = check_adam_args(lr, betas, eps, weight_decay)
    scaling = scale_by_torch_adam(b1, b2, eps, amsgrad)
    return _torch_chain(lr, weight_decay, maximize, scaling, decoupled=True)


def rmsprop(
    lr: Schedulable = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0,
    momentum: Schedulable = 0,
    centered: bool = False,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """RMSprop with torch's decay 0.99, eps after the sqrt and lr after momentum.

    torch: ``torch.optim.RMSprop`` (optax's defaults differ: decay 0.9, eps inside
    the square root, lr applied before the momentum buffer).

    Args:
        lr: learning rate, a float or a schedule ``count -> lr``.
        alpha: smoothing constant of the squared-gradient average.
        eps: added to the denominator after the square root.
        weight_decay: L2 penalty added to the gradient.
        momentum: momentum factor, a float or a schedule ``count -> momentum``.
        centered: normalise by the estimated variance of the gradient.
        maximize: ascend the objective instead of descending it.

    Returns:
        An ``optax.GradientTransformation``.

    Raises:
        ValueError: torch's messages, e.g. ``Invalid alpha value: -0.5``.

    Example:
        >>> tx = rmsprop(lr=0.01)
        >>> u, _ = tx.update({"w": jnp.ones(1)}, tx.init({"w": jnp.zeros(1)}))
        >>> [round(x, 5) for x in u["w"].tolist()]
        [-0.1]
    """
    check_nonneg("learning rate", lr)
    check_nonneg("epsilon value", eps)
    check_nonneg("momentum value", momentum)
    check_nonneg("weight_decay value", weight_decay)
    check_nonneg("alpha value", alpha)
    has_momentum = callable(momentum) or momentum > 0
    return _torch_chain(
        lr,
        weight_decay,
        maximize,
        scale_by_torch_rms(alpha, eps, centered),
        torch_momentum(momentum) if has_momentum else optax.identity(),
    )


def adagrad(
    lr: Schedulable = 1e-2,
    lr_decay: float = 0,
    weight_decay: float = 0,
    initial_accumulator_value: float = 0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Adagrad with torch's accumulator start 0, eps after the sqrt and ``lr_decay``.

    torch: ``torch.optim.Adagrad``: ``p -= lr / (1 + (t-1) lr_decay) * g /
    (sqrt(sum g^2) + eps)`` (optax starts the sum at 0.1 and puts eps inside).

    Args:
        lr: learning rate, a float or a schedule ``count -> lr``.
        lr_decay: learning-rate decay per step.
        weight_decay: L2 penalty added to the gradient.
        initial_accumulator_value: start value of the sum of squares.
        eps: added to the denominator after the square root.
        maximize: ascend the objective instead of descending it.

    Returns:
        An ``optax.GradientTransformation``.

    Raises:
        ValueError: torch's messages, e.g. ``Invalid lr_decay value: -1``.

    Example:
        >>> tx = adagrad(lr=0.1)
        >>> u, _ = tx.update({"w": jnp.full(1, 2.0)}, tx.init({"w": jnp.zeros(1)}))
        >>> [round(x, 6) for x in u["w"].tolist()]
        [-0.1]
    """
    check_nonneg("learning rate", lr)
    check_nonneg("lr_decay value", lr_decay)
    check_nonneg("weight_decay value", weight_decay)
    check_nonneg("initial_accumulator_value value", initial_accumulator_value)
    check_nonneg("epsilon value", eps)
    return _torch_chain(
        lr,
        weight_decay,
        maximize,
        scale_by_torch_rss(initial_accumulator_value, eps),
        scale_by_lr_decay(lr_decay),
    )


def adadelta(
    lr: Schedulable = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Adadelta with torch's defaults (lr 1.0: optax's default lr None ascends).

    torch: ``torch.optim.Adadelta``.

    Args:
        lr: coefficient scaling delta, a float or a schedule ``count -> lr``.
        rho: running-average coefficient.
        eps: added inside both square roots.
        weight_decay: L2 penalty added to the gradient.
        maximize: ascend the objective instead of descending it.

    Returns:
        An ``optax.GradientTransformation``.

    Raises:
        ValueError: torch's messages, e.g. ``Invalid rho value: 1.5``.

    Example:
        >>> tx = adadelta()
        >>> u, _ = tx.update({"w": jnp.ones(1)}, tx.init({"w": jnp.zeros(1)}))
        >>> [round(x, 6) for x in u["w"].tolist()]
        [-0.003162]
    """
    check_nonneg("learning rate", lr)
    check(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
    check_nonneg("epsilon value", eps)
    check_nonneg("weight_decay value", weight_decay)
    return _torch_chain(lr, weight_decay, maximize, scale_by_torch_adadelta(rho, eps))
