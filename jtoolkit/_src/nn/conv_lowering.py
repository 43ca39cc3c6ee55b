"""Pure 2-D convolution kernels behind ``jtoolkit.models`` (NHWC, HWIO).

Three lowerings of the same 2-D convolution give the same numbers (to float32
rounding):

* ``"xla"``: ``lax.conv_general_dilated`` and its autodiff (cuDNN on GPU);
* ``"im2col"``: the kh*kw shifted strided slices of the padded input concatenated along
  channels, then one ``[N*Ho*Wo, kh*kw*C] @ [kh*kw*C, O]`` matmul, differentiated by
  autodiff;
* ``"hybrid"``: XLA's convolution forward and for the input gradient, but the kernel
  gradient as im2col + matmul over small batch chunks (``lax.scan``) whose patches stay
  in cache. Measured on 2 CPU cores, XLA's CPU kernel-gradient convolution is the
  slow part of a conv layer (3.5-7x slower than this in isolation) while its forward
  is fast; a whole CNN train step gained 7-26% (benchmarks/RESULTS.md).

``"auto"`` picks "hybrid" on the CPU backend and "xla" elsewhere, at trace time.
"hybrid" is a ``jax.custom_vjp``: reverse mode (grad, any order) works, forward mode
(``jax.jvp``/``jacfwd``) does not; use ``impl="xla"`` for that.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__: list[str] = []


Pair = tuple[int, int]


Padding = tuple[Pair, Pair]


_IMPLS = ("auto", "xla", "im2col", "hybrid")


_CHUNK_BYTES = 4 * 2**20  # patches per scan step: about L2-sized


def pair(value: int | tuple[int, ...], name: str) -> Pair:
    """``(v, v)`` for an int, the pair itself for a 2-sequence."""
    if isinstance(value, int | np.integer):
        return int(value), int(value)
    values = tuple(int(v) for v in value)
    if len(values) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, but got {value!r}")
    return values[0], values[1]


def resolve_padding(
    padding: int | tuple[int, int] | str, kernel_size: Pair, stride: Pair
) -> Padding:
    """torch's ``padding`` argument as explicit ((top, bottom), (left, right))."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding != "same":
            raise ValueError(
                f"Invalid padding string {padding!r}, should be one of "
                "{'valid', 'same'}"
            )
        if stride != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        # torch puts the extra element of an even kernel on the right/bottom.
        (kh, kw) = kernel_size
        return ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)
    ph, pw = pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(
            f"negative padding is not supported, but got padding={padding}"
        )
    return (ph, ph), (pw, pw)


def pick_impl(impl: str) -> str:
    """The lowering to trace: ``impl`` itself, or for "auto" the best measured one.

    "auto" is "hybrid" on one CPU device and "xla" elsewhere: on a GPU, and while
    tracing under a multi-device mesh (a data-parallel step traces under
    ``use_abstract_mesh``), where the hybrid kernel gradient's chunked scan makes
    XLA gather the batch (measured in benchmarks/RESULTS.md, "Scaling").
    """
    if impl not in _IMPLS:
        raise ValueError(f"impl must be one of {_IMPLS}, but got impl={impl!r}")
    if impl != "auto":
        return impl
    if jax.default_backend() != "cpu" or jax.sharding.get_abstract_mesh().size > 1:
        return "xla"
    return "hybrid"


def conv2d_xla(x: jax.Array, kernel: jax.Array, stride: Pair, padding: Padding):
    """NHWC x HWIO convolution through ``lax.conv_general_dilated``."""
    return lax.conv_general_dilated(
        x,
        kernel,
        window_strides=stride,
        padding=padding,
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )


def _patches(xp: jax.Array, kernel_hw: Pair, stride: Pair) -> jax.Array:
    """im2col of an already padded NHWC input: [N*Ho*Wo, kh*kw*C], (i, j, c) order."""
    (kh, kw), (sh, sw) = kernel_hw, stride
    n, h, w, cin = xp.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    slices = [
        xp[:, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw, :]
        for i in range(kh)
        for j in range(kw)
    ]
    patches = slices[0] if len(slices) == 1 else jnp.concatenate(slices, axis=-1)
    return patches.reshape(n * ho * wo, kh * kw * cin)


def _pad(x: jax.Array, padding: Padding) -> jax.Array:
    if any(p for pads in padding for p in pads):
        return jnp.pad(x, ((0, 0), *padding, (0, 0)))
    return x


def conv2d_im2col(x: jax.Array, kernel: jax.Array, stride: Pair, padding: Padding):
    """NHWC x HWIO convolution as strided-slice patches and one matmul."""
    kh, kw, _, cout = kernel.shape
    patches = _patches(_pad(x, padding), (kh, kw), stride)
    out = patches @ kernel.reshape(-1, cout)
    return out.reshape(_out_shape(x.shape, kernel.shape, stride, padding))


def _out_shape(x_shape, kernel_shape, stride: Pair, padding: Padding):
    n, h, w, _ = x_shape
    kh, kw, _, cout = kernel_shape
    ho = conv_output_size(h, kh, stride[0], padding[0])
    wo = conv_output_size(w, kw, stride[1], padding[1])
    return n, ho, wo, cout


def _kernel_grad_chunked(
    x: jax.Array, dy: jax.Array, kernel_shape: tuple[int, ...], stride, padding
) -> jax.Array:
    """dL/dkernel = patches(x).T @ dy, accumulated over cache-sized batch chunks."""
    kh, kw, cin, cout = kernel_shape
    xp = _pad(x, padding)
    n = x.shape[0]
    rows_per_image = dy.shape[1] * dy.shape[2]
    chunk = max(1, min(n, _CHUNK_BYTES // (4 * rows_per_image * kh * kw * cin)))
    steps, rest = divmod(n, chunk)

    def partial_grad(xc, dyc):  # accumulated in float32 even for bf16 activations
        patches = _patches(xc, (kh, kw), stride)
        dyc = dyc.reshape(-1, cout)
        return jnp.matmul(patches.T, dyc, preferred_element_type=jnp.float32)

    def body(acc, inputs):
        return acc + partial_grad(*inputs), None

    if rest:  # zero rows add nothing: one scan body, not a second copy of it
        steps, extra = steps + 1, chunk - rest
        xp = jnp.pad(xp, ((0, extra), (0, 0), (0, 0), (0, 0)))
        dy = jnp.pad(dy, ((0, extra), (0, 0), (0, 0), (0, 0)))
    chunks = (
        xp.reshape(steps, chunk, *xp.shape[1:]),
        dy.reshape(steps, chunk, *dy.shape[1:]),
    )
    acc, _ = lax.scan(body, jnp.zeros((kh * kw * cin, cout), jnp.float32), chunks)
    return acc.reshape(kernel_shape)


@partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv2d_hybrid(x: jax.Array, kernel: jax.Array, stride: Pair, padding: Padding):
    """XLA's convolution with a cache-blocked im2col kernel gradient (module doc)."""
    return conv2d_xla(x, kernel, stride, padding)


def _hybrid_fwd(x, kernel, stride, padding):
    return conv2d_xla(x, kernel, stride, padding), (x, kernel)


def _hybrid_bwd(stride, padding, residuals, dy):
    x, kernel = residuals
    _, input_vjp = jax.vjp(lambda x: conv2d_xla(x, kernel, stride, padding), x)
    (dx,) = input_vjp(dy)
    dk = _kernel_grad_chunked(x, dy, kernel.shape, stride, padding)
    return dx, dk.astype(kernel.dtype)


conv2d_hybrid.defvjp(_hybrid_fwd, _hybrid_bwd)


def conv_output_size(size: int, k: int, s: int, pads: Pair) -> int:
    """Spatial output length of a convolution or pooling window (floor mode)."""
    return (size + pads[0] + pads[1] - k) // s + 1
