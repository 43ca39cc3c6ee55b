"""A whole training epoch as one ``lax.scan`` over shuffled batches on the device.

For datasets that fit in device memory this removes the per-batch host round trip:
one dispatch per epoch instead of one per step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jtoolkit._src.core.checks import torch_positive_int
from jtoolkit._src.data.padding import pad_batch
from jtoolkit._src.train.state import TrainState
from jtoolkit._src.train.step import build_update

__all__ = ["make_fused_epoch"]


def _epoch_indices(key: jax.Array, n: int, batch_size: int, shuffle: bool):
    """(num_batches, batch_size) sample indices and the padding mask (static shapes),
    padded by ``jtoolkit.data``'s one rule (copies of the last row, 0/1 mask)."""
    order = jax.random.permutation(key, n) if shuffle else jnp.arange(n)
    num_batches = -(-n // batch_size)
    idx, mask = pad_batch(order, num_batches * batch_size)
    shape = (num_batches, batch_size)
    return idx.reshape(shape), jnp.asarray(mask > 0).reshape(shape)


def make_fused_epoch(
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    batch_size: int,
    has_aux: bool = False,
    *,
    shuffle: bool = True,
    precision: str = "fp32",
    nan_policy: str = "raise",
) -> Callable:
    """Compile one epoch of ``make_train_step``'s step into a single ``lax.scan``.

    The twin of ``for batch in DataLoader(dataset, batch_size, shuffle=True):
    train_step(batch)`` for a dataset held on the device as arrays. The order is
    ``jax.random.permutation(key, n)`` (not the DataLoader's order). A partial last
    batch is padded and masked, which needs per-example losses from ``loss_fn``
    (shape ``(batch,)``) unless ``batch_size`` divides ``n``.

    Args:
        loss_fn: as in ``make_train_step``.
        optimizer: as in ``make_train_step``.
        batch_size: int > 0.
        has_aux: ``loss_fn`` returns ``(loss, aux)``.
        shuffle: draw a new permutation from ``key`` (False: in order).
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        nan_policy: as in ``make_train_step``.

    Returns:
        ``epoch(state, data, key) -> (state, metrics)``, jitted with the state
        donated; ``data`` is a pytree of arrays with a common leading axis ``n``;
        ``metrics["loss"]`` has one entry per batch, ``metrics["finite"]`` likewise.

    Raises:
        ValueError: ``batch_size`` is not a positive int.

    Example:
        >>> from flax import nnx
        >>> opt = optax.sgd(0.1)
        >>> state = TrainState.create(nnx.Linear(2, 1, rngs=nnx.Rngs(0)), opt)
        >>> def loss_fn(m, b):
        ...     return (m(b[0])[:, 0] - b[1]) ** 2
        >>> epoch = make_fused_epoch(loss_fn, opt, batch_size=4)
        >>> data = (jnp.ones((10, 2)), jnp.zeros(10))
        >>> state, metrics = epoch(state, data, jax.random.key(0))
        >>> metrics["loss"].shape, int(state.step)
        ((3,), 3)
    """
    batch_size = torch_positive_int("batch_size", batch_size)
    update = build_update(
        loss_fn, optimizer, has_aux, precision=precision, nan_policy=nan_policy
    )

    def epoch(state: TrainState, data: Any, key: jax.Array):
        n = jax.tree.leaves(data)[0].shape[0]
        idx, mask = _epoch_indices(key, n, batch_size, shuffle)
        full = n % batch_size == 0

        def body(carry, xs):
            rows, valid = xs
            batch = jax.tree.map(lambda a: jnp.take(a, rows, axis=0), data)
            return update(carry, batch, None if full else valid)

        return jax.lax.scan(body, state, (idx, mask))

    return jax.jit(epoch, donate_argnums=0)
