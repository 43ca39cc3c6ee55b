"""core/eager_jit.py: an eager call of an op is one compiled program, with the
eager call's numbers, errors and warnings."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from programs import programs as _programs

import jtoolkit.functional as F
import jtoolkit.tensor_ops as T
from jtoolkit._src.core.eager_jit import eager_jit


def _images(shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def test_an_eager_call_on_a_new_shape_compiles_one_program(monkeypatch):
    x = _images((2, 3, 9, 11))
    with _programs() as jitted:
        first = F.max_pool2d(x, 3, stride=2, padding=1)
    with _programs() as again:
        F.max_pool2d(x, 3, stride=2, padding=1)
    monkeypatch.setenv("JTOOLKIT_EAGER_JIT", "0")
    with _programs() as eager:
        plain = F.max_pool2d(_images((2, 3, 9, 13)), 3, stride=2, padding=1)
    assert jitted[0] == 1 and again[0] == 0, (jitted, again)
    assert eager[0] > 3, eager  # op by op: what eager_jit saves
    reference = F.max_pool2d(x, 3, stride=2, padding=1)  # still eager here
    np.testing.assert_array_equal(np.asarray(first), np.asarray(reference))
    assert plain.shape == (2, 3, 5, 7)


def test_inside_a_users_jit_it_is_a_plain_call():
    def names(jaxpr):
        return {eqn.primitive.name for eqn in jaxpr.eqns}

    jaxpr = jax.make_jaxpr(lambda x: F.gelu(F.layer_norm(x, (4,))))(jnp.ones((2, 4)))
    assert not names(jaxpr.jaxpr) & {"jit", "pjit"}, jaxpr
    grads = jax.grad(lambda x: F.softplus(x).sum())(jnp.zeros(3))
    np.testing.assert_allclose(np.asarray(grads), 0.5, rtol=1e-6)


def test_value_checks_run_on_every_call_of_the_compiled_program():
    logits = _images((4, 3))
    good = jnp.asarray([0, 1, 2, 1])
    with _programs() as programs:
        assert np.isfinite(float(F.cross_entropy(logits, good)))
    assert programs[0] == 1, programs  # compiled, with its check outside
    bad = jnp.asarray([0, 1, 2, 3])  # 3 is out of range for 3 classes
    for _ in range(2):  # the same program: its check runs after each call
        with pytest.raises(IndexError, match="Target 3 is out of bounds"):
            F.cross_entropy(logits, bad)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(jnp.full((3,), 0.5), jnp.asarray([0.0, 1.0, 2.0]))
    # inside a user's jit the values do not exist: unchecked, as before
    jax.jit(F.cross_entropy)(logits, bad)


def test_warnings_are_raised_on_every_call_as_eagerly():
    x = _images((2, 3))
    for _ in range(2):
        with pytest.warns(UserWarning, match="Implicit dimension choice"):
            F.softmax(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.softmax(x, dim=1)  # the explicit call is compiled, and silent


def test_options_are_compiled_in_by_value_and_type():
    calls = []

    @eager_jit
    def scale(x, s):
        calls.append(type(s))
        return x * s

    x = jnp.ones(2)
    assert np.signbit(np.asarray(scale(x, -0.0))).all()
    assert not np.signbit(np.asarray(scale(x, 0.0))).any()  # not -0.0's program
    assert np.asarray(scale(x, True)).dtype == np.float32
    assert np.asarray(scale(x, 1)).dtype == np.float32
    assert calls == [float, float, bool, int]  # each traced once, none shared
    scale(x, 0.0)
    assert len(calls) == 4  # the same call again: the cached program


def test_a_mutable_object_runs_eagerly_and_is_read_on_every_call():
    class Box:
        factor = 2.0

    @eager_jit
    def times(x, box):
        return x * box.factor

    box = Box()
    x = jnp.ones(2)
    assert float(times(x, box)[0]) == 2.0
    box.factor = 5.0  # a compiled-in object would still give 2.0
    assert float(times(x, box)[0]) == 5.0


def test_an_op_that_reads_values_runs_eagerly():
    @eager_jit
    def first_positive(x):
        return x[int(np.argmax(np.asarray(x) > 0))]  # needs the values

    assert float(first_positive(jnp.asarray([-1.0, 3.0, 4.0]))) == 3.0
    assert float(first_positive(jnp.asarray([-1.0, -2.0, 7.0]))) == 7.0


def test_inside_a_users_jit_over_constants_it_is_a_plain_call():
    """A jit with no traced argument still traces: the op's arrays are concrete
    constants there, and its value checks cannot read the traced result."""
    logits = _images((4, 5))
    target = jnp.asarray([0, 4, 2, 1])
    loss = jax.jit(lambda: F.cross_entropy(logits, target))()
    np.testing.assert_allclose(loss, F.cross_entropy(logits, target), rtol=1e-6)
    jaxpr = jax.make_jaxpr(lambda: F.cross_entropy(logits, target))()
    assert "run" not in {str(e.params.get("name")) for e in jaxpr.jaxpr.eqns}


def test_python_numbers_in_tensor_operands_are_traced_not_compiled_in(
    torch, monkeypatch
):
    x, y = _images((2, 3)), _images((2, 3), seed=1)
    lrs = np.random.default_rng(0).uniform(-2.0, 2.0, 20).tolist()
    ops = (
        lambda lr: T.mul(x, lr),
        lambda lr: T.add(x, y, alpha=-lr),
        lambda lr: T.clamp(x, min=lr),
        lambda lr: T.where(x > 0, x, lr),
        lambda lr: T.pow(T.abs(x), lr),
        lambda lr: T.sum([[lr, 1.0]], 1),  # Python data: eagerly, not compiled in
    )
    outs = []
    for op in ops:
        op(0.25)  # compiles (abs: its own program)
        with _programs() as programs:
            outs.append([np.asarray(op(lr)) for lr in lrs])
        assert programs[0] == 0, programs  # one program for every value
    tx, ty = torch.tensor(np.asarray(x)), torch.tensor(np.asarray(y))
    for lr, out in zip(lrs, outs[1], strict=True):  # one fused multiply-add,
        np.testing.assert_array_equal(out, torch.add(tx, ty, alpha=-lr).numpy())
    monkeypatch.setenv("JTOOLKIT_EAGER_JIT", "0")  # (as torch; eagerly: two steps)
    for op, got in zip(ops[::2] + ops[3:], outs[::2] + outs[3:], strict=True):
        for lr, out in zip(lrs, got, strict=True):
            np.testing.assert_array_equal(out, np.asarray(op(lr)))


# A float16 midpoint plus less than float32's half ulp: as eagerly (and in torch's
# float32 opmath) it rounds to float32 first, to the midpoint, then to even.
_ABOVE_MIDPOINT = 1.0 + 2.0**-11 + 2.0**-40
_INTS, _FLOATS = (2, -3, 2**24), (1.1, _ABOVE_MIDPOINT, -2.5e-8, float("inf"))
_BOOLS, _COMPLEX = (True, False), (1.5 - 2j,)
_CASES = {  # each op with the kinds of number its own rules tell apart
    "mul": (lambda x, s: T.mul(x, s), _INTS + _FLOATS + _BOOLS + _COMPLEX),
    "where": (lambda x, s: T.where(x != 0, x, s), _INTS + _FLOATS),
    "add_alpha": (lambda x, s: T.add(x, 1, alpha=s), _FLOATS + _BOOLS),
    "div": (lambda x, s: T.div(x, s), _INTS + _BOOLS),
    "div_floor": (lambda x, s: T.div(s, x, rounding_mode="floor"), _INTS),
    "clamp": (lambda x, s: T.clamp(x, min=s), _FLOATS),
    "pow": (lambda x, s: T.pow(x, s), (1.1, -2.5e-8)),
    "index_put": (lambda x, s: T.index_put(x, 1, s), _FLOATS),
}


def _outcome(fn, *args):
    try:
        out = fn(*args)
    except Exception as exc:  # compared as type and text
        return type(exc), str(exc)
    return np.asarray(out).dtype, out.shape, out.weak_type, _Values(out)


class _Values:
    """Equal when the values are (NaN equal to NaN; fused programs may lose the
    sign of a zero product, as in a user's jit)."""

    def __init__(self, out):
        self.values = np.asarray(out)

    def __eq__(self, other):
        return np.array_equal(self.values, other.values, equal_nan=True)

    def __repr__(self):
        return repr(self.values)


@pytest.mark.parametrize("dtype", ["int32", "float16", "float32", "bool"])
def test_traced_python_numbers_give_the_eager_values_dtypes_and_errors(
    dtype, monkeypatch
):
    x = jnp.asarray([[0, 1, -2], [3, 1, 1]]).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # casts of complex numbers, as eagerly
        compiled = {
            (name, s): _outcome(op, x, s)
            for name, (op, numbers) in _CASES.items()
            for s in numbers
        }
        monkeypatch.setenv("JTOOLKIT_EAGER_JIT", "0")
        for (name, s), got in compiled.items():
            assert got == _outcome(_CASES[name][0], x, s), (name, s)


def test_numpy_int64_data_is_compiled_only_where_it_fits_int32():
    with _programs() as programs:
        assert int(T.sum(np.arange(5, dtype=np.int64) + 2**20)) == 5 * 2**20 + 10
    assert programs[0] == 1, programs
    with pytest.raises(OverflowError, match="without overflow"):  # never wrapped
        T.sum(np.asarray([2**40], np.int64))
