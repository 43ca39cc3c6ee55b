"""TrainStep: a frozen object with fields, k steps per call, accumulation."""

import dataclasses

import jax
import numpy as np
import optax
import pytest
from flax import nnx
from jax.sharding import PartitionSpec as P

from jtoolkit import losses, models, optim
from jtoolkit.train import TrainState, TrainStep, make_eval_step, make_train_step


def _loss(model, batch):
    return losses.cross_entropy(model(batch[0]), batch[1], reduction="none")


def _data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int32)


def _state(opt):
    return TrainState.create(models.MLP([6, 8, 2], rngs=nnx.Rngs(0)), opt)


def test_step_is_a_frozen_object_with_cached_siblings():
    opt = optax.sgd(0.1)
    step = make_train_step(_loss, opt, nan_policy="skip")
    assert isinstance(step, TrainStep) and step.steps == 1 and step.mesh is None
    assert (step.nan_policy, step.precision, step.accumulate) == ("skip", "fp32", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.steps = 2  # type: ignore[misc]
    k4 = step.with_steps(4)
    assert k4.steps == 4 and k4 is step.with_steps(4) and step.with_steps(1) is step
    assert k4.nan_policy == "skip"
    assert isinstance(make_eval_step(_loss).takes_mask(_state(opt), _data()), bool)
    with pytest.raises(NotImplementedError, match="as shard="):
        make_train_step(_loss, opt, layout={"kernel": None})
    with pytest.raises(ValueError, match="policy must be"):
        make_train_step(_loss, opt, shard="zero3")
    fsdp = make_train_step(_loss, opt, shard="fsdp")
    assert fsdp.shard == "fsdp" and fsdp.with_shard("fsdp") is fsdp
    assert step.with_shard({"k": P()}) is step.with_shard({"k": P()})
    with pytest.raises(ValueError, match="make_train_step: accumulate must be"):
        make_train_step(_loss, opt, accumulate=0)


def test_with_steps_equals_single_steps_and_compiles_once():
    opt = optax.adam(1e-2)
    step = make_train_step(_loss, opt)
    x, y = _data(96)
    xs, ys = x.reshape(3, 32, 6), y.reshape(3, 32)
    s1 = _state(opt)
    for i in range(3):
        s1, _ = step(s1, (xs[i], ys[i]))
    k3 = step.with_steps(3)
    s3, m = k3(_state(opt), (xs, ys))
    assert m["loss"].shape == (3,) and int(s3.step) == 3
    for a, b in zip(jax.tree.leaves(s1.model), jax.tree.leaves(s3.model), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    k3(s3, (xs, ys))
    assert k3._cache_size() == 1 and step._cache_size() == 1


def test_accumulate_equals_torch_loss_over_k_pattern(torch):
    """accumulate=2: (loss / 2).backward() per batch, optimizer.step() every 2."""
    x, y = _data(64)
    net = models.MLP([6, 8, 2], rngs=nnx.Rngs(0))
    tnet = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)
    )
    sd = models.torch_state_dict(net)
    tnet.load_state_dict({k[7:]: torch.tensor(v) for k, v in sd.items()})
    opt = optim.sgd(lr=0.5, momentum=0.9)
    topt = torch.optim.SGD(tnet.parameters(), lr=0.5, momentum=0.9)
    step = make_train_step(_loss, opt, accumulate=2)
    state = TrainState.create(net, opt)
    xs, ys = x.reshape(2, 2, 16, 6), y.reshape(2, 2, 16)
    for i in range(2):
        state, _ = step(state, (xs[i], ys[i]))
        for j in range(2):
            out = tnet(torch.tensor(xs[i, j]))
            loss = torch.nn.functional.cross_entropy(out, torch.tensor(ys[i, j]).long())
            (loss / 2).backward()
        topt.step()
        topt.zero_grad()
    assert int(state.step) == 2
    got = models.torch_state_dict(state.module())
    for name, value in tnet.state_dict().items():
        np.testing.assert_allclose(
            got["layers." + name], value.numpy(), rtol=1e-5, atol=1e-6
        )
