"""Helpers shared by the tests of tests/nn/ (one copy per area)."""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtoolkit import models
from jtoolkit.models import (
    BatchNorm2d,
    Conv2d,
    Dropout,
    Embedding,
    Linear,
    ReLU,
    Sequential,
)

E, HEADS, L, S, N = 8, 2, 4, 5, 2


def _close_mha(actual, expected, rtol=1e-5, atol=2e-6):
    if hasattr(expected, "detach"):
        expected = expected.detach().numpy()
    np.testing.assert_allclose(np.asarray(actual), expected, rtol, atol)


def _load(ref, model):
    sd = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    return models.load_torch_state_dict(model, sd)


RTOL = 1e-5  # float32; windows and rows here sum <= 16 terms


def _dtype(torch_dtype):
    name = str(torch_dtype).removeprefix("torch.")
    return jax.dtypes.canonicalize_dtype(np.dtype(name))


def check(torch, rng, jfn, tfn, inputs, rtol=RTOL, atol=1e-6, jit=True, eager=True):
    """Values eager (and jitted); gradients of float inputs against autograd.

    ``eager=False`` compiles once: values and gradients from one jitted function
    (for ops whose eager run dispatches many small programs, e.g. pooling folds).
    A test running many cases of one function passes ``eager`` for one case only:
    every case is still compared with torch from the jitted program, and the eager
    case shows that the eager path runs the same Python (jit traces exactly what
    eager runs, so the two can differ only by XLA's fusion rounding, which the
    tolerances cover).
    """
    tin = [torch.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    theirs = tfn(*tin)
    diff = [i for i, x in enumerate(inputs) if x.dtype.kind == "f"]
    grad_too = bool(diff) and theirs.dtype.is_floating_point
    if eager:
        runs = [jfn(*inputs)] + ([jax.jit(jfn)(*inputs)] if jit else [])
    if grad_too:  # drawn only here, so the caller's rng stream is as before
        w = rng.standard_normal(tuple(theirs.shape)).astype(np.float32)
        loss = jax.grad(lambda *a: (jfn(*a) * w).sum(), argnums=tuple(diff))
    else:
        w, loss = None, None
    if eager:
        grads = jax.jit(loss)(*inputs) if loss is not None else ()
    else:
        both = jax.jit(lambda *a: (jfn(*a), loss(*a) if loss is not None else ()))
        value, grads = both(*inputs)
        runs = [value]
    for ours in runs:
        assert ours.dtype == _dtype(theirs.dtype) and ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=rtol, atol=atol)
    if not grad_too:
        return
    (theirs * torch.tensor(w)).sum().backward()
    for g, i in zip(grads, diff, strict=True):
        np.testing.assert_allclose(g, tin[i].grad.numpy(), rtol=rtol, atol=atol)


def _x(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _to_torch_layout(x):
    """jtoolkit's channels-last array in torch's channels-first layout."""
    x = np.asarray(x)
    if x.ndim == 5:
        return x.transpose(0, 4, 1, 2, 3)
    if x.ndim == 4:
        return x.transpose(0, 3, 1, 2)
    if x.ndim == 3:
        return x.transpose(0, 2, 1)
    return x


def _from_torch_layout(x):
    x = np.asarray(x)
    if x.ndim == 5:
        return x.transpose(0, 2, 3, 4, 1)
    if x.ndim == 4:
        return x.transpose(0, 2, 3, 1)
    if x.ndim == 3:
        return x.transpose(0, 2, 1)
    return x


def _randomize(torch, ref):
    """Non-trivial parameters (LayerNorm/GroupNorm start at ones and zeros)."""
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.3 * torch.randn_like(p))


def _parity(
    torch, rng, ref, layer, x, channels_last=True, atol=1e-6, rtol=1e-5, eager=True
):
    """Load ref's weights into layer; compare output, dL/dx and dL/dparams.

    The output is compared twice: from one jitted program that also computes the
    gradients, and (``eager=True``) from an eager call. An eager call compiles one
    program per primitive and shape, so a test running many cases of one layer
    passes ``eager`` for one case only: the jitted program checks every case
    against torch, and the one eager case shows that the eager path runs the same
    code (a layer's ``__call__`` is one Python function; jit traces exactly what
    eager runs, so a case's eager output can only differ from its jitted output
    through XLA's fusion rounding, which the tolerances here cover).
    """
    _randomize(torch, ref)
    sd = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    models.load_torch_state_dict(layer, sd)
    to_t = _to_torch_layout if channels_last else np.asarray
    from_t = _from_torch_layout if channels_last else np.asarray
    tx = torch.tensor(to_t(x), dtype=torch.float32, requires_grad=True)
    ty = ref(tx.clone())  # inplace=True layers may not write into a leaf
    weights = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    (ty * torch.from_numpy(weights)).sum().backward()
    expected = from_t(ty.detach().numpy())
    if eager:
        np.testing.assert_allclose(layer(jnp.asarray(x)), expected, rtol, atol)
    graphdef, params, rest = nnx.split(layer, nnx.Param, ...)
    cotangent = jnp.asarray(from_t(weights))

    def loss(params, x):
        y = nnx.merge(graphdef, params, rest)(x)
        return jnp.sum(y * cotangent), y

    grad = jax.grad(loss, argnums=(0, 1), has_aux=True)
    (gp, gx), jitted = jax.jit(grad)(params, jnp.asarray(x))
    np.testing.assert_allclose(jitted, expected, rtol, atol)
    np.testing.assert_allclose(gx, from_t(tx.grad.numpy()), rtol, atol)
    grads = models.torch_state_dict(nnx.merge(graphdef, gp, rest))
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol, atol, name)
    assert models.summary(layer) == str(ref)


def _close(actual, expected, rtol=RTOL, atol=1e-6):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol, atol)


def _t(torch, array):
    return torch.tensor(np.asarray(array), dtype=torch.float32)


def _load_from(torch_module, model):
    sd = {k: v.detach().numpy() for k, v in torch_module.state_dict().items()}
    return models.load_torch_state_dict(model, sd)


def _nchw(torch, x):
    return _t(torch, np.asarray(x).transpose(0, 3, 1, 2))


def _nhwc(tensor):
    return tensor.detach().numpy().transpose(0, 2, 3, 1)


# ---------------------------------------------------------------- networks


def torch_cnn(torch, in_channels=1, num_classes=10):
    """The torch twin of ``models.CNN`` (NCHW)."""
    nn = torch.nn

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 32, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(32, 64, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )
            self.pool = nn.AdaptiveAvgPool2d((4, 4))
            self.classifier = nn.Sequential(
                nn.Flatten(),
                nn.Linear(1024, 128),
                nn.ReLU(),
                nn.Linear(128, num_classes),
            )

        def forward(self, x):
            return self.classifier(self.pool(self.features(x)))

    return CNN()


def torch_mlp(torch, sizes, dropout):
    nn = torch.nn

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            layers = []
            for i in range(len(sizes) - 1):
                layers.append(nn.Linear(sizes[i], sizes[i + 1]))
                if i < len(sizes) - 2:
                    layers.append(nn.Tanh())
                    layers.append(nn.Dropout(dropout))
            self.layers = nn.Sequential(*layers)

        def forward(self, x):
            return self.layers(x)

    return MLP()


def torch_lstm_classifier(torch):
    nn = torch.nn

    class LSTMClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 8, num_layers=2, batch_first=True)
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            return self.fc(self.lstm(x)[0][:, -1])

    return LSTMClassifier()


class ConvNet(nnx.Module):
    """A conv network using every layer's repr, with a torch twin below."""

    def __init__(self, rngs):
        self.conv = Conv2d(3, 8, 3, stride=2, padding=1, bias=False, rngs=rngs)
        self.same = Conv2d(8, 8, (3, 4), padding="same", rngs=rngs)
        self.bn = BatchNorm2d(8, momentum=None)
        self.body = Sequential(ReLU(), models.MaxPool2d(2), models.Flatten())
        self.drop = Dropout(0.25, rngs=rngs)
        self.heads = nnx.List([Linear(8, 2, rngs=rngs), Linear(8, 2, rngs=rngs)])
        self.emb = Embedding(5, 8, rngs=rngs)
        self.acts = nnx.List([models.GELU(), models.LeakyReLU(), models.Tanh()])
        self.plain = nnx.data({"out": Linear(2, 1, bias=False, rngs=rngs)})


def torch_convnet(torch):
    nn = torch.nn

    class ConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
            self.same = nn.Conv2d(8, 8, (3, 4), padding="same")
            self.bn = nn.BatchNorm2d(8, momentum=None)
            self.body = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
            self.drop = nn.Dropout(0.25)
            self.heads = nn.ModuleList([nn.Linear(8, 2), nn.Linear(8, 2)])
            self.emb = nn.Embedding(5, 8)
            self.acts = nn.ModuleList([nn.GELU(), nn.LeakyReLU(), nn.Tanh()])
            self.plain = nn.ModuleDict({"out": nn.Linear(2, 1, bias=False)})

    return ConvNet()
