"""jtoolkit.functional against torch.nn.functional: values, gradients (torch
autograd as the oracle on ``sum(f(x) * w)``), under ``jax.jit``, layouts and
torch's exception types.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.functional as F
import jtoolkit.losses as L

RTOL = 1e-5  # float32; windows and rows here sum <= 16 terms


def _dtype(torch_dtype):
    name = str(torch_dtype).removeprefix("torch.")
    return jax.dtypes.canonicalize_dtype(np.dtype(name))


def check(torch, rng, jfn, tfn, inputs, rtol=RTOL, atol=1e-6, jit=True):
    """Values eager (and jitted); gradients of float inputs against autograd."""
    tin = [torch.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    theirs = tfn(*tin)
    runs = [jfn(*inputs)] + ([jax.jit(jfn)(*inputs)] if jit else [])
    for ours in runs:
        assert ours.dtype == _dtype(theirs.dtype) and ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=rtol, atol=atol)
    diff = [i for i, x in enumerate(inputs) if x.dtype.kind == "f"]
    if not diff or not theirs.dtype.is_floating_point:
        return
    w = rng.standard_normal(tuple(theirs.shape)).astype(np.float32)
    (theirs * torch.tensor(w)).sum().backward()
    loss = jax.jit(jax.grad(lambda *a: (jfn(*a) * w).sum(), argnums=tuple(diff)))
    grads = loss(*inputs)
    for g, i in zip(grads, diff, strict=True):
        np.testing.assert_allclose(g, tin[i].grad.numpy(), rtol=rtol, atol=atol)


def _x(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_every_torch_loss_of_losses_is_in_functional(torch):
    torch_f = torch.nn.functional
    names = [n for n in L.__all__ if n[0].islower() and hasattr(torch_f, n)]
    assert "cross_entropy" in names and "kl_div" in names
    for name in names:
        assert name in F.__all__, name
        assert getattr(F, name) is getattr(L, name)
    for name in F.__all__:
        assert hasattr(torch_f, name) or name == "flatten", name


# --------------------------------------------------------------- activations

ACTIVATIONS = {
    "relu": (F.relu, lambda t, x: t.nn.functional.relu(x)),
    "leaky_relu": (
        lambda x: F.leaky_relu(x, 0.2),
        lambda t, x: t.nn.functional.leaky_relu(x, 0.2),
    ),
    "leaky_relu_default": (F.leaky_relu, lambda t, x: t.nn.functional.leaky_relu(x)),
    "gelu": (F.gelu, lambda t, x: t.nn.functional.gelu(x)),
    "gelu_tanh": (
        lambda x: F.gelu(x, approximate="tanh"),
        lambda t, x: t.nn.functional.gelu(x, approximate="tanh"),
    ),
    "silu": (F.silu, lambda t, x: t.nn.functional.silu(x)),
    "sigmoid": (F.sigmoid, lambda t, x: t.sigmoid(x)),
    "tanh": (F.tanh, lambda t, x: t.tanh(x)),
    "softmax": (
        lambda x: F.softmax(x, dim=1),
        lambda t, x: t.nn.functional.softmax(x, dim=1),
    ),
    "log_softmax": (
        lambda x: F.log_softmax(x, -1),
        lambda t, x: t.nn.functional.log_softmax(x, -1),
    ),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_match_torch(torch, rng, name):
    ours, theirs = ACTIVATIONS[name]
    x = _x(rng, 4, 6) * 3
    x[0, :3] = 0.0  # the kinks: torch's gradient at exactly 0
    check(torch, rng, ours, lambda a: theirs(torch, a), [x])


def test_softmax_implicit_dim_warns_as_torch(torch):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        ours = F.softmax(x)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        theirs = torch.nn.functional.softmax(torch.tensor(x))
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=RTOL)


def test_gelu_rejects_unknown_approximation(torch):
    with pytest.raises(RuntimeError, match="none or tanh"):
        torch.nn.functional.gelu(torch.zeros(2), approximate="x")
    with pytest.raises(RuntimeError, match="none or tanh"):
        F.gelu(jnp.zeros(2), approximate="x")


# ------------------------------------------------------------------- dropout


def test_dropout_scales_kept_elements_and_needs_a_key():
    x = jnp.arange(1.0, 4001.0)
    key = jax.random.key(0)
    y = F.dropout(x, 0.25, True, key)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.75, rtol=RTOL)
    assert 0.70 < float(kept.mean()) < 0.80
    grad = jax.grad(lambda v: F.dropout(v, 0.25, True, key).sum())(x)
    np.testing.assert_allclose(grad, kept / 0.75, rtol=RTOL)
    jitted = jax.jit(lambda v, k: F.dropout(v, 0.25, True, k))(x, key)
    np.testing.assert_array_equal(jitted, y)
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False), x)
    np.testing.assert_array_equal(F.dropout(x, 0.0, True), x)
    np.testing.assert_array_equal(F.dropout(x, 1.0, True), jnp.zeros_like(x))
    with pytest.raises(TypeError, match="needs a PRNG key"):
        F.dropout(x, 0.5)
    with pytest.raises(TypeError, match="inplace"):
        F.dropout(x, 0.5, True, False)
    with pytest.raises(ValueError, match=r"between 0 and 1, but got 1\.5"):
        F.dropout(x, 1.5, True, key)


# ----------------------------------------------- linear, one_hot, flatten


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(torch, rng, shape, bias):
    x, w, b = _x(rng, *shape), _x(rng, 4, 3), _x(rng, 4)
    if bias:
        check(torch, rng, F.linear, torch.nn.functional.linear, [x, w, b])
    else:
        check(torch, rng, F.linear, torch.nn.functional.linear, [x, w])


def test_linear_errors_follow_torch(torch):
    x, w = np.zeros((2, 5, 3), np.float32), np.zeros((4, 4), np.float32)
    text = r"mat1 and mat2 shapes cannot be multiplied \(10x3 and 4x4\)"
    with pytest.raises(RuntimeError, match=text):
        torch.nn.functional.linear(torch.tensor(x), torch.tensor(w))
    with pytest.raises(RuntimeError, match=text):
        F.linear(x, w)


def test_one_hot_matches_torch(torch):
    labels = np.array([[0, 2], [1, 4]])
    for kwargs in ({}, {"num_classes": 6}):
        ours = F.one_hot(labels, **kwargs)
        theirs = torch.nn.functional.one_hot(torch.tensor(labels), **kwargs)
        assert ours.dtype == _dtype(theirs.dtype)
        np.testing.assert_array_equal(ours, theirs.numpy())
    jitted = jax.jit(lambda y: F.one_hot(y, 5))(jnp.asarray(labels))
    np.testing.assert_array_equal(jitted, F.one_hot(labels))
    for bad, kwargs, text in [
        (np.array([1.0]), {}, "LongTensor"),
        (np.array([-1]), {}, "non-negative"),
        (np.array([3]), {"num_classes": 2}, "smaller than num_classes"),
        (np.zeros(0, np.int64), {}, "empty tensor"),
    ]:
        with pytest.raises(RuntimeError, match=text):
            torch.nn.functional.one_hot(torch.tensor(bad), **kwargs)
        with pytest.raises(RuntimeError, match=text):
            F.one_hot(bad, **kwargs)


def test_flatten_is_torch_flatten_from_dim_1_without_layout_change(torch, rng):
    x = _x(rng, 2, 3, 4, 5)
    check(torch, rng, F.flatten, lambda a: torch.flatten(a, 1), [x])
    check(torch, rng, lambda a: F.flatten(a, 0, 2), lambda a: a.flatten(0, 2), [x])
    # row-major order of the array given, even for an NHWC-looking batch
    nhwc = jnp.arange(8.0).reshape(1, 2, 2, 2)
    assert F.flatten(nhwc).tolist() == [list(range(8))]


# ------------------------------------------------------------------- pooling

MAX_POOL = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": (2, 3), "stride": (1, 2)},
    {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "dilation": 2, "padding": 1},
    {"kernel_size": 2, "stride": 1, "dilation": (1, 2), "ceil_mode": True},
]


@pytest.mark.parametrize("kwargs", MAX_POOL)
def test_max_pool2d_matches_torch_on_nchw(torch, rng, kwargs):
    x = rng.integers(-3, 4, (2, 3, 7, 8)).astype(np.float32)  # many ties
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda a: F.max_pool2d(a, **kwargs),
        lambda a: tf.max_pool2d(a, **kwargs),
        [x],
    )


AVG_POOL = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {
        "kernel_size": 2,
        "stride": 2,
        "padding": 1,
        "ceil_mode": True,
        "count_include_pad": False,
    },
    {"kernel_size": (2, 3), "stride": (3, 1), "divisor_override": 4},
]


@pytest.mark.parametrize("kwargs", AVG_POOL)
def test_avg_pool2d_matches_torch_on_nchw(torch, rng, kwargs):
    x = _x(rng, 2, 3, 7, 8)
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda a: F.avg_pool2d(a, **kwargs),
        lambda a: tf.avg_pool2d(a, **kwargs),
        [x],
    )


@pytest.mark.parametrize("size", [1, (2, 3), (3, None), 5, (4, 6)])
def test_adaptive_avg_pool2d_matches_torch(torch, rng, size):
    x = _x(rng, 2, 3, 7, 6)
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda a: F.adaptive_avg_pool2d(a, size),
        lambda a: tf.adaptive_avg_pool2d(a, size),
        [x],
    )


def test_pooling_layouts_unbatched_and_nhwc(rng):
    """NCHW is the default (torch's); NHWC only when asked; CHW/HWC unbatched."""
    x = _x(rng, 2, 3, 6, 6)
    nhwc = np.transpose(x, (0, 2, 3, 1))
    for fn, kwargs in [
        (F.max_pool2d, {"kernel_size": 3, "stride": 2, "padding": 1}),
        (F.avg_pool2d, {"kernel_size": 2}),
        (F.adaptive_avg_pool2d, {"output_size": (4, 2)}),
    ]:
        ref = fn(x, **kwargs)
        got = fn(nhwc, **kwargs, data_format="NHWC")
        np.testing.assert_allclose(got, np.transpose(ref, (0, 2, 3, 1)), rtol=RTOL)
        np.testing.assert_allclose(fn(x[0], **kwargs), ref[0], rtol=RTOL)
        with pytest.raises(ValueError, match="data_format"):
            fn(x, **kwargs, data_format="NCWH")


def test_pooling_errors_follow_torch(torch):
    tf = torch.nn.functional
    cases = [
        (
            "max_pool2d",
            (1, 1, 4, 4),
            {"kernel_size": 3, "padding": 2},
            "pad should be at most half",
        ),
        ("max_pool2d", (4, 4), {"kernel_size": 2}, "3D or 4D"),
        (
            "max_pool2d",
            (1, 1, 9, 9),
            {"kernel_size": 3, "padding": 2, "dilation": 2},
            "smaller than or equal to half of kernel size",
        ),
        ("max_pool2d", (1, 1, 1, 1), {"kernel_size": 2}, "Output size is too small"),
        (
            "max_pool2d",
            (1, 1, 4, 4),
            {"kernel_size": 2, "stride": 0},
            "stride should not be zero",
        ),
        ("avg_pool2d", (1, 1, 4, 4), {"kernel_size": 2, "divisor_override": 0}, None),
    ]
    for name, shape, kwargs, text in cases:
        x = np.zeros(shape, np.float32)
        with pytest.raises(RuntimeError, match=text):
            getattr(tf, name)(torch.tensor(x), **kwargs)
        with pytest.raises(RuntimeError, match=text):
            getattr(F, name)(x, **kwargs)


# ----------------------------------------------------------------------- pad

PADS = [
    ((3, 4, 5), (1, 2), "constant", None),
    ((3, 4, 5), (2, 1, 0, 3), "constant", 1.5),
    ((3, 4, 5), (1, -2, 0, 1), "constant", None),
    ((3, 4, 5), (1, 1, 1, 1, 1, 1), "constant", None),
    ((3, 4, 5), (2, 3), "reflect", None),
    ((2, 3, 4, 5), (1, 2, 3, 0), "reflect", None),
    ((3, 4, 5), (-1, 3), "reflect", None),
    ((3, 4, 5), (2, 3), "replicate", None),
    ((2, 3, 4, 5), (1, 2, 2, 1), "replicate", None),
    ((1, 2, 3, 4, 5), (1, 0, 0, 1, 2, 1), "replicate", None),
    ((3, 4, 5), (2, 5), "circular", None),
    ((2, 3, 4, 5), (1, -1, 2, 1), "circular", None),
]


@pytest.mark.parametrize("shape, pad, mode, value", PADS)
def test_pad_matches_torch(torch, rng, shape, pad, mode, value):
    x = _x(rng, *shape)
    kwargs = {"mode": mode} if value is None else {"mode": mode, "value": value}
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda a: F.pad(a, pad, **kwargs),
        lambda a: tf.pad(a, pad, **kwargs),
        [x],
    )


def test_pad_integer_value_and_errors_follow_torch(torch):
    xi = np.arange(6).reshape(2, 3)
    ours, theirs = (
        F.pad(xi, (1, 1), value=2.5),
        torch.nn.functional.pad(torch.tensor(xi), (1, 1), value=2.5),
    )
    np.testing.assert_array_equal(ours, theirs.numpy())
    x = np.zeros((2, 3), np.float32)
    cases = [
        ((1, 1, 1), {}, RuntimeError, "divisible by 2"),
        ((1, 1) * 3, {}, RuntimeError, "two times the input dimension"),
        ((3, 3), {"mode": "reflect"}, RuntimeError, "Padding size should be less than"),
        ((4, 1), {"mode": "circular"}, RuntimeError, "wrapping around more than once"),
        (
            (1, 1),
            {"mode": "reflect", "value": 1.0},
            RuntimeError,
            "doesn't take in value",
        ),
        ((1, 1), {"mode": "foo"}, NotImplementedError, "Unrecognised padding mode foo"),
    ]
    for pad, kwargs, exc, text in cases:
        with pytest.raises(exc, match=text):
            torch.nn.functional.pad(torch.tensor(x), pad, **kwargs)
        with pytest.raises(exc, match=text):
            F.pad(x, pad, **kwargs)
    for shape in [(3,), (2, 2, 2, 2)]:
        with pytest.raises(NotImplementedError, match="not supported"):
            torch.nn.functional.pad(torch.zeros(shape), (1, 1), mode="reflect")
        with pytest.raises(NotImplementedError, match="not supported"):
            F.pad(np.zeros(shape, np.float32), (1, 1), mode="reflect")


# --------------------------------------------------------------- distances


@pytest.mark.parametrize("p, dim", [(2, 1), (1, 0), (3.0, -1), (float("inf"), 1)])
def test_normalize_matches_torch_with_zero_rows(torch, rng, p, dim):
    x = _x(rng, 4, 5)
    x[1] = 0.0
    x[:, 2] = 0.0
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda a: F.normalize(a, p, dim),
        lambda a: tf.normalize(a, p, dim),
        [x],
    )


@pytest.mark.parametrize(
    "shapes, dim",
    [(((4, 5), (4, 5)), 1), (((3, 1, 5), (4, 5)), -1), (((4, 5), (5,)), 1)],
)
def test_cosine_similarity_matches_torch_with_zero_vectors(torch, rng, shapes, dim):
    a, b = (_x(rng, *s) for s in shapes)
    a.reshape(-1, a.shape[-1])[0] = 0.0
    b.reshape(-1, b.shape[-1])[-1] = 1e-9  # below eps: torch clamps the norm
    tf = torch.nn.functional
    check(
        torch,
        rng,
        lambda u, v: F.cosine_similarity(u, v, dim),
        lambda u, v: tf.cosine_similarity(u, v, dim),
        [a, b],
    )


def test_max_pool2d_propagates_nan_as_torch(torch):
    x = np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4)
    x[0, 0, 0, 0] = x[0, 1, 2, 3] = np.nan  # first and last element of a window
    for kwargs in (
        {"kernel_size": 2},
        {"kernel_size": 2, "stride": 3, "ceil_mode": True},
    ):
        ours = F.max_pool2d(x, **kwargs)
        theirs = torch.nn.functional.max_pool2d(torch.tensor(x), **kwargs)
        np.testing.assert_array_equal(ours, theirs.numpy())


def test_tutorial_custom_loss_written_with_f_matches_torch(torch, rng):
    """The tutorial's custom_loss, ported line by line with F and tensor_ops."""
    import jtoolkit.tensor_ops as T

    def ours(pred, target, beta=0.3):
        base_loss = F.binary_cross_entropy(pred, target)
        return base_loss + beta * T.mean(F.relu(pred - 0.7)) ** 2

    def theirs(pred, target, beta=0.3):
        base_loss = torch.nn.functional.binary_cross_entropy(pred, target)
        return base_loss + beta * torch.mean(torch.relu(pred - 0.7)) ** 2

    pred = rng.uniform(0.05, 0.95, (8, 3)).astype(np.float32)
    target = (rng.uniform(size=(8, 3)) > 0.5).astype(np.float32)
    check(
        torch,
        rng,
        lambda p: ours(p, target),
        lambda p: theirs(p, torch.tensor(target)),
        [pred],
    )


def test_functional_under_vmap_equals_the_batched_call(rng):
    """vmap over samples gives the batched result (pooling sees unbatched CHW)."""
    x, w = _x(rng, 4, 3, 6, 6), _x(rng, 5, 6)
    cases = [
        (lambda s: F.max_pool2d(s, 3, 2, 1), lambda b: F.max_pool2d(b, 3, 2, 1)),
        (lambda s: F.avg_pool2d(s, 2), lambda b: F.avg_pool2d(b, 2)),
        (lambda s: F.linear(s, w), lambda b: F.linear(b, w)),
        (lambda s: F.normalize(s, dim=0), lambda b: F.normalize(b, dim=1)),
        (
            lambda s: F.pad(s, (1, 2, 0, 1), mode="reflect"),
            lambda b: F.pad(b, (1, 2, 0, 1), "reflect"),
        ),
        (lambda s: F.softmax(s, dim=-1), lambda b: F.softmax(b, dim=-1)),
    ]
    for per_sample, batched in cases:
        np.testing.assert_allclose(
            jax.vmap(per_sample)(x), batched(x), rtol=RTOL, atol=1e-6
        )


def test_pooling_integer_inputs_follow_torch(torch):
    x = np.arange(32).reshape(1, 2, 4, 4) - 15
    tf = torch.nn.functional
    for kwargs in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1}):
        for name in ("max_pool2d", "avg_pool2d"):
            ours = getattr(F, name)(x, **kwargs)
            theirs = getattr(tf, name)(torch.tensor(x), **kwargs)
            assert ours.dtype == _dtype(theirs.dtype)
            np.testing.assert_array_equal(ours, theirs.numpy())
    with pytest.raises(NotImplementedError, match="not implemented for"):
        tf.adaptive_avg_pool2d(torch.tensor(x), 2)
    with pytest.raises(NotImplementedError, match="not implemented for"):
        F.adaptive_avg_pool2d(x, 2)


@pytest.mark.parametrize("kwargs", MAX_POOL)
def test_max_pool2d_return_indices_match_torch(torch, rng, kwargs):
    x = rng.integers(-3, 4, (2, 3, 7, 8)).astype(np.float32)  # many ties
    x[0, 0, 0, 1] = np.nan
    values, indices = F.max_pool2d(x, **kwargs, return_indices=True)
    t_values, t_indices = torch.nn.functional.max_pool2d(
        torch.tensor(x), **kwargs, return_indices=True
    )
    np.testing.assert_array_equal(values, t_values.numpy())
    np.testing.assert_array_equal(indices, t_indices.numpy())
    assert indices.dtype == _dtype(t_indices.dtype)
    nhwc = np.transpose(x, (0, 2, 3, 1))
    _, idx = F.max_pool2d(nhwc, **kwargs, return_indices=True, data_format="NHWC")
    np.testing.assert_array_equal(np.transpose(idx, (0, 3, 1, 2)), indices)
