"""The functional training core: ``TrainState`` and the jitted pure train/eval steps.

The model is split once (``nnx.split``) into a static ``GraphDef`` and a plain nested
dict of arrays; every step is one ``jax.jit``-compiled pure function over that dict,
the optimizer state, the step counter and the PRNG key, with the state donated.
``nnx.merge`` happens only while tracing (and at the edges, for inspection).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

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
from jtoolkit._src.train.precision import (
    cast_floats,
    compute_dtype,
    update_loss_scale,
)
from jtoolkit._src.train.state import TrainState

__all__ = ["make_eval_step", "make_train_step"]


_NAN_POLICIES = ("raise", "skip", "ignore")


def _reduce(values: jax.Array, mask: jax.Array | None, what: str) -> jax.Array:
    """Scalar as-is; a per-example vector as its (masked) mean over valid rows."""
    values = jnp.asarray(values)
    if values.ndim == 0:
        if mask is not None:
            raise ValueError(
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


def build_update(
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    has_aux: bool = False,
    *,
    precision: str = "fp32",
    nan_policy: str = "raise",
) -> Callable:
    """The pure (un-jitted) ``update(state, batch, mask) -> (state, metrics)``.

    Shared by ``make_train_step`` and the fused ``lax.scan`` epoch.
    """
    if nan_policy not in _NAN_POLICIES:
        raise ValueError(
            f"nan_policy must be one of {_NAN_POLICIES}, got {nan_policy!r}"
        )
    cdtype = compute_dtype(precision)

    def update(state: TrainState, batch: Any, mask: jax.Array | None):
        mask_tree = param_mask(state.graphdef, state.model.variables)
        params, rest = partition(state.model.variables, mask_tree)
        # Models without RNG streams skip the split (a few kernels per step on CPU).
        random = has_streams(state.graphdef, state.model.variables)
        key, sub = jax.random.split(state.key) if random else (state.key, None)

        def objective(p):
            module = nnx.merge(state.graphdef, combine(cast_floats(p, cdtype), rest))
            set_mode(module, train=True)
            if random:
                reseed(module, sub)
            out = loss_fn(module, cast_floats(batch, cdtype))
            loss, aux = _split_loss_output(out, has_aux)
            loss = _reduce(loss, mask, "loss_fn").astype(jnp.float32)
            _, new_rest = partition(nnx.to_pure_dict(nnx.state(module)), mask_tree)
            scaled = loss if state.loss_scale is None else loss * state.loss_scale.scale
            return scaled, (loss, aux, new_rest)

        grads, (loss, aux, new_rest) = jax.grad(objective, has_aux=True)(params)
        if state.loss_scale is not None:
            grads = jax.tree.map(lambda g: g / state.loss_scale.scale, grads)
        new_rest = _restore_dtypes(new_rest, rest)
        finite = jnp.isfinite(loss) & _all_finite(grads)

        def apply(operands):
            grads, opt_state, params, new_rest, _ = operands
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, new_rest

        def skip(operands):
            _, opt_state, params, _, rest = operands
            return params, opt_state, rest

        operands = (grads, state.opt_state, params, new_rest, rest)
        keep = nan_policy != "ignore" or state.loss_scale is not None
        if keep:  # one branch runs: no extra passes over params and optimizer state
            new = jax.lax.cond(finite, apply, skip, operands)
            new_params, opt_state, new_rest = new
        else:
            new_params, opt_state, new_rest = apply(operands)
        metrics = {"loss": loss, "finite": finite}
        if aux is not None:
            metrics["aux"] = aux
        new_state = state.replace(
            model=ModelState(state.graphdef, combine(new_params, new_rest)),
            opt_state=opt_state,
            step=state.step + (finite.astype(jnp.int32) if keep else 1),
            key=key,
        )
        if state.loss_scale is not None:
            new_state = new_state.replace(
                loss_scale=update_loss_scale(state.loss_scale, finite)
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

    Returns:
        ``step(state, batch, mask=None) -> (state, metrics)``, jitted, with
        ``metrics["loss"]`` (float32 scalar) and ``metrics["finite"]`` (bool).
        ``mask`` (shape ``(batch,)``, 1 for real rows, 0 for padding) lets a padded
        last batch reuse the compiled step: no recompilation.

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
    update = build_update(
        loss_fn, optimizer, has_aux, precision=precision, nan_policy=nan_policy
    )

    def step(state: TrainState, batch: Any, mask: jax.Array | None = None):
        return update(state, batch, mask)

    return DonatingStep(jax.jit(step, donate_argnums=0))


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


def make_eval_step(metric_fn: Callable, *, precision: str = "fp32") -> Callable:
    """Compile ``metric_fn`` into a jitted pure evaluation step (model in eval mode).

    The twin of ``model.eval(); with torch.no_grad(): metrics = metric_fn(model,
    batch)``. Nothing is donated and the state is not changed.

    Args:
        metric_fn: ``metric_fn(model, batch)`` returning a dict of metrics (or one
            value, named ``"loss"``); each a scalar or per-example values of shape
            ``(batch,)`` (needed to use ``mask``).
        precision: compute dtype, as in ``make_train_step``.

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
    return jax.jit(build_eval(metric_fn, precision=precision))
