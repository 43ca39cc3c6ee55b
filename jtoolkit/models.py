"""torch.nn layers and the tutorial's networks on Flax NNX, with torch's numbers.

torch: ``torch.nn``. Layers take torch's constructor arguments, use torch's default
initialisation and export/import torch's ``state_dict`` names and layouts. Activations
are channels-last (NHWC) where torch is NCHW. Mode lives in NNX's attributes, so
``model.train()`` / ``model.eval()`` work as in torch. Models run eagerly or through
the functional core (``nnx.split`` once, ``nnx.merge`` inside ``jax.jit``, return
``nnx.state(model)`` so BatchNorm statistics and RNG counters come back). Inside
``jax.grad``, merge from plain arrays (``nnx.to_pure_dict`` or a ``jax.tree.map`` copy)
so the Variables belong to grad's trace; merging Variables captured from the enclosing
``jit`` and then mutating them (BatchNorm, Dropout) raises flax's TraceContextError.
Mode flags are static: re-split after ``.train()``/``.eval()`` and pass the graphdef as
a static argument (never a closed-over constant) so ``jit`` retraces.

Example:
  >>> from flax import nnx
  >>> from jtoolkit import models
  >>> model = models.SimpleNN(rngs=nnx.Rngs(0))
  >>> model(jnp.ones((2, 1024))).shape, models.count_parameters(model)
  ((2, 10), 231850)
"""

from jtoolkit._src.core.compilation_cache import enable_compilation_cache
from jtoolkit._src.nn.activations import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    RReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softmax2d,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from jtoolkit._src.nn.attention import MultiheadAttention
from jtoolkit._src.nn.containers import Identity, ModuleDict, ModuleList, Sequential
from jtoolkit._src.nn.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from jtoolkit._src.nn.distance import CosineSimilarity, PairwiseDistance
from jtoolkit._src.nn.dropout import Dropout, Dropout2d
from jtoolkit._src.nn.fold import Fold, PixelShuffle, PixelUnshuffle, Unfold
from jtoolkit._src.nn.init import Buffer, to
from jtoolkit._src.nn.linear import Bilinear, Embedding, EmbeddingBag, Linear
from jtoolkit._src.nn.networks import CNN, MLP, LSTMClassifier, SimpleNN
from jtoolkit._src.nn.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    LocalResponseNorm,
    RMSNorm,
)
from jtoolkit._src.nn.padding import (
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)
from jtoolkit._src.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    FractionalMaxPool2d,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
)
from jtoolkit._src.nn.recurrent import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    RNNBase,
    RNNCell,
    RNNCellBase,
)
from jtoolkit._src.nn.reshape import Flatten, Unflatten
from jtoolkit._src.nn.state_dict import (
    IncompatibleKeys,
    load_safetensors,
    load_torch_state_dict,
    save_safetensors,
    torch_state_dict,
)
from jtoolkit._src.nn.summary import count_parameters, summary
from jtoolkit._src.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from jtoolkit._src.nn.upsampling import (
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)

# Building a model compiles its random initialisation (a few small programs, ~0.3 s
# on a CPU), before any training entry point runs: JAX's persistent compilation
# cache is on from this import, so a second run compiles none of it (README, "The
# compilation cache"; JTOOLKIT_COMPILATION_CACHE=0 set before the import opts out).
enable_compilation_cache()

__all__ = [
    "CELU",
    "CNN",
    "ELU",
    "GELU",
    "GLU",
    "GRU",
    "LSTM",
    "MLP",
    "RNN",
    "SELU",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "Bilinear",
    "Buffer",
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "CosineSimilarity",
    "Dropout",
    "Dropout2d",
    "Embedding",
    "EmbeddingBag",
    "Flatten",
    "Fold",
    "FractionalMaxPool2d",
    "GRUCell",
    "GroupNorm",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "Identity",
    "IncompatibleKeys",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LPPool1d",
    "LPPool2d",
    "LPPool3d",
    "LSTMCell",
    "LSTMClassifier",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LocalResponseNorm",
    "LogSigmoid",
    "LogSoftmax",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
    "Mish",
    "ModuleDict",
    "ModuleList",
    "MultiheadAttention",
    "PReLU",
    "PairwiseDistance",
    "PixelShuffle",
    "PixelUnshuffle",
    "RMSNorm",
    "RNNBase",
    "RNNCell",
    "RNNCellBase",
    "RReLU",
    "ReLU",
    "ReLU6",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SimpleNN",
    "Softmax",
    "Softmax2d",
    "Softmin",
    "Softplus",
    "Softshrink",
    "Softsign",
    "Tanh",
    "Tanhshrink",
    "Threshold",
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "Unflatten",
    "Unfold",
    "Upsample",
    "UpsamplingBilinear2d",
    "UpsamplingNearest2d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
    "count_parameters",
    "load_safetensors",
    "load_torch_state_dict",
    "save_safetensors",
    "summary",
    "to",
    "torch_state_dict",
]
