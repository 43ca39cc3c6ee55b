"""The functional training core: the jitted pure train and eval steps.

The model is split once (``nnx.split``) into a static ``GraphDef`` and a plain nested
dict of arrays; every step is one ``jax.jit``-compiled pure function over that dict,
the optimizer state, the step counter and the PRNG key, with the state donated.
``nnx.merge`` happens only while tracing (and at the edges, for inspection).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, cast

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jtoolkit._src.core.checks import check_int
from jtoolkit._src.train.distributed import (
    batch_sharding,
    check_divisible,
    replicated,
    resolve_mesh,
)
from jtoolkit._src.train.donation import DonatingStep
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
from jtoolkit._src.train.state import TrainState

__all__ = [
    "MaskUnsupportedError",
    "build_eval",
    "build_update",
    "check_nan_policy",
    "make_eval_step",
    "make_train_step",
]


_NAN_POLICIES = ("raise", "skip", "ignore")


class MaskUnsupportedError(ValueError):
    """A padding mask was given to a step whose function returns a scalar.

    Typed, so callers (``fit``) can ask whether a step takes a mask without reading
    error messages.
    """


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
    """True iff every element of every leaf is finite, in one fused pass.

    ``x * 0`` is 0 for finite ``x`` and nan for nan or +-inf, so the sum of
    ``x * 0`` is non-finite exactly when some element is (huge finite values such
    as 1e37, whose plain sum would overflow, count as finite). XLA on CPU fuses the
    sums into one reduction, where ``all(isfinite(x))`` materialises a boolean copy
    of every gradient first (measured: ~15% of a small model's step).
    """
    sums = [jnp.sum(x * 0, dtype=jnp.float32) for x in jax.tree.leaves(tree)]
    return jnp.isfinite(sum(sums)) if sums else jnp.array(True)


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
    numbers) and averages per-example losses over the rows the ``mask`` keeps.
    """

    def objective(params):
        module = nnx.merge(state.graphdef, combine(cast_floats(params, cdtype), rest))
        set_mode(module, train=True)
        if key is not None:
            reseed(module, key)
        out = loss_fn(module, cast_floats(batch, cdtype))
        loss, aux = _split_loss_output(out, has_aux)
        loss = _reduce(loss, mask, "loss_fn").astype(jnp.float32)
        _, new_rest = partition(nnx.to_pure_dict(nnx.state(module)), mask_tree)
        scaled = loss if state.loss_scale is None else loss * state.loss_scale.scale
        return scaled, (loss, aux, new_rest)

    return objective


def _apply_or_skip(optimizer, finite, guarded, grads, opt_state, params, new, old):
    """The optimizer update, or (when ``guarded`` and not ``finite``) no change.

    ``lax.cond`` runs one branch only: a skipped step costs no passes over the
    parameters and optimizer state.
    """

    def apply(operands):
        grads, opt_state, params, new_rest, _ = operands
        updates, opt_state = optimizer.update(grads, opt_state, params)
        new_params = cast(dict, optax.apply_updates(params, updates))  # dict in
        return new_params, opt_state, new_rest

    def skip(operands):
        _, opt_state, params, _, rest = operands
        return params, opt_state, rest

    operands = (grads, opt_state, params, new, old)
    return jax.lax.cond(finite, apply, skip, operands) if guarded else apply(operands)


def build_update(
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    has_aux: bool = False,
    *,
    precision: str = "fp32",
    nan_policy: str = "raise",
) -> Callable:
    """The pure (un-jitted) ``update(state, batch, mask) -> (state, metrics)``.

    Shared by ``make_train_step`` and the fused ``lax.scan`` epoch: gradients of
    the (masked, loss-scaled) objective, a finiteness flag, the guarded optimizer
    update, then the next state and the metrics.
    """
    check_nan_policy(nan_policy)
    cdtype = compute_dtype(precision)

    def update(state: TrainState, batch: Any, mask: jax.Array | None):
        mask_tree = param_mask(state.graphdef, state.model.variables)
        params, rest = partition(state.model.variables, mask_tree)
        # Models without RNG streams skip the split (a few kernels per step on CPU).
        random = has_streams(state.graphdef, state.model.variables)
        key, sub = jax.random.split(state.key) if random else (state.key, None)
        objective = _objective(
            loss_fn, has_aux, state, rest, mask_tree, batch, mask, sub, cdtype
        )
        grads, (loss, aux, new_rest) = jax.grad(objective, has_aux=True)(params)
        if state.loss_scale is not None:
            scale = state.loss_scale.scale
            grads = jax.tree.map(lambda g: g / scale, grads)
        new_rest = _restore_dtypes(new_rest, rest)
        finite = jnp.isfinite(loss) & _all_finite(grads)
        guarded = nan_policy != "ignore" or state.loss_scale is not None
        new_params, opt_state, new_rest = _apply_or_skip(
            optimizer, finite, guarded, grads, state.opt_state, params, new_rest, rest
        )
        new_state = dataclasses.replace(
            state,
            model=ModelState(state.graphdef, combine(new_params, new_rest)),
            opt_state=opt_state,
            step=state.step + (finite.astype(jnp.int32) if guarded else 1),
            key=key,
        )
        metrics = {"loss": loss, "finite": finite}
        if aux is not None:
            metrics["aux"] = aux
        if state.loss_scale is not None:
            new_state = dataclasses.replace(
                new_state, loss_scale=update_loss_scale(state.loss_scale, finite)
            )
            metrics["loss_scale"] = state.loss_scale.scale
        return new_state, metrics

    return update


def make_train_step(
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    has_aux: bool = False,
    *,
    precision: str = "fp32",
    nan_policy: str = "raise",
    mesh: Any = None,
    steps: int = 1,
) -> Callable:
    """Compile ``loss_fn`` into one jitted pure train step with the state donated.

    The twin of torch's ``optimizer.zero_grad(); loss = loss_fn(model, batch);
    loss.backward(); optimizer.step()``, as ``state, metrics = step(state, batch)``.
    Gradients are taken with respect to ``nnx.Param`` leaves only; BatchNorm
    statistics and RNG streams come back updated in the new state; the model runs in
    train mode. The input ``state`` is donated: use the returned one.

    Args:
        loss_fn: ``loss_fn(model, batch) -> loss`` (or ``(loss, aux)`` with
            ``has_aux``). ``loss`` is a float scalar, or per-example losses of shape
            ``(batch,)`` (averaged; required to use ``mask``).
        optimizer: the same ``optax.GradientTransformation`` given to
            ``TrainState.create`` (clipping/accumulation/schedules live inside it).
        has_aux: ``loss_fn`` returns ``(loss, aux)``; ``aux`` comes back as
            ``metrics["aux"]``.
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"``: compute dtype of the forward
            and backward pass; master weights and optimizer state stay float32 (fp16
            wants ``TrainState.create(..., loss_scale=True)``).
        nan_policy: what a non-finite loss or gradient does: ``"raise"`` and
            ``"skip"`` leave the state unchanged for that step (``metrics["finite"]``
            is False, ``step`` does not advance; ``fit`` raises or carries on),
            ``"ignore"`` applies the update anyway. The jitted step itself never
            raises (that would wait for the device every step): only ``fit``
            raises for ``"raise"``. In a manual loop check the flag when you read
            the metrics: ``if not bool(metrics["finite"]): raise
            FloatingPointError(...)``.
        mesh: ``None`` (one device), ``"auto"`` (every device, axis ``"data"``) or
            a ``jax.sharding.Mesh``: data parallelism. The state is replicated
            (``NamedSharding(mesh, P())``), the batch (and mask) split on its leading
            axis over the ``"data"`` axis (all axes if the mesh has none by that
            name), and XLA all-reduces the gradients. BatchNorm statistics are
            computed over the global batch (torch's ``SyncBatchNorm``). The global
            batch must divide by the number of data shards (ValueError otherwise).
        steps: optimizer steps per call (Keras's ``steps_per_execution``): with
            ``steps=k`` the step takes ``k`` batches stacked on a new leading axis
            (and masks ``(k, batch)``, and ``valid``, bool ``(k,)``: False steps
            leave the state untouched) and runs them in one ``lax.scan``: the same
            result as ``k`` single steps, one dispatch. Metrics come back stacked,
            shape ``(k,)``. ``step.single`` is the one-batch step (same compile
            options), for leftovers. ``fit(steps_per_execution=k)`` does the
            grouping.

    Returns:
        ``step(state, batch, mask=None) -> (state, metrics)``, jitted, with
        ``metrics["loss"]`` (float32 scalar) and ``metrics["finite"]`` (bool).
        ``mask`` (shape ``(batch,)``, 1 for real rows, 0 for padding) lets a padded
        last batch reuse the compiled step: no recompilation. ``step.nan_policy``
        records the policy, so ``fit`` follows it without being told twice.

    Raises:
        ValueError: unknown ``precision``/``nan_policy`` (at build time), a loss of
            the wrong shape (at the first call, before any computation), or a
            state that was already donated to an earlier call ("keep the returned
            state").

    Example:
        >>> import optax
        >>> from flax import nnx
        >>> model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
        >>> opt = optax.sgd(0.1)
        >>> def loss_fn(m, batch):
        ...     x, y = batch
        ...     return jnp.mean((m(x)[:, 0] - y) ** 2)
        >>> step = make_train_step(loss_fn, opt)
        >>> state = TrainState.create(model, opt)
        >>> batch = (jnp.ones((4, 2)), jnp.zeros(4))
        >>> state, m0 = step(state, batch)
        >>> state, m1 = step(state, batch)
        >>> bool(m1["loss"] < m0["loss"]), int(state.step)
        (True, 2)
    """
    check_int("steps", steps, fn="make_train_step", minimum=1)
    update = build_update(
        loss_fn, optimizer, has_aux, precision=precision, nan_policy=nan_policy
    )
    mesh = resolve_mesh(mesh)
    jitted = _compile(update, mesh, 0)
    if steps > 1:
        multi = _compile(repeat_update(update, steps), mesh, 1)
        multi.single = jitted
        jitted = multi
    jitted.steps = steps
    jitted.nan_policy = nan_policy  # read by fit: one policy, set where the step is
    jitted.mesh = mesh
    return jitted


def _compile(fn: Callable, mesh: Any, batch_axis: int, donate: bool = True) -> Callable:
    """``fn(state, batch, mask, *rest)`` jitted, the state donated if ``donate``.

    Over a ``mesh``: state replicated in, outputs replicated, batch and mask split
    on axis ``batch_axis`` (1 for stacked groups), anything after them replicated;
    a thin host wrapper checks that the global batch splits over the data shards
    (a shape read, no device work), so the error names the sizes that would work.
    """
    donated = (0,) if donate else ()
    if mesh is None:

        def plain(state: TrainState, batch: Any, mask: Any = None, *rest: Any):
            return fn(state, batch, mask, *rest)

        jitted = jax.jit(plain, donate_argnums=donated)
        return DonatingStep(jitted) if donate else jitted
    rep, split = replicated(mesh), batch_sharding(mesh, batch_axis)

    def step(state: TrainState, batch: Any, mask: Any = None, *rest: Any):
        # Traced under the mesh, so layers can pick lowerings that shard well.
        with jax.sharding.use_abstract_mesh(mesh.abstract_mesh):
            out = fn(state, batch, mask, *rest)
        return jax.lax.with_sharding_constraint(out, rep)

    shardings = (rep, split, split) + ((rep,) if batch_axis else ())
    jitted = jax.jit(step, donate_argnums=donated, in_shardings=shardings)

    def sharded_step(state: TrainState, batch: Any, mask: Any = None, *rest: Any):
        rows = jnp.shape(jax.tree.leaves(batch)[0])[batch_axis]
        check_divisible(int(rows), mesh)
        return jitted(state, batch, mask, *rest)

    sharded_step.jitted = jitted
    sharded_step.lower = jitted.lower
    return DonatingStep(sharded_step) if donate else sharded_step


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
        count = jnp.asarray(
            jax.tree.leaves(batch)[0].shape[0] if mask is None else jnp.sum(mask),
            jnp.float32,
        )
        return {**metrics, "count": count}

    return evaluate


def make_eval_step(
    metric_fn: Callable, *, precision: str = "fp32", mesh: Any = None
) -> Callable:
    """Compile ``metric_fn`` into a jitted pure evaluation step (model in eval mode).

    The twin of ``model.eval(); with torch.no_grad(): metrics = metric_fn(model,
    batch)``. Nothing is donated and the state is not changed.

    Args:
        metric_fn: ``metric_fn(model, batch)`` returning a dict of metrics (or one
            value, named ``"loss"``); each a scalar or per-example values of shape
            ``(batch,)`` (needed to use ``mask``).
        precision: compute dtype, as in ``make_train_step``.
        mesh: as in ``make_train_step``: state replicated, batch split.

    Returns:
        ``eval_step(state, batch, mask=None) -> metrics``: each metric the (masked)
        mean over the batch, plus ``metrics["count"]``, the number of real rows, so
        epoch means weight batches correctly.

    Raises:
        ValueError: a metric of the wrong shape (at the first call).

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
    mesh = resolve_mesh(mesh)
    jitted = _compile(evaluate, mesh, 0, donate=False)
    jitted.mesh = mesh
    return jitted
