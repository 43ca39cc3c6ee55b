"""The second wave of tensor_ops (factories, reductions, matmul family, softmax,
selection, shape and split ops) against torch: values, dtypes, gradients (torch
autograd as the oracle, both sides differentiating ``sum(op(x) * w)``), under
``jax.jit``, and torch's exception types.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.tensor_ops as T

RTOL = 1e-5  # float32, short reductions (<= 60 terms)


def _dtype(torch_dtype):
    name = str(torch_dtype).removeprefix("torch.")
    return jax.dtypes.canonicalize_dtype(np.dtype(name))


def _leaves(out):
    return list(out) if isinstance(out, tuple | list) else [out]


def check(torch, rng, jfn, tfn, inputs, grad=True, rtol=RTOL, atol=1e-6):
    """Values and dtypes eager and jitted; gradients of float inputs vs autograd."""
    tin = [torch.tensor(x, requires_grad=grad and x.dtype.kind == "f") for x in inputs]
    theirs = _leaves(tfn(*tin))
    for ours in (_leaves(jfn(*inputs)), _leaves(jax.jit(jfn)(*inputs))):
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs, strict=True):
            assert o.dtype == _dtype(t.dtype), (o.dtype, t.dtype)
            assert o.shape == tuple(t.shape)
            np.testing.assert_allclose(o, t.detach().numpy(), rtol=rtol, atol=atol)
    diff = [i for i, x in enumerate(inputs) if grad and x.dtype.kind == "f"]
    floats = [i for i, t in enumerate(theirs) if t.dtype.is_floating_point]
    if not diff or not floats:
        return
    ws = [
        rng.standard_normal(tuple(theirs[i].shape)).astype(np.float32) for i in floats
    ]
    pairs = list(zip(floats, ws, strict=True))
    sum((theirs[i] * torch.tensor(w)).sum() for i, w in pairs).backward()

    def loss(*args):
        outs = _leaves(jfn(*args))
        return sum((outs[i] * w).sum() for i, w in zip(floats, ws, strict=True))

    grads = jax.grad(loss, argnums=tuple(diff))(*inputs)
    for g, i in zip(grads, diff, strict=True):
        np.testing.assert_allclose(g, tin[i].grad.numpy(), rtol=rtol, atol=atol)


def _x(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# ----------------------------------------------------------------- factories


def test_factory_dtypes_follow_torch(torch):
    cases = [
        (T.zeros(2, 3), torch.zeros(2, 3)),
        (T.ones((2,), dtype="int32"), torch.ones((2,), dtype=torch.int32)),
        (T.empty(0, 2), torch.zeros(0, 2)),
        (T.full((2, 2), 7), torch.full((2, 2), 7)),
        (T.full((2,), 0.5), torch.full((2,), 0.5)),
        (T.full((2,), True), torch.full((2,), True)),
        (T.eye(3), torch.eye(3)),
        (T.eye(2, 4), torch.eye(2, 4)),
        (T.zeros_like(np.ones((2, 3), np.int16)), torch.zeros(2, 3, dtype=torch.int16)),
        (T.ones_like([1.0, 2.0]), torch.ones(2)),
        (T.full_like([1, 2], 2.7), torch.full_like(torch.tensor([1, 2]), 2.7)),
        (T.full_like([1, 2], -2.7), torch.full_like(torch.tensor([1, 2]), -2.7)),
        (
            T.from_numpy(np.arange(3, dtype=np.uint8)),
            torch.arange(3, dtype=torch.uint8),
        ),
    ]
    for ours, theirs in cases:
        assert ours.dtype == _dtype(theirs.dtype)
        np.testing.assert_array_equal(ours, theirs.numpy())


@pytest.mark.parametrize(
    "args",
    [
        (5,),
        (0.0, 1.0, 0.1),
        (1, 10, 3),
        (10, 1, -3),
        (0, 1, 0.3),
        (-1.5, 2.5, 0.5),
        (0.0, 0.9, 0.1),
        (2.0,),
        (0, 0),
        (1, 2.5),
    ],
)
def test_arange_matches_torch(torch, args):
    ours, theirs = T.arange(*args), torch.arange(*args)
    assert ours.dtype == _dtype(theirs.dtype)
    np.testing.assert_array_equal(ours, theirs.numpy())


@pytest.mark.parametrize(
    "args", [(0, 1, 5), (-3.0, 7.5, 11), (2, 2, 1), (0, 1, 0), (1, 0, 4), (0, 1, 1000)]
)
def test_linspace_matches_torch(torch, args):
    ours, theirs = T.linspace(*args), torch.linspace(*args)
    assert ours.dtype == _dtype(theirs.dtype)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-6, atol=1e-7)
    # both ends are exact
    if args[2] > 1:
        assert ours[0] == args[0] and ours[-1] == args[1]


def test_random_like_shapes_dtypes_and_keys():
    key = T.manual_seed(0)
    x = jnp.zeros((300, 4), jnp.float32)
    n, u = T.randn_like(key, x), T.rand_like(key, x)
    assert n.shape == u.shape == x.shape and n.dtype == u.dtype == jnp.float32
    assert abs(float(n.mean())) < 0.15 and 0.9 < float(n.std()) < 1.1
    assert float(u.min()) >= 0 and float(u.max()) < 1
    assert bool((T.randn_like(key, x) == n).all())
    with pytest.raises(TypeError, match="PRNG key"):
        T.randn_like(x, x)
    with pytest.raises(NotImplementedError):
        T.rand_like(key, jnp.zeros(3, jnp.int32))


def test_factory_errors_follow_torch(torch):
    for ours, theirs in [
        (lambda: T.arange(0, 1, 0), lambda: torch.arange(0, 1, 0)),
        (lambda: T.arange(0, 5, -1), lambda: torch.arange(0, 5, -1)),
        (lambda: T.linspace(0, 1, -1), lambda: torch.linspace(0, 1, -1)),
        (lambda: T.zeros(2, -1), lambda: torch.zeros(2, -1)),
        (lambda: T.from_numpy([1]), lambda: torch.from_numpy([1])),
        (lambda: T.zeros(2.5), lambda: torch.zeros(2.5)),
    ]:
        with pytest.raises(Exception) as theirs_err:
            theirs()
        with pytest.raises(theirs_err.type):
            ours()


# ---------------------------------------------------------------- reductions

REDUCTIONS = {
    "sum": (lambda x: T.sum(x), lambda x: x.sum()),
    "sum_dim": (lambda x: T.sum(x, 1), lambda x: x.sum(1)),
    "sum_dims_keep": (
        lambda x: T.sum(x, (0, -1), True),
        lambda x: x.sum((0, -1), True),
    ),
    "mean": (lambda x: T.mean(x), lambda x: x.mean()),
    "mean_dims": (lambda x: T.mean(x, [0, 2]), lambda x: x.mean([0, 2])),
    "var": (lambda x: T.var(x), lambda x: x.var()),
    "var_dim_biased": (lambda x: T.var(x, 1, False), lambda x: x.var(1, False)),
    "var_positional_bool": (lambda x: T.var(x, False), lambda x: torch_var_b(x)),
    "var_correction": (
        lambda x: T.var(x, (1, 2), keepdim=True, correction=2),
        lambda x: x.var((1, 2), keepdim=True, correction=2),
    ),
    "std": (lambda x: T.std(x, 0), lambda x: x.std(0)),
    "std_correction0": (
        lambda x: T.std(x, correction=0),
        lambda x: x.std(correction=0),
    ),
    "max": (lambda x: T.max(x), lambda x: x.max()),
    "min": (lambda x: T.min(x), lambda x: x.min()),
    "max_dim": (lambda x: tuple(T.max(x, 1)), lambda x: tuple(x.max(1))),
    "min_dim_keep": (
        lambda x: tuple(T.min(x, -1, True)),
        lambda x: tuple(x.min(-1, True)),
    ),
    "argmax": (lambda x: T.argmax(x), lambda x: x.argmax()),
    "argmax_dim": (lambda x: T.argmax(x, 2, True), lambda x: x.argmax(2, True)),
    "argmin_dim": (lambda x: T.argmin(x, 0), lambda x: x.argmin(0)),
}


def torch_var_b(x):
    return x.var(False)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reductions_match_torch(torch, rng, name):
    ours, theirs = REDUCTIONS[name]
    check(torch, rng, ours, theirs, [_x(rng, 3, 4, 5)])


def test_max_gradients_on_ties_follow_torch(torch, rng):
    """Full max splits the gradient among ties; max(x, dim) sends it to the index."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], np.float32)
    check(torch, rng, lambda a: T.max(a), lambda a: a.max(), [x])
    check(torch, rng, lambda a: tuple(T.max(a, 1)), lambda a: tuple(a.max(1)), [x])
    check(torch, rng, lambda a: tuple(T.min(a, 0)), lambda a: tuple(a.min(0)), [x])


def test_max_result_is_a_named_pytree():
    out = T.max(jnp.array([[1.0, 5.0], [7.0, 2.0]]), dim=1)
    assert out.values.tolist() == [5.0, 7.0] and out.indices.tolist() == [1, 0]
    assert isinstance(out, T.ValuesIndices)
    assert len(jax.tree_util.tree_leaves(out)) == 2
    # max(x, other) is the element-wise maximum, as torch
    assert T.max(jnp.array([1.0, 4.0]), jnp.array([3.0, 2.0])).tolist() == [3.0, 4.0]


@pytest.mark.parametrize("data", [[[1, 2], [3, 4]], [[True, False], [True, True]]])
def test_sum_of_integers_and_bools_is_default_int(torch, data):
    ours, theirs = T.sum(data, 0), torch.tensor(data).sum(0)
    assert ours.dtype == _dtype(theirs.dtype)
    np.testing.assert_array_equal(ours, theirs.numpy())
    assert T.sum(np.array(data), dtype="float32").dtype == jnp.float32


def test_reduction_errors_follow_torch(torch):
    xi, x = [[1, 2], [3, 4]], np.ones((2, 3), np.float32)
    cases = [
        (lambda m: m.mean(m.tensor(xi)), RuntimeError, "could not infer output dtype"),
        (lambda m: m.std(m.tensor(xi)), RuntimeError, "only support floating point"),
        (lambda m: m.sum(m.tensor(x), (0, 0)), RuntimeError, "appears multiple times"),
        (lambda m: m.mean(m.tensor(x), (1, -1)), RuntimeError, "appears multiple"),
        (lambda m: m.sum(m.tensor(x), 2), IndexError, "Dimension out of range"),
        (lambda m: m.max(m.tensor(x), 5), IndexError, "Dimension out of range"),
        (lambda m: m.argmax(m.tensor(x), -3), IndexError, "Dimension out of range"),
        (lambda m: m.max(m.tensor(np.zeros(0, np.float32))), RuntimeError, "numel"),
        (lambda m: m.argmax(m.tensor(np.zeros((2, 0)))), IndexError, "numel"),
        (lambda m: m.argmax(m.tensor([True, False])), RuntimeError, "bool"),
    ]
    for fn, exc, text in cases:
        with pytest.raises(exc, match=text):
            fn(torch)
        with pytest.raises(exc, match=text):
            fn(T)


# -------------------------------------------------------------------- matmul

MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)),
    ((4,), (2, 4, 3)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
def test_matmul_matches_torch(torch, rng, shapes):
    a, b = (_x(rng, *s) for s in shapes)
    check(torch, rng, T.matmul, torch.matmul, [a, b])


def test_bmm_and_einsum_match_torch(torch, rng):
    a, b = _x(rng, 4, 2, 3), _x(rng, 4, 3, 5)
    check(torch, rng, T.bmm, torch.bmm, [a, b])
    check(
        torch,
        rng,
        lambda p, q: T.einsum("bij,bjk->bik", p, q),
        lambda p, q: torch.einsum("bij,bjk->bik", p, q),
        [a, b],
    )
    check(
        torch,
        rng,
        lambda p, q: T.einsum("...ij,...jk", [p, q]),
        lambda p, q: torch.einsum("...ij,...jk", [p, q]),
        [a, b],
    )
    ints = T.matmul([[1, 2], [3, 4]], [[1], [1]])
    assert ints.tolist() == [[3], [7]] and ints.dtype == T.tensor([1]).dtype


@pytest.mark.parametrize(
    "fn, shapes, text",
    [
        (
            "matmul",
            ((2, 3), (2, 3)),
            r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)",
        ),
        ("matmul", ((3,), (4,)), "inconsistent tensor size"),
        ("matmul", ((2, 2, 3), (2, 4, 5)), "Expected size for first two dimensions"),
        ("matmul", ((), (2, 3)), "at least 1D"),
        ("matmul", ((3, 2, 3), (2, 3, 4)), None),
        ("matmul", ((2, 3), (4,)), None),
        ("bmm", ((2, 3), (2, 3)), "batch1 must be a 3D tensor"),
        ("bmm", ((2, 2, 3), (3, 3, 5)), "Expected size for first two dimensions"),
        ("einsum", ((2, 3), (2, 3)), None),
    ],
)
def test_matmul_errors_follow_torch(torch, fn, shapes, text):
    arrays = [np.ones(s, np.float32) for s in shapes]

    def call(m, xs):
        if fn == "einsum":
            return m.einsum("ij,jk", *xs)
        return getattr(m, fn)(*xs)

    with pytest.raises(RuntimeError, match=text):
        call(torch, [torch.tensor(a) for a in arrays])
    with pytest.raises(RuntimeError, match=text):
        call(T, arrays)


# ------------------------------------------------------------------- softmax


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax_match_torch(torch, rng, dim):
    x = _x(rng, 3, 4, 5) * 3
    check(torch, rng, lambda a: T.softmax(a, dim), lambda a: a.softmax(dim), [x])
    check(
        torch, rng, lambda a: T.log_softmax(a, dim), lambda a: a.log_softmax(dim), [x]
    )


def test_softmax_dtype_rules(torch):
    with pytest.raises(NotImplementedError):
        T.softmax([1, 2], 0)
    with pytest.raises(NotImplementedError):
        torch.softmax(torch.tensor([1, 2]), 0)
    ours = T.softmax([1, 2], 0, dtype="float32")
    np.testing.assert_allclose(
        ours, torch.softmax(torch.tensor([1, 2]), 0, dtype=torch.float32), rtol=RTOL
    )
    assert T.softmax(jnp.float32(2.0), 0).tolist() == 1.0
    with pytest.raises(IndexError):
        T.softmax(np.ones((2, 3), np.float32), 2)


# ----------------------------------------------------------- select and shape


def test_where_matches_torch(torch, rng):
    x, y = _x(rng, 3, 4), _x(rng, 4)
    cond = rng.standard_normal((3, 1)) > 0
    check(
        torch,
        rng,
        lambda a, b: T.where(cond, a, b),
        lambda a, b: torch.where(torch.tensor(cond), a, b),
        [x, y],
    )
    ours = T.where(jnp.array([True, False]), jnp.array([1, 2]), 0.5)
    theirs = torch.where(torch.tensor([True, False]), torch.tensor([1, 2]), 0.5)
    assert ours.dtype == _dtype(theirs.dtype) and ours.tolist() == theirs.tolist()
    rows, cols = T.where(jnp.array([[True, False], [False, True]]))
    assert rows.tolist() == [0, 1] and cols.tolist() == [0, 1]
    with pytest.raises(
        RuntimeError, match="boolean tensor, but got a tensor with dtype Float"
    ):
        T.where(x, x, x)


@pytest.mark.parametrize("dim, shape", [(0, (2, 4)), (1, (3, 2)), (-1, (2, 6))])
def test_gather_matches_torch(torch, rng, dim, shape):
    x = _x(rng, 3, 4)
    size = x.shape[dim]
    index = rng.integers(0, size, shape)
    check(
        torch,
        rng,
        lambda a: T.gather(a, dim, jnp.asarray(index, jnp.int32)),
        lambda a: torch.gather(a, dim, torch.tensor(index)),
        [x],
    )


def test_gather_errors_follow_torch(torch):
    x = np.ones((2, 3), np.float32)
    cases = [
        (np.zeros(2, np.int64), "same number of dimensions"),
        (np.full((2, 3), 5), "index 5 is out of bounds for dimension 0 with size 2"),
        (np.zeros((2, 4), np.int64), "Size does not match at dimension 1"),
    ]
    for index, text in cases:
        with pytest.raises(RuntimeError, match=text):
            torch.gather(torch.tensor(x), 0, torch.tensor(index))
        with pytest.raises(RuntimeError, match=text):
            T.gather(x, 0, index)


SHAPE_CASES = {
    "reshape": (lambda a: T.reshape(a, (4, -1)), lambda a: a.reshape(4, -1)),
    "reshape_ints": (lambda a: T.reshape(a, 2, 30), lambda a: a.reshape(2, 30)),
    "flatten": (lambda a: T.flatten(a), lambda a: a.flatten()),
    "flatten_mid": (lambda a: T.flatten(a, 1, 2), lambda a: a.flatten(1, 2)),
    "flatten_neg": (lambda a: T.flatten(a, -2), lambda a: a.flatten(-2)),
    "permute": (lambda a: T.permute(a, (2, 0, 1)), lambda a: a.permute(2, 0, 1)),
    "permute_ints": (lambda a: T.permute(a, -1, 1, 0), lambda a: a.permute(-1, 1, 0)),
    "repeat": (lambda a: T.repeat(a, 2, 1, 1, 3), lambda a: a.repeat(2, 1, 1, 3)),
    "split": (lambda a: T.split(a, 2, 1), lambda a: a.split(2, 1)),
    "split_sizes": (
        lambda a: T.split(a, [1, 3, 1], -1),
        lambda a: a.split([1, 3, 1], -1),
    ),
    "chunk": (lambda a: T.chunk(a, 3, 1), lambda a: a.chunk(3, 1)),
    "chunk_uneven": (lambda a: T.chunk(a, 4, 2), lambda a: a.chunk(4, 2)),
}


@pytest.mark.parametrize("name", sorted(SHAPE_CASES))
def test_shape_ops_match_torch(torch, rng, name):
    ours, theirs = SHAPE_CASES[name]
    check(torch, rng, ours, theirs, [_x(rng, 3, 4, 5)])


def test_shape_edge_cases_match_torch(torch):
    assert (
        T.flatten(jnp.float32(3.0)).shape
        == (1,)
        == tuple(torch.tensor(3.0).flatten().shape)
    )
    empty = np.zeros((0, 3), np.float32)
    assert [p.shape for p in T.chunk(empty, 2)] == [
        tuple(p.shape) for p in torch.tensor(empty).chunk(2)
    ]
    assert [p.shape for p in T.split(empty, 2)] == [
        tuple(p.shape) for p in torch.tensor(empty).split(2)
    ]
    assert [p.shape for p in T.chunk(np.zeros(6), 4)] == [(2,), (2,), (2,)]


def test_shape_errors_follow_torch(torch):
    x = np.ones((2, 3), np.float32)
    cases = [
        (
            lambda m, a: m.flatten(a, 1, 0),
            RuntimeError,
            "start_dim cannot come after end_dim",
        ),
        (lambda m, a: m.permute(a, (0,)), RuntimeError, "does not match the length"),
        (lambda m, a: m.permute(a, (0, 0)), RuntimeError, "duplicate dims"),
        (lambda m, a: m.split(a, [1, 1], 1), RuntimeError, "sum exactly to 3"),
        (lambda m, a: m.split(a, 0, 1), RuntimeError, "split_size can only be 0"),
        (lambda m, a: m.chunk(a, 0), RuntimeError, "greater than 0"),
        (
            lambda m, a: m.reshape(a, (4, -1)),
            RuntimeError,
            "invalid for input of size 6",
        ),
        (
            lambda m, a: m.squeeze(a, (0, 0)),
            RuntimeError,
            "dim 0 appears multiple times in the list of dims",
        ),
        (lambda m, a: m.mul(a, None), TypeError, "NoneType"),
        (lambda m, a: m.add(None, a), TypeError, "NoneType"),
        (lambda m, a: m.div(a, None), TypeError, "NoneType"),
        (lambda m, a: m.pow(a, None), TypeError, "NoneType"),
        (lambda m, a: m.flatten(a, 2), IndexError, "Dimension out of range"),
    ]
    for fn, exc, text in cases:
        with pytest.raises(exc, match=text):
            fn(torch, torch.tensor(x))
        with pytest.raises(exc, match=text):
            fn(T, x)
    with pytest.raises(RuntimeError, match="can not be smaller"):
        torch.tensor(x).repeat(2)
    with pytest.raises(RuntimeError, match="can not be smaller"):
        T.repeat(x, 2)


def test_max_min_argmax_with_nan_follow_torch(torch):
    x = np.array([[1.0, np.nan, 3.0, np.nan], [np.nan, 0.0, 5.0, 1.0]], np.float32)
    for name in ("max", "min"):
        ours, theirs = getattr(T, name)(x, 1), getattr(torch, name)(torch.tensor(x), 1)
        np.testing.assert_array_equal(ours.values, theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices, theirs.indices.numpy())
        assert np.isnan(getattr(T, name)(x))
    for name in ("argmax", "argmin"):
        assert (
            getattr(T, name)(x).item() == getattr(torch, name)(torch.tensor(x)).item()
        )


def test_tutorial_mean_and_its_gradient():
    """The tutorial's autograd cell: out = (3 * (x + 2) ** 2).mean() and x.grad."""
    x = jnp.array([[-0.5736, -0.2012], [1.3563, 0.5499]])

    def out(v):
        y = v + 2
        return T.mean(y * y * 3)

    # the printed x is rounded to 4 decimals: allow that rounding's effect
    assert abs(float(out(x)) - 17.2779) < 3e-4
    np.testing.assert_allclose(
        jax.grad(out)(x), [[2.1396, 2.6982], [5.0345, 3.8248]], atol=1e-4
    )


def test_tensor_ops_under_vmap_equal_the_batched_call(rng):
    x = _x(rng, 4, 3, 5)
    idx = jnp.asarray(rng.integers(0, 3, (4, 2, 5)), jnp.int32)
    got = jax.vmap(lambda s, i: T.gather(s, 0, i))(x, idx)
    np.testing.assert_array_equal(got, T.gather(x, 1, idx))
    got = jax.vmap(lambda s: T.max(s, 0))(x)
    want = T.max(x, 1)
    np.testing.assert_array_equal(got.values, want.values)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_allclose(
        jax.vmap(lambda s: T.var(s, 1))(x), T.var(x, 2), rtol=RTOL
    )
    got = jax.vmap(lambda s: T.matmul(s, s.T))(x)
    np.testing.assert_allclose(got, T.bmm(x, jnp.swapaxes(x, 1, 2)), rtol=RTOL)
