"""Convolutions: torch's ``F.conv1d/2d/3d`` and ``F.conv_transpose1d/2d/3d``.

Layouts. By default torch's: input ``[N, C, *spatial]`` (or unbatched ``[C,
*spatial]``) and weight ``[out, in/groups, *k]`` (transposed: ``[in, out/groups,
*k]``), so the same arrays give torch's answer. ``data_format`` channels-last
(``"NLC"``, ``"NHWC"``, ``"NDHWC"``) is jtoolkit's layer layout for both operands:
input ``[N, *spatial, C]`` (or ``[*spatial, C]``) and weight as the layers keep their
``kernel``, ``[*k, in/groups, out]`` (transposed: ``[*k, in, out/groups]``). The
layout is never guessed from the shape.

The computation is one channels-last convolution (``lax.conv_general_dilated``,
or for ``groups=1`` the CPU-tuned lowerings of ``conv_lowering``); a transposed
convolution is the input-dilated convolution with the spatially flipped kernel:
``lhs_dilation=stride``, padding ``dilation * (k - 1) - padding`` on each side plus
``output_padding`` at the end, input and output channels swapped per group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jtoolkit._src.core import arrays, checks
from jtoolkit._src.core.eager_jit import eager_jit
from jtoolkit._src.nn import conv_lowering

__all__ = [
    "channels_last",
    "check_output_padding",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "expand",
    "same_padding",
]


_FORMATS = {1: ("NCL", "NLC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}


def channels_last(n: int) -> str:
    """The channels-last ``data_format`` for ``n`` spatial dims ("NHWC" for 2)."""
    return _FORMATS[n][1]


def expand(value: Any, n: int, name: str, fname: str) -> tuple[int, ...]:
    """torch's ``int[n]`` argument: an int, or a sequence of 1 or ``n`` ints."""
    items = tuple(value) if isinstance(value, tuple | list) else (value,)
    if len(items) == 1:
        items *= n
    if len(items) != n:
        raise RuntimeError(
            f"expected {name} to be a single integer value or a list of {n} values "
            f"to match the convolution dimensions, but got {name}={list(items)}"
        )
    return tuple(checks.torch_int_arg(name, v, fname) for v in items)


def same_padding(kernel: tuple[int, ...], dilation: tuple[int, ...]):
    """torch's ``padding="same"``: ``d * (k - 1)`` per dim, the odd element last."""
    return tuple(
        (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
        for k, d in zip(kernel, dilation, strict=True)
    )


def _channels_last(input, weight, n: int, data_format: str, fname: str, transposed):
    """The input as [N, *S, C], the weight channels-last, and the undo for outputs."""
    checks.check_choice("data_format", data_format, _FORMATS[n], fn=fname)
    x, w = arrays.to_array(input), arrays.to_array(weight)
    if w.ndim != n + 2:
        raise RuntimeError(
            f"{fname}: expected a {n + 2}-D weight, but got weight of size "
            f"{checks.shape_str(w.shape)}"
        )
    if x.ndim not in (n + 1, n + 2):
        raise RuntimeError(
            f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {fname}, "
            f"but got input of size: {list(x.shape)}"
        )
    batched = x.ndim == n + 2
    x = x if batched else x[None]
    first = data_format == _FORMATS[n][0]
    if first:
        x = jnp.moveaxis(x, 1, -1)
        spatial = tuple(range(2, n + 2))
        w = w.transpose(*spatial, 0, 1) if transposed else w.transpose(*spatial, 1, 0)

    def restore(y: jax.Array) -> jax.Array:
        y = jnp.moveaxis(y, -1, 1) if first else y
        return y if batched else y[0]

    return x, w, restore


def _torch_shapes(x: jax.Array, w: jax.Array, transposed: bool):
    """The shapes torch's messages show: NC* input, OI* (IO* transposed) weight."""
    n = x.ndim - 2
    xs = (x.shape[0], x.shape[-1], *x.shape[1:-1])
    ws = (w.shape[n], w.shape[n + 1]) if transposed else (w.shape[n + 1], w.shape[n])
    return list(xs), list((*ws, *w.shape[:n]))


def _check_operands(x, w, bias, groups: int, transposed: bool) -> int:
    """torch's channel, group and bias checks; returns the output channel count."""
    n = x.ndim - 2
    xs, ws = _torch_shapes(x, w, transposed)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if ws[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at "
            f"dimension 0, but got weight of size [{ws}] instead"
        )
    expected = ws[0] if transposed else ws[1] * groups
    if x.shape[-1] != expected:
        given = "transposed=1" if transposed else f"groups={groups}"
        raise RuntimeError(
            f"Given {given}, weight of size {ws}, expected input{xs} to have "
            f"{expected} channels, but got {x.shape[-1]} channels instead"
        )
    out = w.shape[n + 1] * groups if transposed else w.shape[n + 1]
    if bias is not None and tuple(np.shape(bias)) != (out,):
        raise RuntimeError(
            f"Given weight of size {ws}, expected bias to be 1-dimensional with "
            f"{out} elements, but got bias of size {list(np.shape(bias))} instead"
        )
    return out


def _check_geometry(stride, padding, dilation) -> None:
    if min(stride) <= 0:
        raise RuntimeError("non-positive stride is not supported")
    if min(padding) < 0:
        raise RuntimeError("negative padding is not supported")
    if min(dilation) <= 0:
        raise RuntimeError("non-positive dilation is not supported")


def _conv_pads(padding, kernel, stride, dilation, n: int, fname: str):
    """torch's ``padding`` (ints, "valid", "same") as ((lo, hi), ...) per dim."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding != "same":
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if max(stride) != 1:
            raise RuntimeError(
                "padding='same' is not supported for strided convolutions"
            )
        return same_padding(kernel, dilation)
    pads = expand(padding, n, "padding", fname)
    _check_geometry(stride, pads, dilation)
    return tuple((p, p) for p in pads)


def _check_window(x, kernel, dilation, pads) -> None:
    """torch's "Kernel size can't be greater than actual input size"."""
    padded = [s + lo + hi for s, (lo, hi) in zip(x.shape[1:-1], pads, strict=True)]
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    if any(p < k for p, k in zip(padded, span, strict=True)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}"
            f"). Kernel size: ({' x '.join(map(str, span))}). Kernel size can't be "
            "greater than actual input size"
        )


def _conv_nd(
    x: jax.Array,
    w: jax.Array,
    bias,
    stride: tuple[int, ...],
    pads,
    dilation: tuple[int, ...],
    groups: int,
    impl: str = "xla",
) -> jax.Array:
    """Channels-last convolution of checked operands ([N, *S, C] x [*k, C/g, O])."""
    depthwise = w.shape[-2] == 1
    lowering = conv_lowering.lowering(impl, x.ndim - 2, groups, depthwise)
    y = cast(jax.Array, lowering(x, w, stride, pads, dilation, groups))
    return y if bias is None else y + jnp.asarray(bias, y.dtype)


def _conv(n: int, fname: str) -> Callable[..., jax.Array]:
    def conv(input, weight, bias, stride, padding, dilation, groups, data_format, impl):
        x, w, restore = _channels_last(input, weight, n, data_format, fname, False)
        stride = expand(stride, n, "stride", fname)
        dilation = expand(dilation, n, "dilation", fname)
        groups = checks.torch_int_arg("groups", groups, fname)
        _check_operands(x, w, bias, groups, transposed=False)
        pads = _conv_pads(padding, w.shape[:n], stride, dilation, n, fname)
        _check_geometry(stride, (0,), dilation)
        _check_window(x, w.shape[:n], dilation, pads)
        return restore(_conv_nd(x, w, bias, stride, pads, dilation, groups, impl))

    return conv


def check_output_padding(output_padding, stride, dilation) -> None:
    """torch's rule: each output padding is smaller than its stride or dilation."""
    bad = any(
        o >= s and o >= d
        for o, s, d in zip(output_padding, stride, dilation, strict=True)
    )
    if not bad:
        return
    if len(stride) == 2:
        (oh, ow), (sh, sw), (dh, dw) = output_padding, stride, dilation
        detail = (
            f"output_padding_height: {oh} output_padding_width: {ow} stride_height: "
            f"{sh} stride_width: {sw} dilation_height: {dh} dilation_width: {dw}"
        )
    else:
        detail = (
            f"output_padding: {list(output_padding)} stride: {list(stride)} "
            f"dilation: {list(dilation)}"
        )
    raise RuntimeError(
        f"output padding must be smaller than either stride or dilation, but got "
        f"{detail}"
    )


def _flip_transpose_kernel(w: jax.Array, groups: int) -> jax.Array:
    """[*k, in, out/g] (a transposed conv's) -> the flipped [*k, in/g, out] kernel."""
    *k, cin, cout_g = w.shape
    w = w.reshape(*k, groups, cin // groups, cout_g)
    w = jnp.moveaxis(w, -3, -2).reshape(*k, cin // groups, groups * cout_g)
    return w[(slice(None, None, -1),) * len(k)]


def _conv_transpose_nd(x, w, bias, stride, padding, output_padding, groups, dilation):
    """Channels-last transposed convolution of checked operands."""
    n = x.ndim - 2
    pads = [
        (d * (k - 1) - p, d * (k - 1) - p + o)
        for k, p, o, d in zip(
            w.shape[:n], padding, output_padding, dilation, strict=True
        )
    ]
    y = lax.conv_general_dilated(
        x,
        _flip_transpose_kernel(w, groups),
        window_strides=(1,) * n,
        padding=pads,
        lhs_dilation=stride,
        rhs_dilation=dilation,
        dimension_numbers=conv_lowering.dimension_numbers(n),
        feature_group_count=groups,
    )
    return y if bias is None else y + jnp.asarray(bias, y.dtype)


def _conv_transpose(n: int, fname: str) -> Callable[..., jax.Array]:
    def conv_t(
        input, weight, bias, stride, padding, output_padding, groups, dilation, fmt
    ):
        x, w, restore = _channels_last(input, weight, n, fmt, fname, True)
        if isinstance(padding, str):
            raise TypeError(
                f"{fname}(): argument 'padding' must be tuple of ints, not str "
                f"(a transposed convolution has no 'same'/'valid'; got {padding!r})"
            )
        stride = expand(stride, n, "stride", fname)
        pads = expand(padding, n, "padding", fname)
        out_pads = expand(output_padding, n, "output_padding", fname)
        dilation = expand(dilation, n, "dilation", fname)
        groups = checks.torch_int_arg("groups", groups, fname)
        _check_operands(x, w, bias, groups, transposed=True)
        _check_geometry(stride, pads + out_pads, dilation)
        check_output_padding(out_pads, stride, dilation)
        y = _conv_transpose_nd(x, w, bias, stride, pads, out_pads, groups, dilation)
        return restore(y)

    return conv_t


_CONV = {n: _conv(n, f"conv{n}d") for n in (1, 2, 3)}
_CONV_T = {n: _conv_transpose(n, f"conv_transpose{n}d") for n in (1, 2, 3)}


@eager_jit
def conv1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    data_format: str = "NCL",
    impl: str = "xla",
) -> jax.Array:
    """1-D convolution, torch's ``F.conv1d``.

    torch: ``torch.nn.functional.conv1d(input, weight, bias=None, stride=1,
    padding=0, dilation=1, groups=1)``.

    Args:
        input: ``[N, C, L]`` or ``[C, L]`` (``data_format="NLC"``: ``[N, L, C]`` /
            ``[L, C]``).
        weight: ``[out, C/groups, k]`` (``"NLC"``: ``[k, C/groups, out]``).
        bias: ``[out]`` or None.
        stride, dilation: int or 1-tuple (>= 1).
        padding: int, 1-tuple, ``"valid"`` or ``"same"`` (stride 1).
        groups: channel groups (``groups == C``: depthwise).
        data_format: ``"NCL"`` (torch's) or ``"NLC"`` (jtoolkit's layers').
        impl: the lowering (``"xla"``, ``"im2col"``, ``"hybrid"``, ``"looped"``,
            ``"auto"``; see ``models.Conv2d``).

    Returns:
        ``[N, out, L_out]`` (``"NLC"``: ``[N, L_out, out]``), unbatched without N.

    Raises:
        RuntimeError: torch's messages for channel/group/bias mismatches, bad
            stride/padding/dilation, an unknown padding string, ``"same"`` with a
            stride, or a kernel larger than the padded input.

    Example:
        >>> import jtoolkit.functional as F
        >>> F.conv1d(jnp.ones((1, 2, 5)), jnp.ones((3, 2, 2))).shape
        (1, 3, 4)
    """
    return _CONV[1](
        input, weight, bias, stride, padding, dilation, groups, data_format, impl
    )


@eager_jit
def conv2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    data_format: str = "NCHW",
    impl: str = "xla",
) -> jax.Array:
    """2-D convolution, torch's ``F.conv2d``.

    torch: ``torch.nn.functional.conv2d(input, weight, bias=None, stride=1,
    padding=0, dilation=1, groups=1)``.

    Args:
        input: ``[N, C, H, W]`` or ``[C, H, W]`` (``data_format="NHWC"``: ``[N, H, W,
            C]`` / ``[H, W, C]``).
        weight: ``[out, C/groups, kh, kw]`` (``"NHWC"``: ``[kh, kw, C/groups, out]``,
            a ``models.Conv2d``'s ``kernel``).
        bias: ``[out]`` or None.
        stride, dilation: int or pair (>= 1).
        padding: int, pair, ``"valid"`` or ``"same"`` (stride 1; the odd element
            goes last, as torch).
        groups: channel groups (``groups == C``: depthwise).
        data_format: ``"NCHW"`` (torch's) or ``"NHWC"``.
        impl: ``"xla"`` (default; any autodiff mode), ``"im2col"``, ``"hybrid"``,
            ``"looped"`` or ``"auto"``, as ``models.Conv2d``'s.

    Returns:
        ``[N, out, H_out, W_out]`` (``"NHWC"``: ``[N, H_out, W_out, out]``),
        unbatched without N.

    Raises:
        RuntimeError: torch's messages (see ``conv1d``). ValueError: an unknown
            ``impl``.

    Example:
        >>> import jtoolkit.functional as F
        >>> F.conv2d(jnp.ones((1, 4, 5, 5)), jnp.ones((4, 1, 3, 3)), groups=4,
        ...          padding="same").shape
        (1, 4, 5, 5)
    """
    return _CONV[2](
        input, weight, bias, stride, padding, dilation, groups, data_format, impl
    )


@eager_jit
def conv3d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    data_format: str = "NCDHW",
    impl: str = "xla",
) -> jax.Array:
    """3-D convolution, torch's ``F.conv3d``.

    torch: ``torch.nn.functional.conv3d(input, weight, bias=None, stride=1,
    padding=0, dilation=1, groups=1)``.

    Args:
        input: ``[N, C, D, H, W]`` or ``[C, D, H, W]`` (``data_format="NDHWC"``:
            ``[N, D, H, W, C]`` / ``[D, H, W, C]``).
        weight: ``[out, C/groups, kd, kh, kw]`` (``"NDHWC"``: ``[kd, kh, kw,
            C/groups, out]``).
        bias, stride, padding, dilation, groups, impl: as ``conv2d`` (triples).
        data_format: ``"NCDHW"`` (torch's) or ``"NDHWC"``.

    Returns:
        ``[N, out, D_out, H_out, W_out]`` (``"NDHWC"``: channels last).

    Raises:
        RuntimeError: torch's messages (see ``conv1d``).

    Example:
        >>> import jtoolkit.functional as F
        >>> F.conv3d(jnp.ones((1, 1, 4, 4, 4)), jnp.ones((2, 1, 3, 3, 3))).shape
        (1, 2, 2, 2, 2)
    """
    return _CONV[3](
        input, weight, bias, stride, padding, dilation, groups, data_format, impl
    )


@eager_jit
def conv_transpose1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    data_format: str = "NCL",
) -> jax.Array:
    """Transposed 1-D convolution, torch's ``F.conv_transpose1d``.

    torch: ``torch.nn.functional.conv_transpose1d(input, weight, bias=None,
    stride=1, padding=0, output_padding=0, groups=1, dilation=1)``. Output length
    ``(L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.

    Args:
        input: ``[N, C, L]`` or ``[C, L]`` (``data_format="NLC"``: channels last).
        weight: ``[C, out/groups, k]`` (``"NLC"``: ``[k, C, out/groups]``).
        bias: ``[out]`` or None.
        stride, padding, output_padding, dilation: int or 1-tuple.
        groups: channel groups.
        data_format: ``"NCL"`` (torch's) or ``"NLC"``.

    Returns:
        ``[N, out, L_out]`` (``"NLC"``: ``[N, L_out, out]``), unbatched without N.

    Raises:
        RuntimeError: torch's messages (channels, groups, bias, stride, padding,
            output padding not smaller than stride or dilation). TypeError: a
            string padding.

    Example:
        >>> import jtoolkit.functional as F
        >>> F.conv_transpose1d(jnp.ones((1, 2, 4)), jnp.ones((2, 3, 3)), stride=2
        ...                    ).shape
        (1, 3, 9)
    """
    return _CONV_T[1](
        input, weight, bias, stride, padding, output_padding, groups, dilation,
        data_format,
    )  # fmt: skip


@eager_jit
def conv_transpose2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    data_format: str = "NCHW",
) -> jax.Array:
    """Transposed 2-D convolution, torch's ``F.conv_transpose2d``.

    torch: ``torch.nn.functional.conv_transpose2d(input, weight, bias=None,
    stride=1, padding=0, output_padding=0, groups=1, dilation=1)``.

    Args:
        input: ``[N, C, H, W]`` or ``[C, H, W]`` (``data_format="NHWC"``: channels
            last).
        weight: ``[C, out/groups, kh, kw]`` (``"NHWC"``: ``[kh, kw, C,
            out/groups]``, a ``models.ConvTranspose2d``'s ``kernel``).
        bias, stride, padding, output_padding, groups, dilation: as
            ``conv_transpose1d`` (pairs).
        data_format: ``"NCHW"`` (torch's) or ``"NHWC"``.

    Returns:
        ``[N, out, H_out, W_out]`` (``"NHWC"``: channels last).

    Raises:
        RuntimeError, TypeError: as ``conv_transpose1d``.

    Example:
        >>> import jtoolkit.functional as F
        >>> F.conv_transpose2d(jnp.ones((1, 4, 3, 3)), jnp.ones((4, 1, 2, 2)),
        ...                    stride=2, groups=2).shape
        (1, 2, 6, 6)
    """
    return _CONV_T[2](
        input, weight, bias, stride, padding, output_padding, groups, dilation,
        data_format,
    )  # fmt: skip


@eager_jit
def conv_transpose3d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    data_format: str = "NCDHW",
) -> jax.Array:
    """Transposed 3-D convolution, torch's ``F.conv_transpose3d``.

    torch: ``torch.nn.functional.conv_transpose3d(input, weight, bias=None,
    stride=1, padding=0, output_padding=0, groups=1, dilation=1)``.

    Args:
        input: ``[N, C, D, H, W]`` or ``[C, D, H, W]`` (``data_format="NDHWC"``:
            channels last).
        weight: ``[C, out/groups, kd, kh, kw]`` (``"NDHWC"``: ``[kd, kh, kw, C,
            out/groups]``).
        bias, stride, padding, output_padding, groups, dilation: as
            ``conv_transpose1d`` (triples).
        data_format: ``"NCDHW"`` (torch's) or ``"NDHWC"``.

    Returns:
        ``[N, out, D_out, H_out, W_out]`` (``"NDHWC"``: channels last).

    Raises:
        RuntimeError, TypeError: as ``conv_transpose1d``.

    Example:
        >>> import jtoolkit.functional as F
        >>> F.conv_transpose3d(jnp.ones((1, 1, 2, 2, 2)), jnp.ones((1, 2, 2, 2, 2)),
        ...                    stride=2).shape
        (1, 2, 4, 4, 4)
    """
    return _CONV_T[3](
        input, weight, bias, stride, padding, output_padding, groups, dilation,
        data_format,
    )  # fmt: skip
