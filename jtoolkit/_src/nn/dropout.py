"""``Dropout`` (torch.nn.Dropout) on NNX's own train/eval switch."""

from __future__ import annotations

from flax import nnx

__all__ = ["Dropout"]


class Dropout(nnx.Dropout):
    """Zero elements with probability p and scale the rest by 1/(1-p) in training mode.

    torch: ``torch.nn.Dropout(p=0.5)``. The mask comes from the ``dropout`` stream of
    ``rngs`` (the layer keeps its own fork, so every call, including inside a jitted
    step that returns ``nnx.state(model)``, draws a fresh mask). ``.eval()`` makes it
    the identity. Masks differ from torch's (different RNG); the scaling is torch's.

    Args:
      p: drop probability in [0, 1].
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

    def __init__(self, p: float = 0.5, *, rngs: nnx.Rngs | None = None) -> None:
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
        return f"p={self.rate}, inplace=False"
