"""``Dropout`` and ``Dropout2d`` (torch.nn) on NNX's own train/eval switch."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.core.checks import check_bool

__all__ = ["Dropout", "Dropout2d"]


class Dropout(nnx.Dropout):
    """Zero elements with probability p and scale the rest by 1/(1-p) in training mode.

    torch: ``torch.nn.Dropout(p=0.5)``. The mask comes from the ``dropout`` stream of
    ``rngs`` (the layer keeps its own fork, so every call, including inside a jitted
    step that returns ``nnx.state(model)``, draws a fresh mask). ``.eval()`` makes it
    the identity. Masks differ from torch's (different RNG); the scaling is torch's.

    Args:
      p: drop probability in [0, 1].
      inplace: accepted and ignored (JAX arrays are immutable).
      rngs: ``nnx.Rngs`` (with a ``dropout`` or ``default`` stream).

    Raises:
      ValueError: p outside [0, 1].

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Dropout
      >>> drop = Dropout(0.5, rngs=nnx.Rngs(0))
      >>> sorted(set(drop(jnp.ones(100)).tolist()))
      [0.0, 2.0]
      >>> drop.eval(); drop(jnp.ones(3)).tolist()
      [1.0, 1.0, 1.0]
    """

    def __init__(
        self, p: float = 0.5, inplace: bool = False, *, rngs: nnx.Rngs | None = None
    ) -> None:
        self.inplace = check_bool("inplace", inplace, fn=type(self).__name__)
        if not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
            raise ValueError(
                f"dropout probability has to be between 0 and 1, but got {p}"
            )
        super().__init__(float(p), deterministic=False, rngs=rngs)

    @property
    def p(self) -> float:
        """torch's name for the drop probability."""
        return self.rate

    def _torch_repr(self) -> str:
        return f"p={self.rate}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero whole channels with probability p (scale the rest by 1/(1-p)), NHWC.

    torch: ``torch.nn.Dropout2d(p=0.5, inplace=False)`` on [N, C, H, W] or unbatched
    [C, H, W]; here [N, H, W, C] or [H, W, C]: one keep/drop draw per (sample,
    channel), shared by all H x W positions. A 3-D input is unbatched [H, W, C], as
    torch documents (torch 2.13 itself still treats 3-D as (N, C, L), with a
    warning that this will change). ``.eval()`` makes it the identity; masks
    come from the ``dropout`` stream (torch's RNG differs).

    Raises:
      ValueError: p outside [0, 1]. RuntimeError (at call): input not 3-D or 4-D.

    Example:
      >>> from flax import nnx
      >>> from jtoolkit.models import Dropout2d
      >>> y = Dropout2d(0.5, rngs=nnx.Rngs(0))(jnp.ones((2, 3, 3, 8)))
      >>> bool((y.min(axis=(1, 2)) == y.max(axis=(1, 2))).all())
      True
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim not in (3, 4):
            raise RuntimeError(
                "Dropout2d expects 4-D NHWC input [N, H, W, C] or unbatched 3-D "
                f"[H, W, C], but got input of shape {list(x.shape)}"
            )
        if self.deterministic or self.rate == 0.0:
            return x
        if self.rate == 1.0:
            return jnp.zeros_like(x)
        keep = 1.0 - self.rate
        shape = (*x.shape[:-3], 1, 1, x.shape[-1])  # one draw per (sample, channel)
        if self.rngs is None:
            raise ValueError(
                "Dropout2d: deterministic is False but the layer has no rngs; build "
                "it with rngs=nnx.Rngs(0) or call .eval()"
            )
        mask = jax.random.bernoulli(self.rngs(), keep, shape)
        return jnp.where(mask, x / keep, jnp.zeros_like(x))
