"""``TrainState``: the model, optimizer state, step and PRNG key as one pytree."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx, struct

from jtoolkit._src.train.model_state import (
    ModelState,
    split_params,
)
from jtoolkit._src.train.precision import (
    LossScaleState,
    init_loss_scale,
)

__all__ = ["TrainState"]


@struct.dataclass
class TrainState:
    """Everything a training run carries between steps, as one pytree.

    The twin of torch's ``(model, optimizer, global_step, torch RNG state)`` quadruple.
    ``model`` is the model's full NNX state (parameters, BatchNorm statistics, RNG
    streams) as a ``ModelState``: a dict-like pytree of arrays with the static
    ``GraphDef``; ``state.model(x)`` runs inference, ``state.module()`` rebuilds the
    ``nnx.Module``.

    Attributes:
        model: ``ModelState`` (nested dict of arrays + static ``GraphDef``).
        opt_state: the optax state of ``optimizer.init(params)`` (nested dicts).
        step: int32 scalar, optimizer steps taken.
        key: typed PRNG key; split every step to reseed the model's RNG streams
            (Dropout), so the randomness depends only on ``seed`` and ``step``
            (unchanged for models that draw no random numbers).
        loss_scale: ``LossScaleState`` for fp16 dynamic loss scaling, else ``None``.
    """

    model: Any
    opt_state: Any
    step: jax.Array
    key: jax.Array
    loss_scale: LossScaleState | None = None

    if TYPE_CHECKING:  # added by ``flax.struct.dataclass`` at run time

        def replace(self, **changes: Any) -> TrainState: ...

    @classmethod
    def create(
        cls,
        model: nnx.Module,
        optimizer: optax.GradientTransformation,
        seed: int = 0,
        *,
        loss_scale: bool | float = False,
    ) -> TrainState:
        """Split ``model`` once and initialise the optimizer on its parameters.

        The twin of building ``model`` and ``torch.optim.X(model.parameters())`` then
        ``torch.manual_seed(seed)``.

        Args:
            model: an ``nnx.Module`` (left untouched).
            optimizer: an ``optax.GradientTransformation`` (``jtoolkit.optim.adam``).
            seed: int seed of the step key (dropout masks).
            loss_scale: ``True`` (initial scale 2**16, as ``torch.amp.GradScaler``) or
                an initial scale as a float to enable dynamic loss scaling (fp16).

        Returns:
            A ``TrainState`` with ``step == 0``.

        Raises:
            TypeError: ``model`` is not an ``nnx.Module`` or ``optimizer`` has no
                ``init``/``update``.

        Example:
            >>> import optax
            >>> from flax import nnx
            >>> model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
            >>> state = TrainState.create(model, optax.sgd(0.1))
            >>> int(state.step), sorted(state.model)
            (0, ['bias', 'kernel'])
        """
        if not isinstance(model, nnx.Module):
            raise TypeError(
                f"TrainState.create expects an nnx.Module, got {type(model).__name__}"
            )
        if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
            raise TypeError(
                "optimizer must be an optax.GradientTransformation (with init and "
                f"update), got {type(optimizer).__name__}"
            )
        graphdef, full = nnx.split(model)
        # Copies: the step donates its input buffers, which must not be the model's.
        pure = jax.tree.map(jnp.copy, nnx.to_pure_dict(full))
        params, _ = split_params(graphdef, pure)
        scale = None
        if loss_scale:
            init = 2.0**16 if loss_scale is True else float(loss_scale)
            scale = init_loss_scale(init)
        state = cls(
            model=ModelState(graphdef, pure),
            opt_state=optimizer.init(params),
            step=jnp.zeros((), jnp.int32),
            key=jax.random.key(seed),
            loss_scale=scale,
        )
        return _unaliased(state)

    @property
    def graphdef(self) -> Any:
        """The model's static ``nnx.GraphDef``."""
        return self.model.graphdef

    def module(self) -> nnx.Module:
        """Rebuild the ``nnx.Module`` from this state (an edge operation: a copy).

        Example:
            >>> import optax
            >>> from flax import nnx
            >>> model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
            >>> state = TrainState.create(model, optax.sgd(0.1))
            >>> type(state.module()).__name__
            'Linear'
        """
        return self.model.module()

    @property
    def params(self) -> Any:
        """The trainable parameters (``nnx.Param`` leaves) as a nested dict."""
        return split_params(self.graphdef, self.model.variables)[0]


def _unaliased(tree: Any) -> Any:
    """``tree`` with every array that sits in two leaves copied for the second one.

    A train step donates the whole state, and XLA refuses to donate one buffer
    twice; an optimizer's ``init`` may legitimately put one array in two places.
    """
    seen: set[int] = set()

    def once(leaf: Any) -> Any:
        if not isinstance(leaf, jax.Array):
            return leaf
        if id(leaf) in seen:
            return jnp.array(leaf, copy=True)
        seen.add(id(leaf))
        return leaf

    return jax.tree.map(once, tree)
