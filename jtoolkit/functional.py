"""torch.nn.functional as pure JAX functions: ``import jtoolkit.functional as F``.

Every torch loss of ``jtoolkit.losses`` (``F.cross_entropy``, ``F.mse_loss``, ...)
plus activations, ``dropout``, ``linear``, ``one_hot``, ``flatten``, pooling,
``pad``, ``normalize`` and ``cosine_similarity``, with torch's signatures,
defaults, numbers and error types.

Where JAX or jtoolkit's layouts force a difference:

* ``dropout(x, p, training, key)`` takes a PRNG key (the fourth argument, where
  torch has ``inplace``; ``inplace=`` is keyword-only and ignored everywhere).
* Pooling takes torch's NCHW (or CHW) by default, so the same array gives torch's
  answer; ``data_format="NHWC"`` serves jtoolkit's NHWC image layers. The layout
  is never guessed from the shape.
* ``flatten(x, start_dim=1)`` flattens the array it gets in row-major order, as
  torch and ``models.Flatten`` do (no layout guess).
* ``linear`` takes torch's ``[out_features, in_features]`` weight.
* ``one_hot`` returns the default int (int32 without ``jax_enable_x64``).

Example:
    >>> import jtoolkit.functional as F
    >>> logits = F.linear(jnp.ones((2, 3)), jnp.ones((4, 3)))
    >>> F.softmax(F.relu(logits), dim=1).tolist()
    [[0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]]
"""

from jtoolkit._src.losses.classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)
from jtoolkit._src.losses.ctc import ctc_loss
from jtoolkit._src.losses.embedding import (
    cosine_embedding_loss,
    triplet_margin_with_distance_loss,
)
from jtoolkit._src.losses.margin import (
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
)
from jtoolkit._src.losses.probabilistic import gaussian_nll_loss, poisson_nll_loss
from jtoolkit._src.losses.regression import (
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    smooth_l1_loss,
)
from jtoolkit._src.losses.triplet import triplet_margin_loss
from jtoolkit._src.nn.functional.activation import (
    celu,
    elu,
    gelu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    logsigmoid,
    mish,
    prelu,
    relu,
    relu6,
    rrelu,
    selu,
    sigmoid,
    silu,
    softmax,
    softmin,
    softplus,
    softshrink,
    softsign,
    tanh,
    tanhshrink,
    threshold,
)
from jtoolkit._src.nn.functional.conv import (
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)
from jtoolkit._src.nn.functional.distance import (
    cosine_similarity,
    normalize,
    pairwise_distance,
)
from jtoolkit._src.nn.functional.dropout import dropout, dropout2d
from jtoolkit._src.nn.functional.flatten import flatten
from jtoolkit._src.nn.functional.fold import (
    fold,
    pixel_shuffle,
    pixel_unshuffle,
    unfold,
)
from jtoolkit._src.nn.functional.linear import bilinear, linear
from jtoolkit._src.nn.functional.normalization import (
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
    local_response_norm,
    rms_norm,
)
from jtoolkit._src.nn.functional.padding import pad
from jtoolkit._src.nn.functional.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    fractional_max_pool2d,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
)
from jtoolkit._src.nn.functional.sparse import embedding, embedding_bag, one_hot
from jtoolkit._src.nn.functional.upsampling import interpolate

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "batch_norm",
    "bilinear",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "celu",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "cosine_embedding_loss",
    "cosine_similarity",
    "cross_entropy",
    "ctc_loss",
    "dropout",
    "dropout2d",
    "elu",
    "embedding",
    "embedding_bag",
    "flatten",
    "fold",
    "fractional_max_pool2d",
    "gaussian_nll_loss",
    "gelu",
    "glu",
    "group_norm",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "hinge_embedding_loss",
    "huber_loss",
    "instance_norm",
    "interpolate",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "local_response_norm",
    "log_softmax",
    "logsigmoid",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "margin_ranking_loss",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "mish",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "pairwise_distance",
    "pixel_shuffle",
    "pixel_unshuffle",
    "poisson_nll_loss",
    "prelu",
    "relu",
    "relu6",
    "rms_norm",
    "rrelu",
    "selu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "soft_margin_loss",
    "softmax",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "tanh",
    "tanhshrink",
    "threshold",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
    "unfold",
]
