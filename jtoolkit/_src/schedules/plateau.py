"""ReduceLROnPlateau as a pure, jittable state machine over a NamedTuple state."""

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_int, check_positive

__all__ = ["PlateauState", "ReduceLROnPlateau"]


class PlateauState(NamedTuple):
    """torch's ReduceLROnPlateau bookkeeping as a pytree of scalar arrays.

    Attributes:
        lr: the learning rate to use from the next optimizer step on (float32).
        best: best metric so far (float32; ``+inf``/``-inf`` before the first step).
        num_bad_epochs: epochs since the last improvement (int32).
        cooldown_counter: epochs of cooldown left (int32).
        last_epoch: number of ``step`` calls so far (int32).
    """

    lr: jax.Array
    best: jax.Array
    num_bad_epochs: jax.Array
    cooldown_counter: jax.Array
    last_epoch: jax.Array


@dataclasses.dataclass(frozen=True)
class ReduceLROnPlateau:
    """Reduce the lr by ``factor`` when a metric plateaus for ``patience`` epochs.

    torch: ``torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode, factor,
    patience, threshold, threshold_mode, cooldown, min_lr, eps)`` with torch's exact
    decisions: improvement is ``metric < best * (1 - threshold)`` (``min``/``rel``;
    ``best - threshold`` for ``abs``, mirrored for ``max``); a reduction happens
    after ``patience + 1`` bad epochs, to ``max(lr * factor, min_lr)``, only if that
    changes the lr by more than ``eps``; bad epochs are ignored during ``cooldown``.
    Unlike optax's ``contrib.reduce_on_plateau`` (a transform that rescales the
    update that supplied the value), the new lr applies from the next step, as in
    torch. ``init`` and ``step`` are pure and jittable; the object holds only
    Python hyperparameters.

    Drive an optimizer per epoch on a validation metric through
    ``jtoolkit.optim.set_lr`` (the optimizer built with a float ``lr``)::

        plateau = ReduceLROnPlateau("min", patience=5)
        sched = plateau.init(1e-3)
        opt = jtoolkit.optim.adam(lr=1e-3)
        opt_state = opt.init(params)
        step_fn = jax.jit(plateau.step)
        for epoch in range(epochs):
            params, opt_state = train_one_epoch(params, opt_state)
            sched = step_fn(sched, validate(params))        # scheduler.step(val_loss)
            opt_state = jtoolkit.optim.set_lr(opt_state, sched.lr)

    Args:
        mode: ``"min"`` (metric should decrease) or ``"max"``.
        factor: multiplier of the lr at a reduction, in ``[0, 1)``.
        patience: bad epochs tolerated before reducing (int ``>= 0``).
        threshold: minimal significant change.
        threshold_mode: ``"rel"`` (relative to ``best``) or ``"abs"``.
        cooldown: epochs to wait after a reduction before counting bad epochs.
        min_lr: lower bound of the lr.
        eps: a reduction smaller than ``eps`` is skipped.

    Raises:
        ValueError: ``factor >= 1.0`` (torch's "Factor should be < 1.0."), a
            negative factor, unknown ``mode``/``threshold_mode``, negative
            ``patience``/``cooldown``/``min_lr``.

    Example:
        >>> plateau = ReduceLROnPlateau(patience=1, factor=0.5)
        >>> state = plateau.init(1.0)
        >>> for metric in [3.0, 2.0, 2.5, 2.5, 2.4]:
        ...     state = plateau.step(state, metric)
        >>> float(state.lr), int(state.num_bad_epochs)
        (0.5, 1)
    """

    mode: str = "min"
    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    cooldown: int = 0
    min_lr: float = 0.0
    eps: float = 1e-8

    def __post_init__(self) -> None:
        if self.factor >= 1.0:
            raise ValueError(f"Factor should be < 1.0, but got factor={self.factor!r}.")
        check_positive("factor", self.factor, fn="ReduceLROnPlateau", allow_zero=True)
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode {self.mode!r} is unknown! Expected 'min' or 'max'.")
        if self.threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"threshold mode {self.threshold_mode!r} is unknown! Expected 'rel' "
                "or 'abs'."
            )
        check_int("patience", self.patience, fn="ReduceLROnPlateau", minimum=0)
        check_int("cooldown", self.cooldown, fn="ReduceLROnPlateau", minimum=0)
        check_positive("min_lr", self.min_lr, fn="ReduceLROnPlateau", allow_zero=True)

    def init(self, lr: ArrayLike) -> PlateauState:
        """Return the state before the first ``step``: torch's state at construction.

        Args:
            lr: the optimizer's learning rate (scalar).

        Returns:
            A :class:`PlateauState` with ``best`` at the worst value for ``mode``.
        """
        worst = np.inf if self.mode == "min" else -np.inf
        zero = jnp.zeros((), jnp.int32)
        return PlateauState(
            lr=jnp.asarray(lr, jnp.float32),
            best=jnp.asarray(worst, jnp.float32),
            num_bad_epochs=zero,
            cooldown_counter=zero,
            last_epoch=zero,
        )

    def _is_better(self, metric: jax.Array, best: jax.Array) -> jax.Array:
        sign = 1.0 if self.mode == "max" else -1.0
        if self.threshold_mode == "rel":
            bar = best * np.float32(1.0 + sign * self.threshold)
        else:
            bar = best + np.float32(sign * self.threshold)
        return metric > bar if self.mode == "max" else metric < bar

    def step(self, state: PlateauState, metric: ArrayLike) -> PlateauState:
        """Feed one epoch's metric; return the next state (``state.lr`` is the new lr).

        torch: ``scheduler.step(metric)``.

        Args:
            state: the current :class:`PlateauState`.
            metric: scalar validation metric (e.g. the loss).

        Returns:
            The next :class:`PlateauState`.
        """
        metric = jnp.asarray(metric, jnp.float32)
        better = self._is_better(metric, state.best)
        best = jnp.where(better, metric, state.best)
        bad = jnp.where(better, 0, state.num_bad_epochs + 1)
        cooling = state.cooldown_counter > 0
        cooldown = jnp.where(
            cooling, state.cooldown_counter - 1, state.cooldown_counter
        )
        bad = jnp.where(cooling, 0, bad)
        reduce = bad > self.patience
        new_lr = jnp.maximum(
            state.lr * np.float32(self.factor), np.float32(self.min_lr)
        )
        changed = reduce & (state.lr - new_lr > np.float32(self.eps))
        return PlateauState(
            lr=jnp.where(changed, new_lr, state.lr),
            best=best,
            num_bad_epochs=jnp.where(reduce, 0, bad).astype(jnp.int32),
            cooldown_counter=jnp.where(reduce, self.cooldown, cooldown).astype(
                jnp.int32
            ),
            last_epoch=state.last_epoch + 1,
        )
