"""Layer and network parity with torch: loaded weights, outputs, gradients, init."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jtoolkit import models
from jtoolkit.models import (
    CNN,
    LSTM,
    MLP,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Embedding,
    Linear,
    LSTMClassifier,
    SimpleNN,
)

RTOL = 1e-5


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


# ---------------------------------------------------------------- Linear, Conv2d


def test_linear_matches_torch_values_and_grads_eager_and_jit(torch, rng):
    ref = torch.nn.Linear(5, 3)
    layer = _load_from(ref, Linear(5, 3, rngs=nnx.Rngs(0)))
    x = rng.standard_normal((4, 5)).astype(np.float32)
    tx = _t(torch, x).requires_grad_()
    ty = ref(tx)
    (ty**2).sum().backward()

    def loss(m, x):
        return jnp.sum(m(x) ** 2)

    for grad_fn in (jax.grad(loss, (0, 1)), jax.jit(jax.grad(loss, (0, 1)))):
        grads = grad_fn(layer, x)
        _close(grads[0].kernel[...], ref.weight.grad.numpy().T, atol=1e-5)
        _close(grads[0].bias[...], ref.bias.grad.numpy(), atol=1e-5)
        _close(grads[1], tx.grad.numpy(), atol=1e-5)
    _close(layer(x), ty.detach().numpy())
    _close(jax.jit(lambda m, x: m(x))(layer, x), ty.detach().numpy())


@pytest.mark.parametrize(
    "build,match",
    [
        (
            lambda r: Linear(0, 2, rngs=r),
            "Linear: in_features must be an integer >= 1, got 0",
        ),
        (
            lambda r: Linear(3, 2.0, rngs=r),
            "Linear: out_features must be an integer >= 1",
        ),
        (
            lambda r: Conv2d(1, -1, 3, rngs=r),
            "Conv2d: out_channels must be an integer >= 1",
        ),
        (lambda r: Embedding(True, 3, rngs=r), "Embedding: num_embeddings must be an"),
    ],
)
def test_layer_sizes_are_checked(build, match):
    with pytest.raises(ValueError, match=match):
        build(nnx.Rngs(0))


def test_linear_shape_mismatch_is_torch_runtime_error():
    layer = Linear(4, 2, rngs=nnx.Rngs(0))
    with pytest.raises(RuntimeError, match=r"\(3x5 and 4x2\)"):
        layer(jnp.ones((3, 5)))


CONV_CASES = [
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(0, 1)),
    dict(kernel_size=4, padding="same", bias=False),
    dict(kernel_size=1, stride=2, padding="valid"),
]


@pytest.mark.parametrize("impl", ["xla", "im2col", "hybrid"])
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_matches_torch_for_every_impl(torch, rng, case, impl):
    ref = torch.nn.Conv2d(3, 4, **case)
    layer = _load_from(ref, Conv2d(3, 4, **case, rngs=nnx.Rngs(0), impl=impl))
    x = rng.standard_normal((2, 9, 8, 3)).astype(np.float32)
    tx = _nchw(torch, x).requires_grad_()
    ty = ref(tx)
    (ty**2).sum().backward()

    def loss(m, x):
        return jnp.sum(m(x) ** 2)

    grads = jax.jit(jax.grad(loss, (0, 1)))(layer, x)
    _close(layer(x), _nhwc(ty), atol=1e-5)
    _close(grads[0].kernel[...], ref.weight.grad.numpy().transpose(2, 3, 1, 0), 1e-4)
    _close(grads[1], _nhwc(tx.grad), atol=1e-4)
    if ref.bias is not None:
        _close(grads[0].bias[...], ref.bias.grad.numpy(), rtol=1e-4)


def test_conv2d_impls_agree_and_reject_bad_input():
    from jtoolkit._src.nn.conv_lowering import pick_impl

    assert pick_impl("auto") == ("hybrid" if jax.default_backend() == "cpu" else "xla")
    x = jax.random.normal(jax.random.key(1), (2, 10, 10, 3))
    a = Conv2d(3, 5, 3, stride=2, padding=1, rngs=nnx.Rngs(3), impl="xla")
    b = Conv2d(3, 5, 3, stride=2, padding=1, rngs=nnx.Rngs(3), impl="im2col")
    _close(a(x), b(x), atol=1e-5)
    # forward mode needs impl="xla" (hybrid is a custom_vjp)
    tangent = jax.jvp(lambda x: a(x), (x,), (jnp.ones_like(x),))[1]
    assert tangent.shape == (2, 5, 5, 5)
    with pytest.raises(RuntimeError, match=r"NHWC.*\(2, 3, 10, 10\)"):
        a(x.transpose(0, 3, 1, 2))
    with pytest.raises(ValueError, match="strided"):
        Conv2d(3, 5, 3, stride=2, padding="same", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="impl"):
        Conv2d(3, 5, 3, rngs=nnx.Rngs(0), impl="fast")


# ---------------------------------------------------------------- BatchNorm


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("kind", ["1d", "1d_seq", "2d"])
def test_batchnorm_matches_torch_over_training_batches(torch, rng, kind, momentum):
    shape = {"1d": (6, 3), "1d_seq": (4, 5, 3), "2d": (3, 4, 5, 3)}[kind]
    if kind == "2d":
        ref, bn = (
            torch.nn.BatchNorm2d(3, momentum=momentum),
            BatchNorm2d(3, momentum=momentum),
        )
    else:
        ref, bn = (
            torch.nn.BatchNorm1d(3, momentum=momentum),
            BatchNorm1d(3, momentum=momentum),
        )
    with torch.no_grad():
        ref.weight.uniform_(0.5, 2.0)
        ref.bias.uniform_(-1.0, 1.0)
    _load_from(ref, bn)
    graphdef, state = nnx.split(nnx.clone(bn))  # its own variables, not bn's

    @jax.jit
    def step(state, x):  # the training engine's functional path
        module = nnx.merge(graphdef, state)
        return module(x), nnx.state(module)

    def to_torch(x):
        return _t(torch, np.moveaxis(x, -1, 1))

    for _ in range(4):
        # a large offset: the exact two-pass variance matters (E[x^2]-E[x]^2 fails)
        x = (100.0 + rng.standard_normal(shape) * 0.5).astype(np.float32)
        y_eager = bn(x)
        y_jit, state = step(state, x)
        expected = np.moveaxis(ref(to_torch(x)).detach().numpy(), 1, -1)
        _close(y_eager, expected, atol=1e-4)
        _close(y_jit, expected, atol=1e-4)
    jitted = nnx.merge(graphdef, state)
    for module in (bn, jitted):
        _close(module.running_mean[...], ref.running_mean.numpy())
        _close(module.running_var[...], ref.running_var.numpy())
        assert int(module.num_batches_tracked[...]) == 4
    ref.eval()
    bn.eval()
    x = (100.0 + rng.standard_normal(shape)).astype(np.float32)
    _close(bn(x), np.moveaxis(ref(to_torch(x)).detach().numpy(), 1, -1), atol=1e-4)


def test_batchnorm_single_value_per_channel_raises_like_torch():
    bn = BatchNorm1d(4, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        bn(jnp.ones((1, 4)))
    bn.eval()
    assert bn(jnp.ones((1, 4))).shape == (1, 4)
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input\)"):
        BatchNorm2d(4)(jnp.ones((3, 4)))


# ---------------------------------------------------------------- Dropout


def test_dropout_scaling_modes_and_validation():
    drop = Dropout(0.25, rngs=nnx.Rngs(0))
    y = np.asarray(drop(jnp.ones(4000)))
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.03
    assert not np.array_equal(y, np.asarray(drop(jnp.ones(4000))))  # fresh masks
    drop.eval()
    np.testing.assert_array_equal(drop(jnp.arange(3.0)), [0.0, 1.0, 2.0])
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            Dropout(bad, rngs=nnx.Rngs(0))


def test_dropout_draws_fresh_masks_through_the_functional_core():
    model = MLP([8, 16, 2], dropout=0.5, rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(model)

    @jax.jit(static_argnums=0)  # the mode lives in the graphdef: static
    def step(graphdef, state, x):
        module = nnx.merge(graphdef, state)
        return module.layers[2](x), nnx.state(module)  # Linear, ReLU, Dropout, ...

    x = jnp.ones((4, 16))
    first, state = step(graphdef, state, x)
    second, state = step(graphdef, state, x)
    assert not np.array_equal(np.asarray(first) == 0, np.asarray(second) == 0)
    model.eval()
    graphdef, state = nnx.split(model)
    third, _ = step(graphdef, state, x)
    np.testing.assert_array_equal(third, x)


# ---------------------------------------------------------------- LSTM, Embedding


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_lstm_matches_torch(torch, rng, num_layers, batch_first):
    ref = torch.nn.LSTM(3, 5, num_layers=num_layers, batch_first=batch_first)
    lstm = LSTM(3, 5, num_layers, batch_first=batch_first, rngs=nnx.Rngs(0))
    lstm = _load_from(ref, lstm)
    x = rng.standard_normal((2, 6, 3) if batch_first else (6, 2, 3)).astype(np.float32)
    h0 = rng.standard_normal((num_layers, 2, 5)).astype(np.float32)
    c0 = rng.standard_normal((num_layers, 2, 5)).astype(np.float32)
    tx = _t(torch, x).requires_grad_()
    t_out, (t_h, t_c) = ref(tx, (_t(torch, h0), _t(torch, c0)))
    (t_out.sum() + t_c.sum()).backward()

    def loss(m, x):
        out, (_, c) = m(x, (h0, c0))
        return out.sum() + c.sum()

    out, (h, c) = lstm(x, (h0, c0))
    _close(out, t_out.detach().numpy())
    _close(h, t_h.detach().numpy())
    _close(c, t_c.detach().numpy())
    grads = jax.jit(jax.grad(loss, (0, 1)))(lstm, x)
    _close(grads[1], tx.grad.numpy(), atol=1e-5)
    for k in range(num_layers):
        name = f"weight_hh_l{k}"
        _close(getattr(grads[0], name)[...], getattr(ref, name).grad.numpy(), atol=1e-5)


def test_lstm_unbatched_and_default_state(torch, rng):
    ref = torch.nn.LSTM(3, 4, batch_first=True)
    lstm = _load_from(ref, LSTM(3, 4, rngs=nnx.Rngs(0)))
    x = rng.standard_normal((5, 3)).astype(np.float32)
    t_out, (t_h, _) = ref(_t(torch, x))
    out, (h, _) = lstm(x)
    _close(out, t_out.detach().numpy())
    _close(h, t_h.detach().numpy())


def test_embedding_matches_torch_and_checks_ids(torch):
    ref = torch.nn.Embedding(7, 3)
    emb = _load_from(ref, Embedding(7, 3, rngs=nnx.Rngs(0)))
    ids = np.array([[0, 6, 2], [3, 3, 1]])
    _close(emb(ids), ref(torch.tensor(ids)).detach().numpy(), rtol=0, atol=0)
    with pytest.raises(IndexError, match="index out of range"):
        emb(jnp.array([7]))


# ---------------------------------------------------------------- init


def _bound_and_std(values, bound):
    values = np.asarray(values).ravel()
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.98 * bound
    np.testing.assert_allclose(values.std(), bound / np.sqrt(3), rtol=0.05)


def test_init_distributions_match_torch(torch):
    rngs = nnx.Rngs(0)
    cases = [
        (Linear(400, 300, rngs=rngs), torch.nn.Linear(400, 300), 1 / 20),
        (Conv2d(16, 32, 3, rngs=rngs), torch.nn.Conv2d(16, 32, 3), 1 / 12),
    ]
    for layer, ref, bound in cases:
        _bound_and_std(layer.kernel[...], bound)
        _bound_and_std(ref.weight.detach(), bound)
        assert np.abs(np.asarray(layer.bias[...])).max() <= bound
    lstm, ref = LSTM(10, 64, rngs=rngs), torch.nn.LSTM(10, 64)
    for name in ("weight_ih_l0", "weight_hh_l0"):
        _bound_and_std(getattr(lstm, name)[...], 1 / 8)
        _bound_and_std(getattr(ref, name).detach(), 1 / 8)
    weights = np.asarray(Embedding(1000, 50, rngs=rngs).weight[...])
    assert abs(weights.mean()) < 0.01
    np.testing.assert_allclose(weights.std(), 1.0, rtol=0.02)
    np.testing.assert_allclose(
        torch.nn.Embedding(1000, 50).weight.std().item(), 1, 0.02
    )


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


def torch_simple(torch):
    nn = torch.nn

    class SimpleNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(1024, 224)
            self.fc2 = nn.Linear(224, 10)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    return SimpleNN()


def _networks(torch, rng):
    """(name, torch twin, jtoolkit model, jtoolkit input, torch input)."""
    image = rng.standard_normal((2, 11, 13, 3)).astype(np.float32)
    seq = rng.standard_normal((2, 5, 3)).astype(np.float32)
    flat = rng.standard_normal((3, 1024)).astype(np.float32)
    small = rng.standard_normal((3, 6)).astype(np.float32)
    rngs = nnx.Rngs(0)
    return [
        ("simple", torch_simple(torch), SimpleNN(rngs=rngs), flat, _t(torch, flat)),
        (
            "mlp",
            torch_mlp(torch, [6, 9, 7, 2], 0.3),
            MLP([6, 9, 7, 2], "tanh", 0.3, rngs=rngs),
            small,
            _t(torch, small),
        ),
        (
            "cnn",
            torch_cnn(torch, 3, 5),
            CNN(3, 5, rngs=rngs),
            image,
            _nchw(torch, image),
        ),
        (
            "lstm",
            torch_lstm_classifier(torch),
            LSTMClassifier(3, 8, 4, num_layers=2, rngs=rngs),
            seq,
            _t(torch, seq),
        ),
    ]


def test_networks_load_torch_weights_and_export_back(torch, rng):
    for name, ref, model, x, tx in _networks(torch, rng):
        _load_from(ref, model)
        model.eval()
        ref.eval()
        expected = ref(tx).detach().numpy()
        y = jax.jit(lambda m, x: m(x))(model, x)  # one compile, not one per op
        np.testing.assert_allclose(y, expected, RTOL, 1e-5, err_msg=name)
        fresh = type(ref)()  # another torch init; load our export into it
        fresh.load_state_dict(
            {k: torch.from_numpy(v) for k, v in models.torch_state_dict(model).items()}
        )
        fresh.eval()
        np.testing.assert_allclose(fresh(tx).detach().numpy(), expected, RTOL, 1e-6)
        assert models.count_parameters(model) == sum(
            p.numel() for p in ref.parameters()
        )


def test_networks_train_mode_without_dropout_matches_torch(torch, rng):
    for name, ref, model, x, tx in _networks(torch, rng):
        if name == "mlp":
            continue  # random masks differ by design; covered by the Dropout tests
        _load_from(ref, model)
        model.train()
        ref.train()
        y = jax.jit(lambda m, x: m(x))(model, x)
        np.testing.assert_allclose(
            y, ref(tx).detach().numpy(), RTOL, 1e-5, err_msg=name
        )
        leaves = nnx.to_flat_state(nnx.state(model))
        assert all(type(v) is nnx.Param for _, v in leaves), name


def test_cnn_accepts_digits_and_mnist_sizes():
    model = CNN(rngs=nnx.Rngs(0))
    for size in (8, 28, 32):  # shapes only: trace, no compile
        out = jax.eval_shape(lambda m, x: m(x), model, jnp.ones((2, size, size, 1)))
        assert out.shape == (2, 10)
    with pytest.raises(ValueError, match="activation"):
        MLP([2, 3], activation="swish", rngs=nnx.Rngs(0))


@pytest.mark.parametrize("args", [(2,), (3, 2, 1), ((2, 3), (1, 2))], ids=str)
def test_maxpool_values_and_tie_gradients_match_torch(torch, rng, args):
    # integer-valued input: many ties, where torch sends the gradient to the first max
    x = rng.integers(0, 3, (2, 7, 6, 3)).astype(np.float32)
    tx = _nchw(torch, x).requires_grad_()
    ty = torch.nn.MaxPool2d(*args)(tx)
    weights = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    (ty * _t(torch, weights)).sum().backward()
    pool = models.MaxPool2d(*args)
    y, pullback = jax.vjp(pool, jnp.asarray(x))
    _close(y, _nhwc(ty), rtol=0, atol=0)
    (grad,) = pullback(jnp.asarray(weights.transpose(0, 2, 3, 1)))
    _close(grad, _nhwc(tx.grad), rtol=0, atol=1e-6)
    assert models.summary(pool) == str(torch.nn.MaxPool2d(*args))
