"""The torch -> jtoolkit tables that ``from_torch`` interprets a torch.fx graph with.

Three tables, keyed by what a torch.fx node names:

* ``MODULES``: torch leaf module class name -> ``(check, build, layout)``: ``check``
  returns why a configuration is unsupported (or None), ``build(torch_module,
  rngs)`` makes the jtoolkit layer whose torch state dict is then loaded, and
  ``layout`` says how the layer meets torch's layout ("same", or "channels": the
  jtoolkit layer takes channels last, so NC... is moved to N...C and back).
  Weight-free modules (activations, pooling, Flatten) become functions instead:
  ``STATELESS`` maps them to ``fn(torch_module) -> callable``.
* ``FUNCTIONS``: torch/operator functions (``torch.flatten``, ``F.relu``,
  ``operator.add``, ...) -> jax callables with torch's signature.
* ``METHODS``: tensor methods (``x.view``, ``x.mean``, ...) -> jax callables.

Every table entry takes torch's arguments; the graph keeps torch's layout (NCHW)
between nodes, so pooling and flatten see exactly what torch sees.

Example:
    >>> METHODS["view"](jnp.arange(6), 2, -1).shape
    (2, 3)
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
from flax import nnx

from jtoolkit._src.nn.conv import Conv2d
from jtoolkit._src.nn.dropout import Dropout
from jtoolkit._src.nn.functional.activation import (
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    silu,
    softmax,
    tanh,
)
from jtoolkit._src.nn.functional.flatten import flatten
from jtoolkit._src.nn.functional.pooling import (
    adaptive_avg_pool2d,
    avg_pool2d,
    max_pool2d,
)
from jtoolkit._src.nn.linear import Embedding, Linear
from jtoolkit._src.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from jtoolkit._src.nn.recurrent import GRU, LSTM, RNN
from jtoolkit._src.nn.transformer import TransformerEncoder, TransformerEncoderLayer

__all__ = ["FUNCTIONS", "METHODS", "MODULES", "STATELESS", "torch_function_key"]


def _dim_kw(fn: Callable) -> Callable:
    """A reduction with torch's ``dim``/``keepdim`` names."""

    def reduce(x, dim=None, keepdim=False, *, dtype=None):
        axis = tuple(dim) if isinstance(dim, list | tuple) else dim
        return fn(x, axis=axis, keepdims=keepdim)

    return reduce


def _view(x, *shape):
    shape = (
        shape[0] if len(shape) == 1 and isinstance(shape[0], list | tuple) else shape
    )
    return jnp.reshape(x, tuple(int(s) for s in shape))


def _size(x, dim=None):
    return tuple(x.shape) if dim is None else x.shape[dim]


def _transpose(x, dim0, dim1):
    return jnp.swapaxes(x, dim0, dim1)


def _permute(x, *dims):
    dims = dims[0] if len(dims) == 1 and isinstance(dims[0], list | tuple) else dims
    return jnp.transpose(x, dims)


def _squeeze(x, dim=None):
    if dim is None:
        return jnp.squeeze(x)
    return jnp.squeeze(x, dim) if x.shape[dim] == 1 else x


def _cat(tensors, dim=0):
    return jnp.concatenate(tensors, axis=dim)


def _stack(tensors, dim=0):
    return jnp.stack(tensors, axis=dim)


def _add(x, y, *, alpha=1):
    return x + alpha * y


def _softmax_method(fn):
    return lambda x, dim=None, dtype=None: fn(x, dim=dim)


FUNCTIONS: dict[str, Callable] = {
    "_operator.add": operator.add,
    "_operator.sub": operator.sub,
    "_operator.mul": operator.mul,
    "_operator.truediv": operator.truediv,
    "_operator.floordiv": operator.floordiv,
    "_operator.matmul": operator.matmul,
    "_operator.neg": operator.neg,
    "_operator.pow": operator.pow,
    "_operator.getitem": operator.getitem,
    "torch.add": _add,
    "torch.sub": lambda x, y, *, alpha=1: x - alpha * y,
    "torch.mul": operator.mul,
    "torch.div": operator.truediv,
    "torch.matmul": jnp.matmul,
    "torch.cat": _cat,
    "torch.concat": _cat,
    "torch.stack": _stack,
    "torch.flatten": flatten,
    "torch.relu": relu,
    "torch.sigmoid": sigmoid,
    "torch.tanh": tanh,
    "torch.exp": jnp.exp,
    "torch.log": jnp.log,
    "torch.sqrt": jnp.sqrt,
    "torch.abs": jnp.abs,
    "torch.softmax": softmax,
    "torch.log_softmax": log_softmax,
    "torch.sum": _dim_kw(jnp.sum),
    "torch.mean": _dim_kw(jnp.mean),
    "torch.transpose": _transpose,
    "torch.permute": _permute,
    "torch.reshape": _view,
    "torch.nn.functional.relu": relu,
    "torch.nn.functional.gelu": gelu,
    "torch.nn.functional.silu": silu,
    "torch.nn.functional.leaky_relu": leaky_relu,
    "torch.nn.functional.softmax": softmax,
    "torch.nn.functional.log_softmax": log_softmax,
    "torch.nn.functional.max_pool2d": max_pool2d,
    "torch.nn.functional.avg_pool2d": avg_pool2d,
    "torch.nn.functional.adaptive_avg_pool2d": adaptive_avg_pool2d,
    "torch.nn.functional.sigmoid": sigmoid,
    "torch.nn.functional.tanh": tanh,
}

METHODS: dict[str, Callable] = {
    "view": _view,
    "reshape": _view,
    "flatten": flatten,
    "size": _size,
    "permute": _permute,
    "transpose": _transpose,
    "contiguous": lambda x: x,
    "float": lambda x: x.astype(jnp.float32),
    "mean": _dim_kw(jnp.mean),
    "sum": _dim_kw(jnp.sum),
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "exp": jnp.exp,
    "softmax": _softmax_method(softmax),
    "log_softmax": _softmax_method(log_softmax),
    "unsqueeze": jnp.expand_dims,
    "squeeze": _squeeze,
    "add": _add,
    "mul": operator.mul,
    "pow": operator.pow,
}


def torch_function_key(fn: Any) -> str:
    """The FUNCTIONS key of a torch.fx ``call_function`` target."""
    module = getattr(fn, "__module__", None) or ""
    name = getattr(fn, "__name__", repr(fn))
    if module.startswith("torch.nn.functional") or module == "torch.nn.functional":
        return f"torch.nn.functional.{name}"
    if module in ("_operator", "operator"):
        return f"_operator.{name}"
    if module.startswith("torch") or module == "":
        return f"torch.{name}"
    return f"{module}.{name}"


def _bias(m) -> bool:
    return getattr(m, "bias", None) is not None


def _unsupported_conv(m) -> str | None:
    bad = []
    if m.groups != 1:
        bad.append(f"groups={m.groups}")
    if tuple(m.dilation) != (1, 1):
        bad.append(f"dilation={tuple(m.dilation)}")
    if m.padding_mode != "zeros":
        bad.append(f"padding_mode={m.padding_mode!r}")
    return ", ".join(bad) or None


def _unsupported_norm(m) -> str | None:
    if not (m.affine and m.track_running_stats):
        return "affine=False or track_running_stats=False"
    return None


def _unsupported_rnn(m) -> str | None:
    return "proj_size > 0" if getattr(m, "proj_size", 0) else None


def _unsupported_encoder(m) -> str | None:
    layer = m.layers[0]
    if not isinstance(layer.activation, str) and getattr(
        layer.activation, "__name__", ""
    ) not in ("relu", "gelu"):
        return f"activation {layer.activation!r}"
    return None


def _rnn_kwargs(m, rngs) -> dict[str, Any]:
    return {
        "input_size": m.input_size,
        "hidden_size": m.hidden_size,
        "num_layers": m.num_layers,
        "bias": m.bias,
        "batch_first": m.batch_first,
        "dropout": float(m.dropout),
        "bidirectional": m.bidirectional,
        "rngs": rngs,
    }


def _encoder(m, rngs) -> nnx.Module:
    layer = m.layers[0]
    act = layer.activation
    act = act if isinstance(act, str) else act.__name__
    attn = layer.self_attn

    def make():
        return TransformerEncoderLayer(
            attn.embed_dim,
            attn.num_heads,
            layer.linear1.out_features,
            dropout=float(layer.dropout.p),
            activation=act,
            layer_norm_eps=layer.norm1.eps,
            batch_first=attn.batch_first,
            norm_first=layer.norm_first,
            bias=layer.linear1.bias is not None,
            rngs=rngs,
        )

    norm = None
    if m.norm is not None:
        norm = LayerNorm(tuple(m.norm.normalized_shape), eps=m.norm.eps)
    return TransformerEncoder(make, m.num_layers, norm=norm)


MODULES: dict[str, tuple[Callable, Callable, str]] = {
    "Linear": (
        lambda m: None,
        lambda m, r: Linear(m.in_features, m.out_features, bias=_bias(m), rngs=r),
        "same",
    ),
    "Conv2d": (
        _unsupported_conv,
        lambda m, r: Conv2d(
            m.in_channels,
            m.out_channels,
            tuple(m.kernel_size),
            stride=tuple(m.stride),
            padding=m.padding if isinstance(m.padding, str) else tuple(m.padding),
            bias=_bias(m),
            rngs=r,
        ),
        "channels",
    ),
    "BatchNorm2d": (
        _unsupported_norm,
        lambda m, r: BatchNorm2d(m.num_features, eps=m.eps, momentum=m.momentum),
        "channels",
    ),
    "BatchNorm1d": (
        _unsupported_norm,
        lambda m, r: BatchNorm1d(m.num_features, eps=m.eps, momentum=m.momentum),
        "channels",
    ),
    "LayerNorm": (
        lambda m: None if m.elementwise_affine else "elementwise_affine=False",
        lambda m, r: LayerNorm(
            tuple(m.normalized_shape), eps=m.eps, bias=m.bias is not None
        ),
        "same",
    ),
    "Embedding": (
        lambda m: (
            "padding_idx/max_norm" if m.padding_idx is not None or m.max_norm else None
        ),
        lambda m, r: Embedding(m.num_embeddings, m.embedding_dim, rngs=r),
        "same",
    ),
    "Dropout": (lambda m: None, lambda m, r: Dropout(m.p, rngs=r), "same"),
    "LSTM": (_unsupported_rnn, lambda m, r: LSTM(**_rnn_kwargs(m, r)), "same"),
    "GRU": (_unsupported_rnn, lambda m, r: GRU(**_rnn_kwargs(m, r)), "same"),
    "RNN": (
        _unsupported_rnn,
        lambda m, r: RNN(**_rnn_kwargs(m, r), nonlinearity=m.nonlinearity),
        "same",
    ),
    "TransformerEncoder": (_unsupported_encoder, _encoder, "same"),
}


def _pool(fn: Callable, *names: str) -> Callable:
    """A pooling module's forward as ``fn`` with the module's own arguments."""

    def make(m) -> Callable:
        kwargs = {n: getattr(m, n) for n in names}
        return lambda x: fn(x, **kwargs)

    return make


def _with(fn: Callable, **attrs: str) -> Callable:
    """``fn(x, kw=module.attr, ...)`` with the attributes read now."""

    def make(m) -> Callable:
        kwargs = {kw: getattr(m, attr) for kw, attr in attrs.items()}
        return lambda x: fn(x, **kwargs)

    return make


STATELESS: dict[str, Callable[[Any], Callable]] = {
    "ReLU": lambda m: relu,
    "GELU": _with(gelu, approximate="approximate"),
    "SiLU": lambda m: silu,
    "Sigmoid": lambda m: sigmoid,
    "Tanh": lambda m: tanh,
    "LeakyReLU": _with(leaky_relu, negative_slope="negative_slope"),
    "Softmax": _with(softmax, dim="dim"),
    "LogSoftmax": _with(log_softmax, dim="dim"),
    "Identity": lambda m: lambda x: x,
    "Flatten": _with(flatten, start_dim="start_dim", end_dim="end_dim"),
    "MaxPool2d": _pool(
        max_pool2d, "kernel_size", "stride", "padding", "dilation", "ceil_mode"
    ),
    "AvgPool2d": _pool(
        avg_pool2d,
        "kernel_size",
        "stride",
        "padding",
        "ceil_mode",
        "count_include_pad",
        "divisor_override",
    ),
    "AdaptiveAvgPool2d": _pool(adaptive_avg_pool2d, "output_size"),
}
