"""``TrainState``: the model, optimizer state, step and PRNG key as one pytree."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx, struct

from jtoolkit._src.core.compilation_cache import enable_compilation_cache
from jtoolkit._src.train.distributed import resolve_mesh
from jtoolkit._src.train.model_state import (
    ModelState,
    split_params,
)
from jtoolkit._src.train.precision import (
    LossScaleState,
    init_loss_scale,
)
from jtoolkit._src.train.sharding import (
    Policy,
    check_policy,
    place_state,
    state_shardings,
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
        model: nnx.Module | Callable[[], nnx.Module],
        optimizer: optax.GradientTransformation,
        seed: int = 0,
        *,
        loss_scale: bool | float = False,
        mesh: Any = None,
        shard: Policy = None,
    ) -> TrainState:
        """Split ``model`` once and initialise the optimizer on its parameters.

        The twin of building ``model`` and ``torch.optim.X(model.parameters())`` then
        ``torch.manual_seed(seed)``; with ``mesh=``, of wrapping it in DDP or
        ``FullyShardedDataParallel``.

        Args:
            model: an ``nnx.Module`` (left untouched), or a zero-argument callable
                that builds one: with ``mesh=`` it is built abstractly
                (``jax.eval_shape``) and then inside one ``jax.jit`` whose
                ``out_shardings`` place every leaf, so the whole state never exists
                on one device (torch's meta-device init for FSDP). jtoolkit's
                layers then draw their initial values with ``jax.random``
                (eagerly, with numpy): the same distributions, other values,
                identical at any mesh and policy; pass the module itself for the
                eager values.
            optimizer: an ``optax.GradientTransformation`` (``jtoolkit.optim.adam``).
            seed: int seed of the step key (dropout masks).
            loss_scale: ``True`` (initial scale 2**16, as ``torch.amp.GradScaler``) or
                an initial scale as a float to enable dynamic loss scaling (fp16).
            mesh: ``None`` (one device), ``"auto"`` or a ``jax.sharding.Mesh``: the
                state is placed on it as ``shard`` says.
            shard: ``state_shardings``' policy (None/``"replicated"``, ``"fsdp"``,
                a layout map); give the train step the same one.

        Returns:
            A ``TrainState`` with ``step == 0``.

        Raises:
            TypeError: ``model`` is not an ``nnx.Module`` (or does not build one) or
                ``optimizer`` has no ``init``/``update``.
            ValueError: ``shard`` without ``mesh``, or a policy ``state_shardings``
                rejects.

        Example:
            >>> import optax
            >>> from flax import nnx
            >>> model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
            >>> state = TrainState.create(model, optax.sgd(0.1))
            >>> int(state.step), sorted(state.model)
            (0, ['bias', 'kernel'])
            >>> sharded = TrainState.create(
            ...     lambda: nnx.Linear(2, 1, rngs=nnx.Rngs(0)), optax.sgd(0.1),
            ...     mesh="auto", shard="fsdp")
            >>> bool(jnp.allclose(sharded.model["kernel"], state.model["kernel"]))
            True
        """
        if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
            raise TypeError(
                "optimizer must be an optax.GradientTransformation (with init and "
                f"update), got {type(optimizer).__name__}"
            )
        enable_compilation_cache()  # the copies and optimizer init compile too
        check_policy(shard)
        mesh = resolve_mesh(mesh)
        if mesh is None and shard is not None:
            raise ValueError(
                f"TrainState.create(shard={shard!r}) needs mesh= (a jax.sharding.Mesh "
                "or 'auto') to place the state on"
            )
        scale = None
        if loss_scale:
            scale = 2.0**16 if loss_scale is True else float(loss_scale)

        def build(module: nnx.Module) -> TrainState:
            return cls._from_module(module, optimizer, seed, scale)

        if isinstance(model, nnx.Module) or mesh is None:
            state = build(_module_of(model))
            if mesh is not None:
                state = place_state(state, state_shardings(state, mesh, shard))
            return state

        def init() -> TrainState:
            return build(_module_of(model))

        with jax.set_mesh(mesh):  # for layers whose annotations shard eagerly
            shardings = state_shardings(jax.eval_shape(init), mesh, shard)
            return _unaliased(jax.jit(init, out_shardings=shardings)())

    @classmethod
    def _from_module(
        cls, model: nnx.Module, optimizer: Any, seed: int, scale: float | None
    ) -> TrainState:
        graphdef, full = nnx.split(model)
        pure = nnx.to_pure_dict(full)

        def assemble(pure: dict) -> TrainState:
            # Copies: the step donates its input buffers, which must not be the
            # model's (inside jit, a copy also stops jit forwarding an input).
            pure = jax.tree.map(jnp.copy, pure)
            params, _ = split_params(graphdef, pure)
            return _unaliased(
                cls(
                    model=ModelState(graphdef, pure),
                    opt_state=optimizer.init(params),
                    step=jnp.zeros((), jnp.int32),
                    key=jax.random.key(seed),
                    loss_scale=None if scale is None else init_loss_scale(scale),
                )
            )

        # One XLA program for the copies, the optimizer's init, the step and the
        # key: run eagerly, each op compiles its own tiny program per shape (45
        # for a ResNet-8 with SGD and a schedule). An ``init`` that needs concrete
        # values (host control flow) falls back to the eager path.
        try:
            state = jax.jit(assemble)(pure)
        except jax.errors.ConcretizationTypeError:
            state = assemble(pure)
        return state

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


def _module_of(model: Any) -> nnx.Module:
    """``model``, or what the zero-argument callable ``model`` builds."""
    built = model if isinstance(model, nnx.Module) else None
    if built is None and callable(model):
        built = model()
    if not isinstance(built, nnx.Module):
        what = type(built if callable(model) else model).__name__
        raise TypeError(
            "TrainState.create expects an nnx.Module or a zero-argument callable "
            f"building one, got {what}"
        )
    return built


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
