"""Pure channels-last convolution kernels behind ``jtoolkit.models`` (N*C, *IO).

Three lowerings of the same convolution (any number of spatial dims, strides,
explicit padding, dilation) give the same numbers (to float32 rounding):

* ``"xla"``: ``lax.conv_general_dilated`` and its autodiff (cuDNN on GPU);
* ``"im2col"``: the prod(k) shifted strided slices of the padded input concatenated
  along channels, then one ``[N*prod(out), prod(k)*C] @ [prod(k)*C, O]`` matmul,
  differentiated by autodiff;
* ``"hybrid"``: XLA's convolution forward and for the input gradient, but the kernel
  gradient as im2col + matmul over small batch chunks (``lax.scan``) whose patches stay
  in cache. Measured on 2 CPU cores, XLA's CPU kernel-gradient convolution is the
  slow part of a conv layer (3.5-7x slower than this in isolation) while its forward
  is fast; a whole CNN train step gained 7-26% (benchmarks/RESULTS.md).

* ``"looped"``: XLA's convolution forward, and both gradients as convolutions
  already in the layout XLA's CPU convolution kernel takes (batch-major input,
  ``HWIO`` kernel), transposed explicitly. Outside a loop XLA rewrites the
  gradient convolutions into that form itself; inside a ``while`` body (a
  ``lax.scan``) it does not, and the kernel gradient then runs on XLA's generic
  convolution loop: 37x slower for a Conv2d(32, 64, 3) at batch 64 (7.0 s
  against 0.19 s for 8 steps), which made ``steps_per_execution > 1`` 25x slower
  per step for a CNN. "auto" picks it for every convolution traced inside
  ``in_loop()`` (the k-step scan of ``jtoolkit.train``) on the CPU.

``"auto"`` picks, at trace time (``pick_impl``), on the CPU backend "hybrid" for a
2-D grouped convolution and a shifted-slice multiply-add for a 2-D depthwise one;
for an ungrouped 2-D layer, "hybrid" where it pays with its compile time counted
(``hybrid_pays``: 1x1 kernels, and k x k ones at stride 1 from 32 in-channels on
28x28 maps), "xla" elsewhere; "xla" for 1-D/3-D and off the CPU. "im2col" and
"hybrid" run a grouped convolution once per group.
"hybrid" and "looped" are ``jax.custom_vjp``s: reverse mode (grad, any order)
works, forward mode (``jax.jvp``/``jacfwd``) does not; use ``impl="xla"`` for that.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
from collections.abc import Iterator
from functools import partial
from typing import cast

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__: list[str] = []


Pair = tuple[int, int]


Padding = tuple[Pair, ...]


_IMPLS = ("auto", "xla", "im2col", "hybrid", "looped")


_LOOP = threading.local()  # depth of in_loop() contexts on this thread


_CHUNK_BYTES = 4 * 2**20  # patches per scan step: about L2-sized


_HYBRID_MIN_CHANNELS = 32  # "auto": a k x k (k > 1) layer's in-channels for "hybrid"


_HYBRID_MIN_PIXELS = 28 * 28  # ... and its input's pixels per image


_SPATIAL = {1: "W", 2: "HW", 3: "DHW"}


def dimension_numbers(n: int) -> tuple[str, str, str]:
    """Channels-last ``lax`` dimension numbers for ``n`` spatial dims."""
    s = _SPATIAL[n]
    return f"N{s}C", f"{s}IO", f"N{s}C"


def pair(value: int | tuple[int, ...], name: str) -> Pair:
    """``(v, v)`` for an int, the pair itself for a 2-sequence."""
    if isinstance(value, int | np.integer):
        return int(value), int(value)
    values = tuple(int(v) for v in value)
    if len(values) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, but got {value!r}")
    return values[0], values[1]


def pick_impl(impl: str, n: int = 2, groups: int = 1, depthwise: bool = False) -> str:
    """The lowering to trace: ``impl`` itself, or for "auto" the best measured one.

    "auto" is, on one CPU device, "hybrid" for a 2-D convolution and "shifted"
    (the sum of prod(k) shifted input slices times their kernel row, no matmul)
    for a 2-D depthwise one (one input channel per group; ~4x faster than XLA's
    there); "xla" elsewhere: on a GPU, for 1-D/3-D convolutions, and while
    tracing under a multi-device mesh (a
    data-parallel step traces under ``use_abstract_mesh``), where the hybrid kernel
    gradient's chunked scan makes XLA gather the batch (measured in
    benchmarks/RESULTS.md, "Scaling"). A grouped convolution runs "hybrid" once
    per group: XLA's CPU gradient of a grouped convolution is ~20x slower than
    that (benchmarks/bench_conv.py, "grouped").
    """
    if impl not in _IMPLS:
        raise ValueError(f"impl must be one of {_IMPLS}, but got impl={impl!r}")
    if impl != "auto":
        return impl
    if jax.default_backend() != "cpu":
        return "xla"
    if n == 2 and groups > 1 and depthwise:
        return "shifted"
    if getattr(_LOOP, "depth", 0):
        return "looped"
    if n != 2 or jax.sharding.get_abstract_mesh().size > 1:
        return "xla"
    return "hybrid"


@contextlib.contextmanager
def in_loop() -> Iterator[None]:
    """Convolutions traced inside run in a ``while`` body (a ``lax.scan`` of train
    steps): "auto" picks "looped" for them on the CPU (module doc)."""
    _LOOP.depth = getattr(_LOOP, "depth", 0) + 1
    try:
        yield
    finally:
        _LOOP.depth -= 1


def hybrid_pays(
    x_shape: tuple[int, ...], kernel_shape: tuple[int, ...], stride: tuple[int, ...]
) -> bool:
    """Whether "auto" runs an ungrouped 2-D layer "hybrid" rather than "xla", its
    compile time counted (benchmarks/bench_conv.py ``--only lowering``: a
    ResNet-8's layers, batch 128, 2 CPU cores; benchmarks/RESULTS.md).

    A 1x1 kernel compiles as fast either way and its kernel gradient runs ~2x
    faster: "hybrid". A k x k kernel (k > 1) compiles 3-6x slower as "hybrid"
    (0.6-1.3 s more per layer there) and ran 1.1-1.8x slower than XLA's when
    strided, from 1 or 16 in-channels or on 8x8-16x16 maps; it paid only at
    stride 1 from 32 in-channels on 28x28 maps (Conv2d(32, 64) 0.88x, the CNN's
    step 0.73x): "hybrid" only from ``_HYBRID_MIN_CHANNELS`` in-channels and
    ``_HYBRID_MIN_PIXELS`` pixels per image at stride 1.
    """
    *k, cin, _ = kernel_shape
    if math.prod(k) == 1:
        return True
    return (
        all(s == 1 for s in stride)
        and cin >= _HYBRID_MIN_CHANNELS
        and math.prod(x_shape[1:-1]) >= _HYBRID_MIN_PIXELS
    )


def lowering(impl: str, n: int, groups: int, depthwise: bool = False):
    """The kernel ``(x, w, stride, padding, dilation, groups) -> y`` for ``impl``;
    "im2col"/"hybrid"/"looped" run once per channel group and concatenate. "auto"
    picks per layer (``hybrid_pays``) when it picks "hybrid" for an ungrouped
    convolution."""
    chosen = pick_impl(impl, n, groups, depthwise)
    if chosen == "xla":
        return conv_xla
    if chosen == "shifted":
        return lambda x, w, stride, padding, dilation, groups: conv_shifted(
            x, w, stride, padding, dilation
        )
    fn = {"im2col": conv_im2col, "hybrid": conv_hybrid, "looped": conv_looped}[chosen]
    per_layer = impl == "auto" and chosen == "hybrid"

    def per_group(x, w, stride, padding, dilation, groups):
        if groups == 1:
            if per_layer and not hybrid_pays(x.shape, w.shape, stride):
                return conv_xla(x, w, stride, padding, dilation)
            return fn(x, w, stride, padding, dilation)
        parts = zip(jnp.split(x, groups, -1), jnp.split(w, groups, -1), strict=True)
        ys = [fn(xg, wg, stride, padding, dilation) for xg, wg in parts]
        return jnp.concatenate(cast(list[jax.Array], ys), axis=-1)

    return per_group


def conv_xla(x, kernel, stride, padding, dilation=None, groups: int = 1):
    """Channels-last convolution through ``lax.conv_general_dilated``."""
    return lax.conv_general_dilated(
        x,
        kernel,
        window_strides=stride,
        padding=padding,
        rhs_dilation=dilation,
        dimension_numbers=dimension_numbers(x.ndim - 2),
        feature_group_count=groups,
    )


def conv_shifted(x, kernel, stride, padding, dilation):
    """A depthwise convolution ([*k, 1, C * m] kernel) as the sum over kernel
    offsets of the strided input slice times that offset's kernel row."""
    *k, _, cout = kernel.shape
    xp = _pad(x, padding)
    if cout != x.shape[-1]:  # channel multiplier m: output o reads input o // m
        xp = jnp.repeat(xp, cout // x.shape[-1], axis=-1)
    outs = _out_shape(x.shape, kernel.shape, stride, padding, dilation)[1:-1]
    acc = None
    for offsets in itertools.product(*(range(size) for size in k)):
        index = tuple(
            slice(o * d, o * d + (m - 1) * s + 1, s)
            for o, d, m, s in zip(offsets, dilation, outs, stride, strict=True)
        )
        term = xp[(slice(None), *index)] * kernel[(*offsets, 0)]
        acc = term if acc is None else acc + term
    return cast(jax.Array, acc)  # prod(k) >= 1 terms


def conv_output_size(size: int, k: int, s: int, pads: Pair, d: int = 1) -> int:
    """Spatial output length of a convolution or pooling window (floor mode)."""
    return (size + pads[0] + pads[1] - d * (k - 1) - 1) // s + 1


def _patches(xp: jax.Array, kernel, stride, dilation) -> jax.Array:
    """im2col of an already padded channels-last input: [N*prod(out), prod(k)*C]."""
    n, *sizes, cin = xp.shape
    outs = [
        (size - d * (k - 1) - 1) // s + 1
        for size, k, s, d in zip(sizes, kernel, stride, dilation, strict=True)
    ]
    slices = []
    for offsets in itertools.product(*(range(k) for k in kernel)):
        index = tuple(
            slice(o * d, o * d + (m - 1) * s + 1, s)
            for o, d, m, s in zip(offsets, dilation, outs, stride, strict=True)
        )
        slices.append(xp[(slice(None), *index)])
    patches = slices[0] if len(slices) == 1 else jnp.concatenate(slices, axis=-1)
    return patches.reshape(n * math.prod(outs), math.prod(kernel) * cin)


def _pad(x: jax.Array, padding: Padding) -> jax.Array:
    if any(p for pads in padding for p in pads):
        return jnp.pad(x, ((0, 0), *padding, (0, 0)))
    return x


def _out_shape(x_shape, kernel_shape, stride, padding, dilation):
    n, *sizes, _ = x_shape
    *kernel, _, cout = kernel_shape
    outs = map(conv_output_size, sizes, kernel, stride, padding, dilation)
    return n, *outs, cout


def conv_im2col(x, kernel, stride, padding, dilation):
    """Channels-last convolution as strided-slice patches and one matmul."""
    *k, _, cout = kernel.shape
    patches = _patches(_pad(x, padding), k, stride, dilation)
    out = patches @ kernel.reshape(-1, cout)
    return out.reshape(_out_shape(x.shape, kernel.shape, stride, padding, dilation))


def _kernel_grad_chunked(x, dy, kernel_shape, stride, padding, dilation):
    """dL/dkernel = patches(x).T @ dy, accumulated over cache-sized batch chunks."""
    *k, cin, cout = kernel_shape
    xp = _pad(x, padding)
    n = x.shape[0]
    rows_per_image = math.prod(dy.shape[1:-1])
    chunk = max(1, min(n, _CHUNK_BYTES // (4 * rows_per_image * math.prod(k) * cin)))
    steps, rest = divmod(n, chunk)

    def partial_grad(xc, dyc):  # accumulated in float32 even for bf16 activations
        patches = _patches(xc, k, stride, dilation)
        dyc = dyc.reshape(-1, cout)
        return jnp.matmul(patches.T, dyc, preferred_element_type=jnp.float32)

    def body(acc, inputs):
        return acc + partial_grad(*inputs), None

    if rest:  # zero rows add nothing: one scan body, not a second copy of it
        steps, extra = steps + 1, chunk - rest
        xp = jnp.pad(xp, [(0, extra)] + [(0, 0)] * (xp.ndim - 1))
        dy = jnp.pad(dy, [(0, extra)] + [(0, 0)] * (dy.ndim - 1))
    chunks = (
        xp.reshape(steps, chunk, *xp.shape[1:]),
        dy.reshape(steps, chunk, *dy.shape[1:]),
    )
    zero = jnp.zeros((math.prod(k) * cin, cout), jnp.float32)
    acc, _ = lax.scan(body, zero, chunks)
    return acc.reshape(kernel_shape)


@partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def conv_hybrid(x, kernel, stride, padding, dilation):
    """XLA's convolution with a cache-blocked im2col kernel gradient (module doc)."""
    return conv_xla(x, kernel, stride, padding, dilation)


def _hybrid_fwd(x, kernel, stride, padding, dilation):
    return conv_xla(x, kernel, stride, padding, dilation), (x, kernel)


def _hybrid_bwd(stride, padding, dilation, residuals, dy):
    x, kernel = residuals
    _, input_vjp = jax.vjp(lambda x: conv_xla(x, kernel, stride, padding, dilation), x)
    (dx,) = input_vjp(dy)
    dk = _kernel_grad_chunked(x, dy, kernel.shape, stride, padding, dilation)
    return dx, dk.astype(kernel.dtype)


conv_hybrid.defvjp(_hybrid_fwd, _hybrid_bwd)


def _spatial_pads(x_shape, kernel_shape, out_shape, stride, padding, dilation):
    """Per spatial dim: (size, kernel, out, stride, (lo, hi), dilation)."""
    return list(
        zip(
            x_shape[1:-1],
            kernel_shape[:-2],
            out_shape[1:-1],
            stride,
            padding,
            dilation,
            strict=True,
        )
    )


def _input_grad(dy, kernel, x_shape, stride, padding, dilation):
    """dL/dx as one batch-major convolution: ``dy`` dilated by the stride against
    the spatially flipped kernel with in/out swapped (``HWIO`` already)."""
    n = len(stride)
    flipped = jnp.flip(kernel, tuple(range(n)))
    swapped = jnp.swapaxes(flipped, -1, -2)
    pads = []
    for size, k, out, s, (lo, _), d in _spatial_pads(
        x_shape, kernel.shape, dy.shape, stride, padding, dilation
    ):
        before = (k - 1) * d - lo
        pads.append((before, size - (out - 1) * s - 1 + lo))
    return lax.conv_general_dilated(
        dy,
        swapped,
        window_strides=(1,) * n,
        padding=pads,
        lhs_dilation=stride,
        rhs_dilation=dilation,
        dimension_numbers=dimension_numbers(n),
    )


def _kernel_grad(x, dy, kernel_shape, stride, padding, dilation):
    """dL/dkernel as one batch-major convolution: the input's channels are the
    batch and its images the features ([C, *S, N]), ``dy`` the kernel
    ([*O, N, O_c]) dilated by the stride; the result [C, *k, O_c] transposed."""
    n = len(stride)
    lhs = jnp.moveaxis(x, (0, x.ndim - 1), (x.ndim - 1, 0))
    rhs = jnp.moveaxis(dy, 0, n)
    pads = []
    for size, k, out, s, (lo, _), d in _spatial_pads(
        x.shape, kernel_shape, dy.shape, stride, padding, dilation
    ):
        pads.append((lo, (k - 1) * d + (out - 1) * s + 1 - size - lo))
    g = lax.conv_general_dilated(
        lhs,
        rhs,
        window_strides=dilation,
        padding=pads,
        rhs_dilation=stride,
        dimension_numbers=dimension_numbers(n),
    )
    return jnp.moveaxis(g, 0, n)


@partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def conv_looped(x, kernel, stride, padding, dilation):
    """XLA's convolution with both gradients in XLA's CPU kernel layout (module
    doc: fast inside a ``while`` body too)."""
    return conv_xla(x, kernel, stride, padding, dilation)


def _looped_fwd(x, kernel, stride, padding, dilation):
    return conv_xla(x, kernel, stride, padding, dilation), (x, kernel)


def _looped_bwd(stride, padding, dilation, residuals, dy):
    x, kernel = residuals
    dx = _input_grad(dy, kernel, x.shape, stride, padding, dilation)
    dk = _kernel_grad(x, dy, kernel.shape, stride, padding, dilation)
    return dx.astype(x.dtype), dk.astype(kernel.dtype)


conv_looped.defvjp(_looped_fwd, _looped_bwd)
