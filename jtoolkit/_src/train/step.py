"""The functional training core: ``TrainStep`` and ``EvalStep``, frozen step objects.

The model is split once (``nnx.split``) into a static ``GraphDef`` and a plain nested
dict of arrays; every step is one ``jax.jit``-compiled pure function over that dict,
the optimizer state, the step counter and the PRNG key, with the state donated.
``nnx.merge`` happens only while tracing (and at the edges, for inspection).

A step is an object with fields (Keras's trainer owns its step the same way): what it
runs (``update``), how many optimizer steps one call makes (``steps``), how many
batches one optimizer step accumulates (``accumulate``), its NaN policy, mesh and
precision. ``with_steps(k)`` and ``with_mesh(mesh)`` return sibling objects, each
compiled once and cached on the object that made it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any, cast

import jax
import jax.core
import jax.numpy as jnp
import optax
from flax import nnx
from jax import lax

from jtoolkit._src.core.checks import check_int
from jtoolkit._src.core.compilation_cache import enable_compilation_cache
from jtoolkit._src.nn.conv_lowering import in_loop
from jtoolkit._src.nn.normalization import batch_mask
from jtoolkit._src.train.distributed import (
    batch_sharding,
    check_divisible,
    replicated,
    resolve_mesh,
)
from jtoolkit._src.train.model_state import (
    ModelState,
    combine,
    has_streams,
    param_mask,
    partition,
    reseed,
    set_mode,
)
from jtoolkit._src.train.multi_step import repeat_update
from jtoolkit._src.train.precision import (
    cast_floats,
    compute_dtype,
    update_loss_scale,
)
from jtoolkit._src.train.sharding import (
    Policy,
    check_policy,
    place_state,
    state_shardings,
)
from jtoolkit._src.train.state import TrainState

__all__ = [
    "EvalStep",
    "MaskUnsupportedError",
    "MeshJit",
    "TrainStep",
    "build_eval",
    "build_update",
    "check_nan_policy",
    "make_eval_step",
    "make_train_step",
]


_NAN_POLICIES = ("raise", "skip", "ignore")

_DONATED_HINT = (
    "the TrainState passed to the train step was donated to an earlier call and "
    "its buffers are gone: keep the returned state (state, metrics = step(state, "
    "batch)) and never reuse the one you passed in"
)


class MaskUnsupportedError(ValueError):
    """A padding mask was given to a step whose function returns a scalar."""


def _reduce(values: jax.Array, mask: jax.Array | None, what: str) -> jax.Array:
    """Scalar as-is; a per-example vector as its (masked) mean over valid rows."""
    values = jnp.asarray(values)
    if values.ndim == 0:
        if mask is not None:
            raise MaskUnsupportedError(
                f"{what} returned a scalar but a padding mask was given: return "
                "per-example values of shape (batch,) (e.g. reduction='none') so "
                "padded rows can be left out, or call the step without mask="
            )
        return values
    if values.ndim != 1:
        raise ValueError(
            f"{what} must return a scalar or per-example values of shape (batch,), "
            f"got shape {values.shape}"
        )
    values = values.astype(jnp.float32)
    if mask is None:
        return jnp.mean(values)
    m = jnp.asarray(mask, jnp.float32)
    return jnp.sum(values * m) / jnp.maximum(jnp.sum(m), 1.0)


def _all_finite(tree: Any) -> jax.Array:
    """True iff every element of every leaf is finite.

    Each float leaf is one ``lax.is_finite`` and one ``lax.reduce_and`` (XLA fuses
    them into one pass), written with ``lax``: jnp's ``sum(x * 0)`` took ~6x the
    Python to trace (45 vs 7 ms for 30 leaves), paid at every trace of a step.
    Huge finite values (1e37) count as finite; other leaves (complex) go through
    ``jnp.isfinite``.
    """
    flags = [
        lax.reduce_and(lax.is_finite(x), tuple(range(x.ndim)))
        if jnp.issubdtype(x.dtype, jnp.floating)
        else jnp.all(jnp.isfinite(x))
        for x in jax.tree.leaves(tree)
    ]
    return functools.reduce(lax.bitwise_and, flags) if flags else jnp.array(True)


def _restore_dtypes(new: Any, like: Any) -> Any:
    return jax.tree.map(lambda a, b: a.astype(b.dtype), new, like)


def _split_loss_output(out: Any, has_aux: bool) -> tuple[Any, Any]:
    if has_aux:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ValueError(
                "has_aux=True: loss_fn must return (loss, aux), got "
                f"{type(out).__name__}"
            )
        return out
    if isinstance(out, tuple):
        raise ValueError(
            "loss_fn returned a tuple; pass has_aux=True to make_train_step if it "
            "returns (loss, aux)"
        )
    return out, None


def check_nan_policy(nan_policy: str) -> str:
    """``nan_policy`` if it is one of "raise", "skip", "ignore"."""
    if nan_policy not in _NAN_POLICIES:
        raise ValueError(
            f"nan_policy must be one of {_NAN_POLICIES}, got {nan_policy!r}"
        )
    return nan_policy


def _objective(loss_fn, has_aux, state, rest, mask_tree, batch, mask, key, cdtype):
    """``params -> (scaled loss, (loss, aux, new non-param state))`` for ``jax.grad``.

    Runs the merged module in train mode (reseeded from ``key`` when it draws random
    numbers), with ``mask`` announced to the layers that reduce over the batch
    (BatchNorm), and averages per-example losses over the rows the ``mask`` keeps.
    """

    def objective(params):
        module = nnx.merge(state.graphdef, combine(cast_floats(params, cdtype), rest))
        set_mode(module, train=True)
        if key is not None:
            reseed(module, key)
        with batch_mask(mask):
            out = loss_fn(module, cast_floats(batch, cdtype))
        loss, aux = _split_loss_output(out, has_aux)
        loss = _reduce(loss, mask, "loss_fn").astype(jnp.float32)
        _, new_rest = partition(nnx.to_pure_dict(nnx.state(module)), mask_tree)
        scaled = loss if state.loss_scale is None else loss * state.loss_scale.scale
        return scaled, (loss, aux, new_rest)

    return objective


def _apply_or_skip(optimizer, finite, guarded, grads, opt_state, params, new, old):
    """The optimizer update, or (when ``guarded`` and not ``finite``) no change."""

    def apply(operands):
        grads, opt_state, params, new_rest, _ = operands
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, new_rest

    def skip(operands):
        _, opt_state, params, _, rest = operands
        return params, opt_state, rest

    operands = (grads, opt_state, params, new, old)
    return jax.lax.cond(finite, apply, skip, operands) if guarded else apply(operands)


def _rows(batch: Any, mask: Any) -> jax.Array:
    if mask is None:
        return jnp.float32(jax.tree.leaves(batch)[0].shape[0])
    return jnp.sum(jnp.asarray(mask, jnp.float32))


def build_update(
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    has_aux: bool = False,
    *,
    precision: str = "fp32",
    nan_policy: str = "raise",
    accumulate: int = 1,
) -> Callable:
    """The pure (un-jitted) ``update(state, batch, mask) -> (state, metrics)``.

    One optimizer step: gradients of the (masked, loss-scaled) objective, a
    finiteness flag, the guarded optimizer update, then the next state and metrics.
    With ``accumulate=k`` the batch (and mask) carry a leading axis of ``k``
    micro-batches: each one's gradient is divided by ``k`` and summed (torch's
    ``(loss / k).backward()`` on each), BatchNorm statistics and the RNG advance
    through them in order, and the optimizer steps once.
    """
    check_nan_policy(nan_policy)
    cdtype = compute_dtype(precision)

    def grads_of(state, params, rest, mask_tree, batch, mask, key):
        random = has_streams(state.graphdef, state.model.variables)
        key, sub = jax.random.split(key) if random else (key, None)
        objective = _objective(
            loss_fn, has_aux, state, rest, mask_tree, batch, mask, sub, cdtype
        )
        grads, (loss, aux, new_rest) = jax.grad(objective, has_aux=True)(params)
        if state.loss_scale is not None:
            grads = jax.tree.map(lambda g: g / state.loss_scale.scale, grads)
        return grads, loss, aux, _restore_dtypes(new_rest, rest), key

    def accumulated(state, params, rest, mask_tree, batches, masks, key):
        def body(carry, xs):
            total, rest_i, key_i = carry
            batch, mask = xs
            g, loss, aux, rest_i, key_i = grads_of(
                state, params, rest_i, mask_tree, batch, mask, key_i
            )
            total = jax.tree.map(lambda t, u: t + u / accumulate, total, g)
            return (total, rest_i, key_i), (loss, aux, _rows(batch, mask))

        zeros = jax.tree.map(jnp.zeros_like, params)
        with in_loop():  # XLA's CPU conv gradients in a while body (multi_step)
            (grads, new_rest, key), (losses, aux, rows) = jax.lax.scan(
                body, (zeros, rest, key), (batches, masks)
            )
        loss = jnp.sum(losses * rows) / jnp.maximum(jnp.sum(rows), 1.0)
        return grads, loss, aux, new_rest, key

    def update(state: TrainState, batch: Any, mask: jax.Array | None):
        mask_tree = param_mask(state.graphdef, state.model.variables)
        params, rest = partition(state.model.variables, mask_tree)
        compute = grads_of if accumulate == 1 else accumulated
        grads, loss, aux, new_rest, key = compute(
            state, params, rest, mask_tree, batch, mask, state.key
        )
        finite = jnp.isfinite(loss) & _all_finite(grads)
        guarded = nan_policy != "ignore" or state.loss_scale is not None
        new_params, opt_state, new_rest = _apply_or_skip(
            optimizer, finite, guarded, grads, state.opt_state, params, new_rest, rest
        )
        new_state = state.replace(
            model=ModelState(state.graphdef, combine(cast(dict, new_params), new_rest)),
            opt_state=opt_state,
            step=state.step + (finite.astype(jnp.int32) if guarded else 1),
            key=key,
        )
        metrics = {"loss": loss, "finite": finite}
        if aux is not None:
            metrics["aux"] = aux
        if state.loss_scale is not None:
            new_state = new_state.replace(
                loss_scale=update_loss_scale(state.loss_scale, finite)
            )
            metrics["loss_scale"] = state.loss_scale.scale
        return new_state, metrics

    return update


def _traces_with_mask(jitted: Any, state: Any, batch: Any, mask: Any) -> bool:
    """Whether ``jitted(state, batch, mask)`` traces (its losses or metrics are
    per-example); False when it refuses the mask. Nothing runs, and the trace is
    ``jitted``'s to reuse for the call with the same shapes."""
    try:
        jitted.eval_shape(state, batch, mask)
    except MaskUnsupportedError:
        return False
    return True


def _was_donated(state: TrainState) -> bool:
    """Whether ``state`` was donated to an earlier call.

    A step donates the whole state, so its ``step`` counter stands for every leaf:
    one O(1) check per call instead of a walk over all leaves on the hot path.
    """
    step = state.step
    return (
        isinstance(step, jax.Array)
        and not isinstance(step, jax.core.Tracer)
        and step.is_deleted()
    )


def _jit(
    fn: Callable,
    mesh: Any,
    batch_axis: int,
    donate: bool,
    extra: int = 0,
    shard: Policy = None,
) -> Callable:
    """``fn(state, batch, mask, *rest)`` as one ``jax.jit``, the state donated.

    Over a ``mesh``: a ``MeshJit``: state in and out on ``state_shardings(state,
    mesh, shard)``, batch and mask split on axis ``batch_axis`` (1 or 2 for
    stacked groups), the ``extra`` arguments after them replicated.
    """
    if mesh is None:
        return jax.jit(fn, donate_argnums=(0,) if donate else ())
    return MeshJit(fn, mesh, shard, batch_axis, donate, extra)


_PLACEMENT_HINT = (
    "the state is placed differently from what this step's shard={shard!r} gives "
    "it on the mesh: create it with TrainState.create(..., mesh=mesh, "
    "shard={shard!r}) or place it first with step.place(state)"
)


def _policy_key(value: Any) -> Any:
    """A hashable stand-in for a ``shard`` policy (a layout map by its items, in
    order: the first matching pattern wins)."""
    if isinstance(value, Mapping):
        return ("layout", tuple(value.items()))
    return value


_MISPLACED = ("does not match the sharding", "incompatible devices")


class MeshJit:
    """A step function jitted over a mesh with the state's own shardings.

    The shardings come from ``state_shardings(state, mesh, shard)``, which needs
    the state's structure, so the ``jax.jit`` is built at the first call (or
    ``lower``) and kept: in and out shardings of the state are the same, so the
    donated buffers are reused and the state never gathers on one device (beyond
    the all-gathers XLA inserts for a sharded parameter's use).
    """

    def __init__(self, fn, mesh, shard, batch_axis, donate, extra) -> None:
        self.fn, self.mesh, self.shard, self.donate = fn, mesh, shard, donate
        self.batch_axis, self.extra = batch_axis, extra
        self.shardings: Any = None
        self._jitted: Any = None

    def _build(self, state: Any) -> Any:
        mesh, fn = self.mesh, self.fn
        shardings = state_shardings(state, mesh, self.shard)
        rep, split = replicated(mesh), batch_sharding(mesh, self.batch_axis)

        def on_mesh(state: TrainState, batch: Any, mask: Any, *rest: Any):
            # Traced under the mesh, so layers can pick lowerings that shard well.
            with jax.sharding.use_abstract_mesh(mesh.abstract_mesh):
                return fn(state, batch, mask, *rest)

        self.shardings = shardings
        self._jitted = jax.jit(
            on_mesh,
            donate_argnums=(0,) if self.donate else (),
            in_shardings=(shardings, split, split) + (rep,) * self.extra,
            out_shardings=(shardings, rep) if self.donate else rep,
        )
        return self._jitted

    def __call__(self, state: Any, *args: Any) -> Any:
        jitted = self._jitted or self._build(state)
        try:
            return jitted(state, *args)
        except ValueError as err:
            text = str(err)
            if not any(m in text for m in _MISPLACED):
                raise
            if self.donate:  # a train step: the caller's placement is a bug
                raise ValueError(_PLACEMENT_HINT.format(shard=self.shard)) from err
        # an eval step (nothing donated): evaluate any placement, e.g. an EMA copy
        return jitted(place_state(state, self.shardings), *args)

    def lower(self, state: Any, *args: Any) -> Any:
        """``jax.jit(...).lower`` (builds the jit for ``state``'s structure)."""
        return (self._jitted or self._build(state)).lower(state, *args)

    def _cache_size(self) -> int:
        return 0 if self._jitted is None else self._jitted._cache_size()


@dataclasses.dataclass(frozen=True, eq=False)
class TrainStep:
    """A compiled train step: ``state, metrics = step(state, batch, mask=None)``.

    Made by ``make_train_step``; the fields say what one call does. The jitted
    function is built once in ``__post_init__`` and kept on the object;
    ``with_steps(k)`` / ``with_mesh(mesh)`` return (and cache) sibling steps.

    Attributes:
        update: the pure ``update(state, batch, mask) -> (state, metrics)`` of one
            optimizer step.
        steps: optimizer steps per call (batches stacked on a new leading axis).
        nan_policy: ``"raise"``, ``"skip"`` or ``"ignore"`` (``fit`` follows it).
        mesh: ``None`` or the ``jax.sharding.Mesh`` the batch is split over.
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        shard: where the state lives on ``mesh``: ``state_shardings``' policy
            (None or ``"replicated"``, ``"fsdp"``, a layout map).
        per_example: whether ``loss_fn`` returns per-example losses; None: asked
            of ``loss_fn`` abstractly at the first batch (``takes_mask``).
        accumulate: batches per optimizer step (gradient accumulation).
        loss_shape: ``(state, batch) -> ShapeDtypeStruct`` of ``loss_fn``'s loss.
    """

    update: Callable
    steps: int = 1
    nan_policy: str = "raise"
    mesh: Any = None
    precision: str = "fp32"
    per_example: bool | None = None
    accumulate: int = 1
    loss_shape: Callable | None = None
    shard: Policy = None
    _jitted: Any = dataclasses.field(init=False, repr=False, default=None)
    _siblings: dict = dataclasses.field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        enable_compilation_cache()  # before the first compile; cheap once on
        fn = self.update
        if self.steps > 1:
            fn = repeat_update(self.update, self.steps)

        def program(state, batch, mask=None, valid=None):
            if self.steps > 1:
                return fn(state, batch, mask, valid)
            return fn(state, batch, mask)

        extra = int(self.steps > 1)
        jitted = _jit(program, self.mesh, self.batch_axis, True, extra, self.shard)
        object.__setattr__(self, "_jitted", jitted)
        object.__setattr__(self, "_siblings", {})

    def __call__(self, state: TrainState, batch: Any, mask: Any = None, valid=None):
        """One call: ``steps`` optimizer steps; returns ``(state, metrics)``.

        ``valid`` (bool, ``(steps,)``, only for ``steps > 1``) marks the stacked
        batches that run; False steps leave the state untouched.
        """
        if self.mesh is not None:
            rows = jnp.shape(jax.tree.leaves(batch)[0])[self.batch_axis]
            check_divisible(int(rows), self.mesh)
        # checked before the call: a call that fails donates the buffers itself,
        # and its own error must not be blamed on an earlier donation
        donated_before = _was_donated(state)
        try:
            if self.steps > 1:
                return self._jitted(state, batch, mask, valid)
            return self._jitted(state, batch, mask)
        except (ValueError, RuntimeError) as err:
            if donated_before:
                kind = ValueError if isinstance(err, ValueError) else RuntimeError
                raise kind(_DONATED_HINT) from err
            raise

    @property
    def batch_axis(self) -> int:
        """The axis of a call's batch that holds the examples."""
        return int(self.steps > 1) + int(self.accumulate > 1)

    @property
    def batches_per_call(self) -> int:
        """Loader batches one call consumes (``steps * accumulate``)."""
        return self.steps * self.accumulate

    @property
    def jitted(self) -> Callable:
        """The ``jax.jit`` function (``lower``, ``_cache_size``, ...)."""
        return self._jitted

    def _cache_size(self) -> int:
        """How many programs the step has compiled (1 once warm)."""
        return self._jitted._cache_size()

    def lower(self, *args: Any) -> Any:
        """``jax.jit(...).lower`` of the step (for inspection)."""
        return self._jitted.lower(*args)

    def _sibling(self, **changes: Any) -> TrainStep:
        items = ((k, _policy_key(v)) for k, v in changes.items())
        key = tuple(sorted(items, key=lambda kv: kv[0]))
        siblings = self._siblings
        if key not in siblings:
            siblings[key] = dataclasses.replace(self, **changes)
        return siblings[key]

    def with_steps(self, k: int) -> TrainStep:
        """This step running ``k`` optimizer steps per call (one ``lax.scan``).

        Example:
            >>> import optax
            >>> step = make_train_step(lambda m, b: m(b).sum(), optax.sgd(0.1))
            >>> step.with_steps(4).steps, step.with_steps(4) is step.with_steps(4)
            (4, True)
        """
        check_int("steps", k, fn="TrainStep.with_steps", minimum=1)
        return self if k == self.steps else self._sibling(steps=k)

    def with_mesh(self, mesh: Any) -> TrainStep:
        """This step data-parallel over ``mesh`` (``None``: one device)."""
        mesh = resolve_mesh(mesh)
        return self if mesh is self.mesh else self._sibling(mesh=mesh)

    def with_shard(self, shard: Policy) -> TrainStep:
        """This step with the state placed by ``shard`` (``state_shardings``'
        policy) on its mesh."""
        check_policy(shard)
        same = _policy_key(shard) == _policy_key(self.shard)
        return self if same else self._sibling(shard=shard)

    def place(self, state: TrainState) -> TrainState:
        """``state`` on this step's mesh as ``shard`` places it (a no-op without a
        mesh or for leaves already there): what ``fit`` does before training."""
        if self.mesh is None:
            return state
        return place_state(state, state_shardings(state, self.mesh, self.shard))

    def takes_mask(self, state: TrainState, batch: Any, mask: Any = None) -> bool:
        """Whether ``loss_fn`` returns per-example losses (abstract trace, no run).

        Given the ``mask`` of the first call (with its ``batch``, for a plain
        one-device step), the step's own program is traced with them: ``jax.jit``
        keeps that trace, so the call reuses it instead of the model being traced
        twice. Otherwise ``loss_fn`` alone is traced abstractly.
        """
        if self.per_example is not None or self.loss_shape is None:
            return bool(self.per_example)
        if mask is not None and self.mesh is None and self.batches_per_call == 1:
            return _traces_with_mask(self._jitted, state, batch, mask)
        return len(self.loss_shape(state, batch).shape) == 1


def _loss_shape(loss_fn: Callable, has_aux: bool, precision: str) -> Callable:
    """``(state, batch) -> shape`` of ``loss_fn``'s loss, traced abstractly."""
    cdtype = compute_dtype(precision)

    def loss_of(state: TrainState, batch: Any):
        module = nnx.merge(state.graphdef, state.model.variables)
        set_mode(module, train=True)
        out = loss_fn(module, cast_floats(batch, cdtype))
        return jnp.asarray(_split_loss_output(out, has_aux)[0])

    return lambda state, batch: jax.eval_shape(loss_of, state, batch)


def make_train_step(
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    has_aux: bool = False,
    *,
    precision: str = "fp32",
    nan_policy: str = "raise",
    mesh: Any = None,
    shard: Policy = None,
    layout: Any = None,
    accumulate: int = 1,
    steps: int = 1,
) -> TrainStep:
    """Compile ``loss_fn`` into a ``TrainStep``: a jitted pure train step.

    The twin of torch's ``optimizer.zero_grad(); loss = loss_fn(model, batch);
    loss.backward(); optimizer.step()``, as ``state, metrics = step(state, batch)``.
    Gradients are taken with respect to ``nnx.Param`` leaves only; BatchNorm
    statistics and RNG streams come back updated in the new state; the model runs in
    train mode. The input ``state`` is donated: use the returned one.

    Args:
        loss_fn: ``loss_fn(model, batch) -> loss`` (or ``(loss, aux)`` with
            ``has_aux``). ``loss`` is per-example losses of shape ``(batch,)``
            (averaged over the rows ``mask`` keeps; what ``fit`` needs to pad a
            ragged batch), or a float scalar.
        optimizer: the same ``optax.GradientTransformation`` given to
            ``TrainState.create`` (clipping/schedules live inside it).
        has_aux: ``loss_fn`` returns ``(loss, aux)``; ``aux`` comes back as
            ``metrics["aux"]``.
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"``: compute dtype of the forward
            and backward pass; master weights and optimizer state stay float32 (fp16
            wants ``TrainState.create(..., loss_scale=True)``).
        nan_policy: what a non-finite loss or gradient does: ``"raise"`` and
            ``"skip"`` leave the state unchanged for that step (``metrics["finite"]``
            is False, ``step`` does not advance; ``fit`` raises or carries on),
            ``"ignore"`` applies the update anyway. The jitted step itself never
            raises: in a manual loop check ``metrics["finite"]``.
        mesh: ``None`` (one device), ``"auto"`` (every device, axis ``"data"``) or
            a ``jax.sharding.Mesh``: data parallelism, batch split on its leading
            axis over the ``"data"`` axis (BatchNorm statistics over the global
            batch, as ``SyncBatchNorm``); the global batch must divide by the data
            shards.
        shard: where the state (parameters, optimizer state) lives on ``mesh``,
            ``state_shardings``' policy: ``None``/``"replicated"`` (DDP),
            ``"fsdp"`` (torch's ``FullyShardedDataParallel``: each large leaf
            split over ``"data"``; XLA all-gathers a parameter where it is used
            and reduce-scatters its gradient), or a layout map ``{path regex:
            PartitionSpec}`` (Keras's ``LayoutMap``: tensor parallelism over a
            ``("data", "model")`` mesh). Parameters annotated with
            ``nnx.with_partitioning`` keep their annotation under every policy.
            The state's in and out shardings are the same (donation kept); create
            it with ``TrainState.create(..., mesh=, shard=)`` or ``step.place``.
        layout: ``None`` (give a layout map as ``shard=``).
        accumulate: batches per optimizer step (torch's ``(loss / k).backward()``
            each batch and ``optimizer.step()`` every ``k``): one call takes ``k``
            micro-batches stacked on a leading axis. ``fit`` groups them.
        steps: optimizer steps per call (Keras's ``steps_per_execution``): the step
            takes ``steps`` batches stacked on a new leading axis (masks
            ``(steps, batch)``, ``valid`` bool ``(steps,)``) and runs them in one
            ``lax.scan``; metrics come back stacked. Same as ``with_steps(k)``.

    Returns:
        A ``TrainStep``: ``step(state, batch, mask=None) -> (state, metrics)``,
        with ``metrics["loss"]`` (float32) and ``metrics["finite"]`` (bool). ``mask``
        (shape ``(batch,)``, 1 for real rows, 0 for padding) lets a padded last
        batch reuse the compiled step; BatchNorm then uses only the real rows.

    Raises:
        ValueError: unknown ``precision``/``nan_policy``, bad ``steps`` or
            ``accumulate`` (at build time), a loss of the wrong shape (at the first
            call), or a state already donated to an earlier call.
        MaskUnsupportedError: a mask given to a step whose loss is a scalar.
        TypeError: a ``shard`` that is not a policy.
        NotImplementedError: ``layout`` other than None (pass it as ``shard=``).

    Example:
        >>> import optax
        >>> from flax import nnx
        >>> model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
        >>> opt = optax.sgd(0.1)
        >>> def loss_fn(m, batch):
        ...     x, y = batch
        ...     return (m(x)[:, 0] - y) ** 2
        >>> step = make_train_step(loss_fn, opt)
        >>> state = TrainState.create(model, opt)
        >>> batch = (jnp.ones((4, 2)), jnp.zeros(4))
        >>> state, m0 = step(state, batch)
        >>> state, m1 = step(state, batch)
        >>> bool(m1["loss"] < m0["loss"]), int(state.step)
        (True, 2)
    """
    check_int("steps", steps, fn="make_train_step", minimum=1)
    check_int("accumulate", accumulate, fn="make_train_step", minimum=1)
    if layout is not None:
        raise NotImplementedError(
            "make_train_step(layout=...): pass the layout map as shard={path regex: "
            "PartitionSpec} (the policy state_shardings takes)"
        )
    check_policy(shard)
    update = build_update(
        loss_fn,
        optimizer,
        has_aux,
        precision=precision,
        nan_policy=nan_policy,
        accumulate=accumulate,
    )
    return TrainStep(
        update,
        steps=steps,
        nan_policy=nan_policy,
        mesh=resolve_mesh(mesh),
        precision=precision,
        accumulate=accumulate,
        loss_shape=_loss_shape(loss_fn, has_aux, precision),
        shard=shard,
    )


def build_eval(metric_fn: Callable, *, precision: str = "fp32") -> Callable:
    """The pure (un-jitted) ``evaluate(state, batch, mask) -> metrics``."""
    cdtype = compute_dtype(precision)

    def evaluate(state: TrainState, batch: Any, mask: jax.Array | None = None):
        model = cast_floats(state.model.variables, cdtype)
        module = nnx.merge(state.graphdef, model)
        set_mode(module, train=False)
        out = metric_fn(module, cast_floats(batch, cdtype))
        if not isinstance(out, dict):
            out = {"loss": out}
        metrics = {k: _reduce(v, mask, f"metric_fn[{k!r}]") for k, v in out.items()}
        return {**metrics, "count": _rows(batch, mask)}

    return evaluate


@dataclasses.dataclass(frozen=True, eq=False)
class EvalStep:
    """A compiled evaluation step: ``metrics = eval_step(state, batch, mask=None)``.

    Attributes:
        evaluate: the pure ``evaluate(state, batch, mask) -> metrics``.
        mesh: ``None`` or the mesh the batch is split over.
        precision: compute dtype name.
        output_shapes: ``(state, batch) -> shapes`` of ``metric_fn``'s outputs.
        shard: where the state lives on ``mesh`` (as ``TrainStep.shard``); a state
            placed otherwise (an EMA copy) is placed so first.
    """

    evaluate: Callable
    mesh: Any = None
    precision: str = "fp32"
    output_shapes: Callable | None = None
    shard: Policy = None
    _jitted: Any = dataclasses.field(init=False, repr=False, default=None)
    _siblings: dict = dataclasses.field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        enable_compilation_cache()
        jitted = _jit(self.evaluate, self.mesh, 0, False, 0, self.shard)
        object.__setattr__(self, "_jitted", jitted)
        object.__setattr__(self, "_siblings", {})

    def __call__(self, state: TrainState, batch: Any, mask: Any = None) -> dict:
        if self.mesh is not None:
            check_divisible(int(jnp.shape(jax.tree.leaves(batch)[0])[0]), self.mesh)
        return self._jitted(state, batch, mask)

    @property
    def jitted(self) -> Callable:
        """The ``jax.jit`` function."""
        return self._jitted

    def _cache_size(self) -> int:
        return self._jitted._cache_size()

    def takes_mask(self, state: TrainState, batch: Any, mask: Any = None) -> bool:
        """Whether every metric is per-example (abstract trace, nothing runs).

        Given the ``mask`` of the first call (one device), the step's own program
        is traced with it and ``jax.jit`` keeps the trace for that call.
        """
        if self.output_shapes is None:
            return False
        if mask is not None and self.mesh is None:
            return _traces_with_mask(self._jitted, state, batch, mask)
        shapes = jax.tree.leaves(self.output_shapes(state, batch))
        return all(len(s.shape) == 1 for s in shapes)

    def with_mesh(self, mesh: Any) -> EvalStep:
        """This step over ``mesh``."""
        mesh = resolve_mesh(mesh)
        return self if mesh is self.mesh else self._sibling("mesh", mesh)

    def with_shard(self, shard: Policy) -> EvalStep:
        """This step for a state placed by ``shard`` on its mesh."""
        check_policy(shard)
        same = _policy_key(shard) == _policy_key(self.shard)
        return self if same else self._sibling("shard", shard)

    def _sibling(self, name: str, value: Any) -> EvalStep:
        key = (name, _policy_key(value))
        siblings = self._siblings
        if key not in siblings:
            siblings[key] = dataclasses.replace(self, **{name: value})
        return siblings[key]


def make_eval_step(
    metric_fn: Callable,
    *,
    precision: str = "fp32",
    mesh: Any = None,
    shard: Policy = None,
) -> EvalStep:
    """Compile ``metric_fn`` into a jitted pure evaluation step (model in eval mode).

    The twin of ``model.eval(); with torch.no_grad(): metrics = metric_fn(model,
    batch)``. Nothing is donated and the state is not changed.

    Args:
        metric_fn: ``metric_fn(model, batch)`` returning a dict of metrics (or one
            value, named ``"loss"``); each a scalar or per-example values of shape
            ``(batch,)`` (needed to use ``mask``).
        precision: compute dtype, as in ``make_train_step``.
        mesh: as in ``make_train_step``: batch split over ``"data"``.
        shard: as in ``make_train_step``: where the state lives on ``mesh``.

    Returns:
        An ``EvalStep``: ``eval_step(state, batch, mask=None) -> metrics``, each the
        (masked) mean over the batch, plus ``metrics["count"]``, the real rows.

    Raises:
        ValueError: a metric of the wrong shape (at the first call).
        TypeError: a ``shard`` that is not a policy.

    Example:
        >>> import optax
        >>> from flax import nnx
        >>> model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
        >>> state = TrainState.create(model, optax.sgd(0.1))
        >>> ev = make_eval_step(lambda m, b: {"mse": jnp.mean((m(b[0]) - b[1]) ** 2)})
        >>> out = ev(state, (jnp.zeros((3, 2)), jnp.zeros((3, 1))))
        >>> float(out["mse"]), float(out["count"])
        (0.0, 3.0)
    """
    evaluate = build_eval(metric_fn, precision=precision)
    cdtype = compute_dtype(precision)

    def outputs(state: TrainState, batch: Any):
        module = nnx.merge(state.graphdef, state.model.variables)
        set_mode(module, train=False)
        out = metric_fn(module, cast_floats(batch, cdtype))
        out = out if isinstance(out, dict) else {"loss": out}
        return {k: jnp.asarray(v) for k, v in out.items()}

    shapes = lambda state, batch: jax.eval_shape(outputs, state, batch)  # noqa: E731
    return EvalStep(
        evaluate, resolve_mesh(mesh), precision, shapes, check_policy(shard)
    )
