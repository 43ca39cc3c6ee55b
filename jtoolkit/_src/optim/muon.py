"""Muon (torch.optim.Muon): momentum orthogonalised by a Newton-Schulz iteration."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtoolkit._src.optim.lr import scale_by_torch_lr
from jtoolkit._src.optim.schedulable import Schedulable, lerp

__all__ = ["TorchMuonState", "muon", "newton_schulz", "scale_by_torch_muon"]


def newton_schulz(
    g: jax.Array, coefficients: Sequence[float], steps: int, eps: float
) -> jax.Array:
    """torch's ``_zeropower_via_newtonschulz``: a quintic iteration in bfloat16.

    ``X = G / max(||G||_F, eps)`` (transposed when tall), then ``steps`` times
    ``A = X X^T; X = a X + (b A + c A A) X``. Returns bfloat16, as torch does.
    """
    a, b, c = coefficients
    f32, bf16 = jnp.float32, jnp.bfloat16

    def mm(u: jax.Array, v: jax.Array) -> jax.Array:
        return jnp.matmul(u, v, preferred_element_type=f32)

    x = g.astype(bf16)
    tall = g.shape[0] > g.shape[1]
    if tall:
        x = x.T
    norm = jnp.sqrt(jnp.sum(jnp.square(x.astype(f32)))).astype(bf16)
    x = (x.astype(f32) / jnp.maximum(norm, eps).astype(f32)).astype(bf16)
    for _ in range(steps):
        gram = mm(x, x.T).astype(bf16)
        update = (b * gram.astype(f32) + c * mm(gram, gram)).astype(bf16)
        x = (a * x.astype(f32) + mm(update, x)).astype(bf16)
    return x.T if tall else x


def _adjust_ratio(adjust_lr_fn: str | None, shape: tuple[int, ...]) -> float:
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return math.sqrt(max(1, rows / cols))
    return 0.2 * math.sqrt(max(rows, cols))  # "match_rms_adamw"


class TorchMuonState(NamedTuple):
    """Muon's momentum buffer (torch's ``momentum_buffer``)."""

    momentum_buffer: optax.Params


def scale_by_torch_muon(
    momentum: float,
    nesterov: bool,
    coefficients: Sequence[float],
    eps: float,
    steps: int,
    adjust_lr_fn: str | None,
    weight_decay: float,
) -> optax.GradientTransformation:
    """``ratio * NS(update) + wd * p``: Muon's step before ``-lr`` (2-D params)."""

    def init_fn(params: optax.Params) -> TorchMuonState:
        for p in jax.tree.leaves(params):
            if p.ndim != 2:
                raise ValueError(
                    "Muon only supports 2D parameters whereas we found a parameter "
                    f"with size: {tuple(p.shape)}"
                )
        return TorchMuonState(jax.tree.map(jnp.zeros_like, params))

    def update_fn(updates, state, params=None):
        if weight_decay and params is None:
            raise ValueError("muon needs params: call tx.update(grads, state, params)")
        buf = jax.tree.map(
            lambda b, g: lerp(b, g, 1 - momentum), state.momentum_buffer, updates
        )
        if nesterov:
            upd = jax.tree.map(lambda g, b: lerp(g, b, momentum), updates, buf)
        else:
            upd = buf

        def one(u, p):
            ortho = newton_schulz(u, coefficients, steps, eps).astype(u.dtype)
            out = _adjust_ratio(adjust_lr_fn, u.shape) * ortho
            if weight_decay:
                out = out + weight_decay * p
            return out.astype(u.dtype)

        out = jax.tree.map(one, upd, params if weight_decay else upd)
        return out, TorchMuonState(buf)

    return optax.GradientTransformation(init_fn, update_fn)


def muon(
    lr: Schedulable = 1e-3,
    weight_decay: float = 0.1,
    momentum: float = 0.95,
    nesterov: bool = True,
    ns_coefficients: Sequence[float] = (3.4445, -4.775, 2.0315),
    eps: float = 1e-7,
    ns_steps: int = 5,
    adjust_lr_fn: str | None = None,
) -> optax.GradientTransformation:
    """Muon: SGD-momentum whose update is orthogonalised (2-D parameters only).

    torch: ``torch.optim.Muon``. ``buf = lerp(buf, g, 1 - momentum)``; the update
    ``lerp(g, buf, momentum)`` (nesterov) or ``buf`` goes through ``ns_steps``
    Newton-Schulz iterations in bfloat16 (as torch), and
    ``p = p (1 - lr wd) - lr * ratio * update`` with ``ratio = sqrt(max(1, A/B))``
    (``adjust_lr_fn`` None or "original") or ``0.2 sqrt(max(A, B))``
    ("match_rms_adamw") for an ``A x B`` parameter. Because the iteration runs in
    bfloat16, results agree with torch to bfloat16 precision, not float32. As in
    torch, biases and other non-matrix parameters need another optimizer (e.g.
    ``optax.multi_transform`` or `param_groups`).

    Args:
        lr: learning rate, a float or a schedule ``count -> lr``.
        weight_decay: decoupled decay coefficient.
        momentum: momentum factor.
        nesterov: use the Nesterov-style lerp.
        ns_coefficients: ``(a, b, c)`` of the quintic iteration.
        eps: floor of the Frobenius norm the input is divided by.
        ns_steps: number of iterations (< 100).
        adjust_lr_fn: None, "original" or "match_rms_adamw".

    Returns:
        An ``optax.GradientTransformation``; ``init`` raises for non-2-D params.

    Raises:
        ValueError: torch's messages, e.g. ``momentum should be >= 0 but is: -1``.

    Example:
        >>> from jtoolkit.optim import muon
        >>> tx = muon(lr=0.1, weight_decay=0.0)
        >>> p = {"w": jnp.zeros((2, 2))}
        >>> u, _ = tx.update({"w": jnp.eye(2)}, tx.init(p), p)
        >>> u["w"].shape
        (2, 2)
    """
    if not callable(lr) and not 0.0 <= lr:
        raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
    if not 0.0 <= momentum:
        raise ValueError(f"momentum should be >= 0 but is: {momentum}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
    if adjust_lr_fn is not None and adjust_lr_fn not in ["original", "match_rms_adamw"]:
        raise ValueError(
            f"Adjust learning rate function {adjust_lr_fn} is not supported"
        )
    if ns_steps >= 100:
        raise ValueError(
            "Number of steps must be less than 100 for computational efficiency"
        )
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    return optax.chain(
        scale_by_torch_muon(
            momentum,
            nesterov,
            tuple(ns_coefficients),
            eps,
            ns_steps,
            adjust_lr_fn,
            weight_decay,
        ),
        scale_by_torch_lr(lr),
    )
