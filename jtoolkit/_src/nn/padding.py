"""Padding modules (torch.nn.Zero/Constant/Reflection/Replication/CircularPad1d-3d)
on channels-last input, on top of the one ``F.pad``.

jtoolkit's image layers are channels-last ([N, L, C], [N, H, W, C],
[N, D, H, W, C]; unbatched without N), so these modules pad the 1-3 spatial axes
just before the channel axis. The ``padding`` tuple keeps torch's meaning and
order, last spatial axis first: ``(left, right)`` pads L (or W), ``(left, right,
top, bottom)`` pads W then H, ``(left, right, top, bottom, front, back)`` pads W,
H, then D. The module moves the channel axis in front of the spatial axes, calls
``F.pad`` (torch's last-dims-first rule and its four modes), and moves it back.
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


def _doc(torch_name: str, n: int, what: str, example: str) -> str:
    value = ", value" if "Constant" in torch_name else ""
    return f"""torch's ``nn.{torch_name}`` on channels-last input: {what}.

    torch: ``torch.nn.{torch_name}(padding{value})``
    pads the last {n} axes of a channels-first tensor; here the input is
    {_AXES[n]} (or unbatched) and the same ``padding`` tuple pads the same
    spatial axes (torch's order: the last spatial axis first).

    Raises:
      ValueError: a padding tuple of odd length or longer than {2 * n}.
      RuntimeError (at call): input without the channel axis, or a size
        ``F.pad``'s mode rejects.

    Example:
{example}
    """


class ZeroPad1d(_Pad):
    _n = 1


class ZeroPad2d(_Pad):
    _n = 2


class ZeroPad3d(_Pad):
    _n = 3


class ConstantPad1d(_ConstantPad):
    _n = 1


class ConstantPad2d(_ConstantPad):
    _n = 2


class ConstantPad3d(_ConstantPad):
    _n = 3


class ReflectionPad1d(_Pad):
    _n, _mode = 1, "reflect"


class ReflectionPad2d(_Pad):
    _n, _mode = 2, "reflect"


class ReflectionPad3d(_Pad):
    _n, _mode = 3, "reflect"


class ReplicationPad1d(_Pad):
    _n, _mode = 1, "replicate"


class ReplicationPad2d(_Pad):
    _n, _mode = 2, "replicate"


class ReplicationPad3d(_Pad):
    _n, _mode = 3, "replicate"


class CircularPad1d(_Pad):
    _n, _mode = 1, "circular"


class CircularPad2d(_Pad):
    _n, _mode = 2, "circular"


class CircularPad3d(_Pad):
    _n, _mode = 3, "circular"


_WHAT = {
    "constant": "zeros",
    "reflect": "the mirror image without the edge",
    "replicate": "copies of the edge",
    "circular": "wrap-around values",
}
_ONE = "      >>> x = jnp.array([[1.0], [2.0], [3.0]])  # [L, C]\n"
_EXAMPLE = {
    "ZeroPad": "ravel().tolist()\n      [0.0, 1.0, 2.0, 3.0, 0.0, 0.0]",
    "ConstantPad": "ravel().tolist()\n      [0.5, 1.0, 2.0, 3.0, 0.5, 0.5]",
    "ReflectionPad": "ravel().tolist()\n      [2.0, 1.0, 2.0, 3.0, 2.0, 1.0]",
    "ReplicationPad": "ravel().tolist()\n      [1.0, 1.0, 2.0, 3.0, 3.0, 3.0]",
    "CircularPad": "ravel().tolist()\n      [3.0, 1.0, 2.0, 3.0, 1.0, 2.0]",
}
for _cls in (
    ZeroPad1d, ZeroPad2d, ZeroPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d,
    ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReplicationPad1d,
    ReplicationPad2d, ReplicationPad3d, CircularPad1d, CircularPad2d, CircularPad3d,
):  # fmt: skip
    _name = _cls.__name__
    _family = _name[:-2]
    _pads = str((1, 2) + (0, 0) * (_cls._n - 1))
    _args = f"{_pads}, 0.5" if _family == "ConstantPad" else _pads
    _what = "the constant ``value``" if _family == "ConstantPad" else _WHAT[_cls._mode]
    _shape = {1: "(3, 1)", 2: "(1, 3, 1)", 3: "(1, 1, 3, 1)"}[_cls._n]
    _cls.__doc__ = _doc(
        _name,
        _cls._n,
        f"pads the spatial axes with {_what}",
        f"      >>> from jtoolkit.models import {_name}\n{_ONE}"
        f"      >>> {_name}({_args})(x.reshape{_shape}).{_EXAMPLE[_family]}",
    )
