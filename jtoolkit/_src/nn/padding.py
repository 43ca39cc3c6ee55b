"""Padding modules (torch.nn.Zero/Constant/Reflection/Replication/CircularPad1d-3d)
on channels-last input, on top of the one ``F.pad``.

jtoolkit's image layers are channels-last ([N, L, C], [N, H, W, C],
[N, D, H, W, C]; unbatched without N), so these modules pad the 1-3 spatial axes
just before the channel axis. The ``padding`` tuple keeps torch's meaning and
order, last spatial axis first: ``(left, right)`` pads L (or W), ``(left, right,
top, bottom)`` pads W then H, ``(left, right, top, bottom, front, back)`` pads W,
H, then D. The module moves the channel axis in front of the spatial axes, calls
``F.pad`` (torch's last-dims-first rule and its four modes), and moves it back.

Every module raises RuntimeError at call for input without the channel axis
(fewer than ``n + 1`` dims) or a size that ``F.pad``'s mode rejects (torch's
messages), and ValueError at construction for a bad ``padding``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.core import arrays, checks
from jtoolkit._src.nn.functional.padding import pad

__all__ = [
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
]

_AXES = {1: "[N, L, C]", 2: "[N, H, W, C]", 3: "[N, D, H, W, C]"}


class _Pad(nnx.Module):
    """Pad the ``_n`` spatial axes before the channel axis with ``_mode``."""

    _n: ClassVar[int] = 1
    _mode: ClassVar[str] = "constant"

    def __init__(self, padding: Any) -> None:
        name, size = type(self).__name__, 2 * self._n
        if isinstance(padding, tuple | list):
            items = tuple(checks.torch_int_arg("padding", p, name) for p in padding)
        else:
            items = (checks.torch_int_arg("padding", padding, name),) * size
        if len(items) % 2 or len(items) > size:
            raise ValueError(
                f"{name}: padding must be an int or a tuple of {size} ints (or "
                f"fewer pairs; the last spatial axis first, torch's order), got "
                f"{padding!r}"
            )
        self.padding = items
        self.value: float = 0.0

    def __call__(self, x: jax.Array) -> jax.Array:
        x = arrays.to_array(x)
        n = self._n
        if x.ndim < n + 1:
            raise RuntimeError(
                f"{type(self).__name__} expects channels-last input {_AXES[n]} "
                f"(or without N), but got input of shape {list(x.shape)}"
            )
        first = jnp.moveaxis(x, -1, -(n + 1))  # channels before the spatial axes
        value = self.value if self._mode == "constant" else None
        y = pad(first, self.padding, self._mode, value)
        return jnp.moveaxis(y, -(n + 1), -1)

    def _torch_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPad(_Pad):
    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def _torch_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ZeroPad1d(_Pad):
    """Zero padding around L of ``[N, L, C]`` (or unbatched).

    torch counterpart: ``torch.nn.ZeroPad1d(padding)``, channels-first.

    Raises:
      ValueError: a padding tuple of odd length or longer than 2.
      RuntimeError (at call): as every padding module (module docstring).

    Example:
      >>> from jtoolkit.models import ZeroPad1d
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> ZeroPad1d((1, 2))(x.reshape(3, 1)).ravel().tolist()
      [0.0, 1.0, 2.0, 3.0, 0.0, 0.0]
    """

    _n = 1


class ZeroPad2d(_Pad):
    """Zero padding around H and W of ``[N, H, W, C]`` (or unbatched).

    torch counterpart: ``torch.nn.ZeroPad2d(padding)``, channels-first.

    Raises:
      ValueError: a padding tuple of odd length or longer than 4.
      RuntimeError (at call): as every padding module (module docstring).

    Example:
      >>> from jtoolkit.models import ZeroPad2d
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> ZeroPad2d((1, 2, 0, 0))(x.reshape(1, 3, 1)).ravel().tolist()
      [0.0, 1.0, 2.0, 3.0, 0.0, 0.0]
    """

    _n = 2


class ZeroPad3d(_Pad):
    """Zero padding around D, H and W of ``[N, D, H, W, C]`` (or unbatched).

    torch counterpart: ``torch.nn.ZeroPad3d(padding)``, channels-first.

    Raises:
      ValueError: a padding tuple of odd length or longer than 6.
      RuntimeError (at call): as every padding module (module docstring).

    Example:
      >>> from jtoolkit.models import ZeroPad3d
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> ZeroPad3d((1, 2, 0, 0, 0, 0))(x.reshape(1, 1, 3, 1)).ravel().tolist()
      [0.0, 1.0, 2.0, 3.0, 0.0, 0.0]
    """

    _n = 3


class ConstantPad1d(_ConstantPad):
    """A constant padding around L of ``[N, L, C]`` (or unbatched).

    torch counterpart: ``torch.nn.ConstantPad1d(padding, value)``, channels-first.

    Raises:
      ValueError: a padding tuple of odd length or longer than 2.
      RuntimeError (at call): as every padding module (module docstring).

    Example:
      >>> from jtoolkit.models import ConstantPad1d
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> ConstantPad1d((1, 2), 0.5)(x.reshape(3, 1)).ravel().tolist()
      [0.5, 1.0, 2.0, 3.0, 0.5, 0.5]
    """

    _n = 1


class ConstantPad2d(_ConstantPad):
    """A constant padding around H and W of ``[N, H, W, C]`` (or unbatched).

    torch counterpart: ``torch.nn.ConstantPad2d(padding, value)``, channels-first.

    Raises:
      ValueError: a padding tuple of odd length or longer than 4.
      RuntimeError (at call): as every padding module (module docstring).

    Example:
      >>> from jtoolkit.models import ConstantPad2d
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> ConstantPad2d((1, 2, 0, 0), 0.5)(x.reshape(1, 3, 1)).ravel().tolist()
      [0.5, 1.0, 2.0, 3.0, 0.5, 0.5]
    """

    _n = 2


class ConstantPad3d(_ConstantPad):
    """A constant padding around D, H and W of ``[N, D, H, W, C]`` (or unbatched).

    torch counterpart: ``torch.nn.ConstantPad3d(padding, value)``, channels-first.

    Raises:
      ValueError: a padding tuple of odd length or longer than 6.
      RuntimeError (at call): as every padding module (module docstring).

    Example:
      >>> from jtoolkit.models import ConstantPad3d
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> ConstantPad3d((1, 2, 0, 0, 0, 0), 0.5)(x.reshape(1, 1, 3, 1)).ravel().tolist()
      [0.5, 1.0, 2.0, 3.0, 0.5, 0.5]
    """

    _n = 3


class ReflectionPad1d(_Pad):
    """Mirror padding around L of ``[N, L, C]`` (or unbatched).

    torch counterpart: ``torch.nn.ReflectionPad1d(padding)``, channels-first.

    Raises:
      ValueError: a padding tuple of odd length or longer than 2.
      RuntimeError (at call): as every padding module (module docstring).

    Example:
      >>> from jtoolkit.models import ReflectionPad1d
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> ReflectionPad1d((1, 2))(x.reshape(3, 1)).ravel().tolist()
      [2.0, 1.0, 2.0, 3.0, 2.0, 1.0]
    """

    _n, _mode = 1, "reflect"


class ReflectionPad2d(_Pad):
    """Mirror padding around H and W of ``[N, H, W, C]`` (or unbatched).

    torch counterpart: ``torch.nn.ReflectionPad2d(padding)``, channels-first.

    Raises:
      ValueError: a padding tuple of odd length or longer than 4.
      RuntimeError (at call): as every padding module (module docstring).

    Example:
      >>> from jtoolkit.models import ReflectionPad2d
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> ReflectionPad2d((1, 2, 0, 0))(x.reshape(1, 3, 1)).ravel().tolist()
      [2.0, 1.0, 2.0, 3.0, 2.0, 1.0]
    """

    _n, _mode = 2, "reflect"


class ReflectionPad3d(_Pad):
    """Mirror padding around D, H and W of ``[N, D, H, W, C]`` (or unbatched).

    torch counterpart: ``torch.nn.ReflectionPad3d(padding)``, channels-first.

    Raises:
      ValueError: a padding tuple of odd length or longer than 6.
      RuntimeError (at call): as every padding module (module docstring).

    Example:
      >>> from jtoolkit.models import ReflectionPad3d
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> ReflectionPad3d((1, 2, 0, 0, 0, 0))(x.reshape(1, 1, 3, 1)).ravel().tolist()
      [2.0, 1.0, 2.0, 3.0, 2.0, 1.0]
    """

    _n, _mode = 3, "reflect"


class ReplicationPad1d(_Pad):
    """Edge padding around L of ``[N, L, C]`` (or unbatched).

    torch counterpart: ``torch.nn.ReplicationPad1d(padding)``, channels-first.

    Raises:
      ValueError: a padding tuple of odd length or longer than 2.
      RuntimeError (at call): as every padding module (module docstring).

    Example:
      >>> from jtoolkit.models import ReplicationPad1d
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> ReplicationPad1d((1, 2))(x.reshape(3, 1)).ravel().tolist()
      [1.0, 1.0, 2.0, 3.0, 3.0, 3.0]
    """

    _n, _mode = 1, "replicate"


class ReplicationPad2d(_Pad):
    """Edge padding around H and W of ``[N, H, W, C]`` (or unbatched).

    torch counterpart: ``torch.nn.ReplicationPad2d(padding)``, channels-first.

    Raises:
      ValueError: a padding tuple of odd length or longer than 4.
      RuntimeError (at call): as every padding module (module docstring).

    Example:
      >>> from jtoolkit.models import ReplicationPad2d
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> ReplicationPad2d((1, 2, 0, 0))(x.reshape(1, 3, 1)).ravel().tolist()
      [1.0, 1.0, 2.0, 3.0, 3.0, 3.0]
    """

    _n, _mode = 2, "replicate"


class ReplicationPad3d(_Pad):
    """Edge padding around D, H and W of ``[N, D, H, W, C]`` (or unbatched).

    torch counterpart: ``torch.nn.ReplicationPad3d(padding)``, channels-first.

    Raises:
      ValueError: a padding tuple of odd length or longer than 6.
      RuntimeError (at call): as every padding module (module docstring).

    Example:
      >>> from jtoolkit.models import ReplicationPad3d
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> ReplicationPad3d((1, 2, 0, 0, 0, 0))(x.reshape(1, 1, 3, 1)).ravel().tolist()
      [1.0, 1.0, 2.0, 3.0, 3.0, 3.0]
    """

    _n, _mode = 3, "replicate"


class CircularPad1d(_Pad):
    """Wrap padding around L of ``[N, L, C]`` (or unbatched).

    torch counterpart: ``torch.nn.CircularPad1d(padding)``, channels-first.

    Raises:
      ValueError: a padding tuple of odd length or longer than 2.
      RuntimeError (at call): as every padding module (module docstring).

    Example:
      >>> from jtoolkit.models import CircularPad1d
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> CircularPad1d((1, 2))(x.reshape(3, 1)).ravel().tolist()
      [3.0, 1.0, 2.0, 3.0, 1.0, 2.0]
    """

    _n, _mode = 1, "circular"


class CircularPad2d(_Pad):
    """Wrap padding around H and W of ``[N, H, W, C]`` (or unbatched).

    torch counterpart: ``torch.nn.CircularPad2d(padding)``, channels-first.

    Raises:
      ValueError: a padding tuple of odd length or longer than 4.
      RuntimeError (at call): as every padding module (module docstring).

    Example:
      >>> from jtoolkit.models import CircularPad2d
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> CircularPad2d((1, 2, 0, 0))(x.reshape(1, 3, 1)).ravel().tolist()
      [3.0, 1.0, 2.0, 3.0, 1.0, 2.0]
    """

    _n, _mode = 2, "circular"


class CircularPad3d(_Pad):
    """Wrap padding around D, H and W of ``[N, D, H, W, C]`` (or unbatched).

    torch counterpart: ``torch.nn.CircularPad3d(padding)``, channels-first.

    Raises:
      ValueError: a padding tuple of odd length or longer than 6.
      RuntimeError (at call): as every padding module (module docstring).

    Example:
      >>> from jtoolkit.models import CircularPad3d
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> CircularPad3d((1, 2, 0, 0, 0, 0))(x.reshape(1, 1, 3, 1)).ravel().tolist()
      [3.0, 1.0, 2.0, 3.0, 1.0, 2.0]
    """

    _n, _mode = 3, "circular"
