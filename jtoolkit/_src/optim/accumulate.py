"""Gradient accumulation equal to torch's divide-by-k pattern."""

from __future__ import annotations

import optax

from jtoolkit._src.core.checks import check_int

__all__ = ["accumulate"]


def accumulate(
    optimizer: optax.GradientTransformation, every_k: int
) -> optax.GradientTransformation:
    """Average ``every_k`` gradients, then step ``optimizer`` once; zeros in between.

    torch: ``(loss / k).backward()`` on each batch and ``optimizer.step();
    optimizer.zero_grad()`` every k batches. The inner optimizer (and its lr
    schedule) advances once per real step, as torch's does. To clip the
    accumulated gradient as torch does, accumulate the chain:
    ``accumulate(optax.chain(clip_grad_norm(1.0), adam()), 4)``.

    Args:
        optimizer: any ``optax.GradientTransformation``.
        every_k: number of batches per optimizer step (a positive int).

    Returns:
        An ``optax.GradientTransformation`` (``optax.MultiSteps``, gradient mean).

    Raises:
        ValueError: if ``every_k`` is not a positive integer.

    Example:
        >>> from jtoolkit.optim import sgd
        >>> tx = accumulate(sgd(lr=1.0), every_k=2)
        >>> p = {"w": jnp.zeros(1)}
        >>> s = tx.init(p)
        >>> u1, s = tx.update({"w": jnp.array([1.0])}, s, p)
        >>> u2, s = tx.update({"w": jnp.array([3.0])}, s, p)
        >>> u1["w"].tolist() == [0.0], u2["w"].tolist()
        (True, [-2.0])
    """
    every_k = check_int("every_k", every_k, fn="accumulate", minimum=1)
    return optax.MultiSteps(
        optimizer, every_k, use_grad_mean=True
    ).gradient_transformation()
