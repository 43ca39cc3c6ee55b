"""Fuzz the optimizers against torch 2.13: validation and three steps' values.

Random hyper-parameters, invalid ones included (negative lr/eps/weight_decay,
betas outside [0, 1), momentum with dampening and nesterov, ...): either both
construct and three steps on a small quadratic agree, or both raise and ours
raises torch's exception type at construction (torch raises at construction or
at the first step). Derandomized, fixed example counts.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from fuzzing import FUZZ, report, same
from hypothesis import given
from hypothesis import strategies as st

from jtoolkit import optim

torch = pytest.importorskip("torch")
AREA = "optim"
STEPS = 3
_lr = st.sampled_from([-0.1, 0.0, 0.01, 0.1])
_small = st.sampled_from([-0.1, 0.0, 0.1])
_beta = st.sampled_from([-0.1, 0.0, 0.5, 0.9, 1.0])
_eps = st.sampled_from([-1e-8, 0.0, 1e-8, 1e-3])
_flag = st.booleans()
START = np.asarray([[0.5, -1.0, 2.0], [0.0, 1.5, -0.5]], np.float32)
TARGET = np.asarray([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]], np.float32)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    report(__name__)


def _torch_run(name, kwargs):
    w = torch.tensor(START, requires_grad=True)
    opt = getattr(torch.optim, name)([w], **kwargs)
    for _ in range(STEPS):
        opt.zero_grad()
        ((w - torch.from_numpy(TARGET)) ** 3).abs().sum().backward()
        opt.step()
    return w.detach().numpy()


def _our_run(name, kwargs):
    tx = getattr(optim, name)(**kwargs)
    w = jnp.asarray(START)
    state = tx.init(w)
    grad = jax.grad(lambda w: jnp.sum(jnp.abs((w - TARGET) ** 3)))
    for _ in range(STEPS):
        updates, state = tx.update(grad(w), state, w)
        w = optax.apply_updates(w, updates)
    return w


def _case(ours, theirs, kwargs):
    same(
        AREA,
        lambda: _our_run(ours, kwargs),
        lambda: _torch_run(theirs, kwargs),
        rtol=1e-5,
        atol=1e-6,
    )


@FUZZ
@given(_lr, _small, _small, _small, _flag, _flag)
def test_sgd(lr, momentum, dampening, wd, nesterov, maximize):
    kwargs = dict(
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        weight_decay=wd,
        nesterov=nesterov,
        maximize=maximize,
    )
    _case("sgd", "SGD", kwargs)


@FUZZ
@given(_lr, _beta, _beta, _eps, _small, _flag, st.sampled_from(["adam", "adamw"]))
def test_adam_family(lr, b1, b2, eps, wd, amsgrad, name):
    kwargs = dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, amsgrad=amsgrad)
    _case(name, {"adam": "Adam", "adamw": "AdamW"}[name], kwargs)


@FUZZ
@given(_lr, _beta, _eps, _small, _small, _flag)
def test_rmsprop(lr, alpha, eps, wd, momentum, centered):
    kwargs = dict(
        lr=lr,
        alpha=alpha,
        eps=eps,
        weight_decay=wd,
        momentum=momentum,
        centered=centered,
    )
    _case("rmsprop", "RMSprop", kwargs)


@FUZZ
@given(_lr, _small, _small, _small, _eps)
def test_adagrad(lr, lr_decay, wd, init, eps):
    kwargs = dict(
        lr=lr,
        lr_decay=lr_decay,
        weight_decay=wd,
        initial_accumulator_value=init,
        eps=eps,
    )
    _case("adagrad", "Adagrad", kwargs)


@FUZZ
@given(_lr, _beta, _eps, _small)
def test_adadelta(lr, rho, eps, wd):
    _case("adadelta", "Adadelta", dict(lr=lr, rho=rho, eps=eps, weight_decay=wd))
