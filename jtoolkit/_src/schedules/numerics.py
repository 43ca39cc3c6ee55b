"""Float32 building blocks for the schedules, accurate to a few ulp of torch's float64.

torch keeps learning rates as Python floats (float64) and mostly updates them
recursively; jtoolkit evaluates closed forms in float32. The naive float32 closed
forms lose up to ~1e-5 relative accuracy (``gamma ** t`` with a rounded ``gamma``,
``1 + cos(x)`` near the bottom of a cosine), so the helpers here rewrite each
formula into sums of positive terms whose factors are computed from small, exactly
representable arguments. The parity tests hold them to ``rtol=1e-6``.
"""

import dataclasses
import math
import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jtoolkit._src.core.checks import check_positive

__all__ = [
    "LRSchedule",
    "Schedule",
    "ZeroDivisionArgumentError",
    "anneal_mix",
    "as_count",
    "check_divisor",
    "check_real",
    "cos_mix",
    "linear_mix",
    "power",
]


Schedule = Callable[[ArrayLike], jax.Array]


"""A pure function ``count -> value`` returning a float32 array shaped like count."""


class ZeroDivisionArgumentError(ZeroDivisionError, ValueError):
    """An argument torch's scheduler divides by zero with (``step_size=0``,
    ``T_max=0``, ``step_size_up=0``, OneCycleLR's ``div_factor=0``, ...): torch's
    type, ZeroDivisionError, and also a ValueError, as a bad argument."""


@dataclasses.dataclass(frozen=True)
class LRSchedule:
    """A schedule built on a learning rate: ``count -> lr`` plus its ``base_lr``.

    torch's schedulers all read the optimizer's lr (``scheduler.base_lrs``);
    `chained_scheduler` divides by it, so that chaining schedules that were each
    built on ``lr`` gives torch's ``ChainedScheduler`` values, not ``lr`` squared.
    """

    fn: Callable[[ArrayLike], jax.Array]
    base_lr: float

    def __call__(self, count: ArrayLike) -> jax.Array:
        return self.fn(count)


def check_real(name: str, value: Any, *, fn: str) -> float:
    """``value`` as a float (any sign, as torch's schedulers take it); not NaN."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{fn}: {name} must be a real number, got {value!r}")
    if math.isnan(float(value)):
        raise ValueError(f"{fn}: {name} must be a real number, got nan")
    return float(value)


def as_count(count: ArrayLike) -> jax.Array:
    """Return ``count`` as float32 (exact for integer counts below 2**24)."""
    return jnp.asarray(count).astype(jnp.float32)


def _split_log(base: float) -> tuple[np.float32, np.float32]:
    """Split ``log(base)`` into a 12-bit head and a float32 tail."""
    log = math.log(base)
    mantissa, exponent = math.frexp(log)
    head = math.ldexp(round(mantissa * 2**12) / 2**12, exponent)
    return np.float32(head), np.float32(log - head)


def power(base: float, exponent: jax.Array) -> jax.Array:
    """``base ** exponent`` in float32, within a few ulp for integer exponents < 2**24.

    ``jnp.power(float32(base), n)`` amplifies the rounding of ``base`` by ``n``.
    Here ``log(base) = head + tail`` with a 12-bit ``head``, and ``n = 4096*a + b``
    with ``a, b < 4096``: the products ``a * (4096*head)`` and ``b * head`` are exact
    in float32 and ``n * tail`` is tiny, so only the ``exp`` calls and the final
    products round.
    """
    n = exponent.astype(jnp.float32)
    if base <= 0:  # torch accepts gamma <= 0: 0**0 = 1, signs alternate
        if base == 0:
            return jnp.where(n == 0, np.float32(1), np.float32(0))
        odd = jnp.mod(n, np.float32(2)) == 1
        return jnp.where(odd, np.float32(-1), np.float32(1)) * power(-base, n)
    head, tail = _split_log(base)
    high = jnp.floor(n / np.float32(4096))
    low = n - high * np.float32(4096)
    exact = jnp.exp(high * (np.float32(4096) * head)) * jnp.exp(low * head)
    return exact * jnp.exp(n * tail)


def cos_mix(start: float, end: float, done: jax.Array, left: jax.Array) -> jax.Array:
    """Cosine interpolation ``end + (start - end) * (1 + cos(pi * done)) / 2``.

    ``done`` and ``left`` are the fractions of the interval covered and remaining
    (``done + left == 1``, each computed exactly by the caller). Writing the value
    as ``start * sin(pi/2 * left)**2 + end * sin(pi/2 * done)**2`` keeps every
    factor accurate to an ulp, even where ``1 + cos`` would cancel.
    """
    half_pi = np.float32(math.pi / 2)
    weight_start = jnp.square(jnp.sin(half_pi * left))
    weight_end = jnp.square(jnp.sin(half_pi * done))
    return np.float32(start) * weight_start + np.float32(end) * weight_end


def linear_mix(start: float, end: float, done: jax.Array, left: jax.Array) -> jax.Array:
    """Linear interpolation ``start + (end - start) * done``, as two positive terms."""
    return np.float32(start) * left + np.float32(end) * done


def check_divisor(name: str, value: float, *, fn: str) -> float:
    """A divisor: 0 raises ZeroDivisionArgumentError, a negative one ValueError."""
    if value == 0:
        raise ZeroDivisionArgumentError(
            f"{fn}: {name} must be > 0, got {value!r} (torch divides by it)"
        )
    return check_positive(name, value, fn=fn)


def anneal_mix(strategy: str, *, fn: str) -> Callable[..., jax.Array]:
    """:func:`cos_mix` or :func:`linear_mix`, torch's ``anneal_strategy``."""
    if strategy not in ("cos", "linear"):
        raise ValueError(
            f"{fn}: anneal_strategy must be one of 'cos' or 'linear', instead got "
            f"{strategy!r}"
        )
    return cos_mix if strategy == "cos" else linear_mix
