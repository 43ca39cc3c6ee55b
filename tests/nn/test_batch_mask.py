"""Masked BatchNorm: a padded batch's statistics come from its real rows only,
equal to torch's BatchNorm fed those rows (directly and through the train step)."""

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jtoolkit import losses, models
from jtoolkit._src.nn.normalization import batch_mask
from jtoolkit.train import TrainState, make_train_step


def test_masked_statistics_equal_torch_on_the_real_rows(torch, rng):
    x = rng.standard_normal((7, 3, 4, 5)).astype(np.float32) * 2 + 1
    mask = (np.arange(7) < 4).astype(np.float32)
    x[4:] = 1e3  # padding rows, which must not move anything
    bn = models.BatchNorm2d(5, momentum=0.3)
    with batch_mask(jnp.asarray(mask)):
        y = bn(x)
    tbn = torch.nn.BatchNorm2d(5, momentum=0.3)
    ty = tbn(torch.tensor(x[:4]).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    np.testing.assert_allclose(y[:4], ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean[...], tbn.running_mean, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var[...], tbn.running_var, rtol=1e-5)
    # An all-padding batch leaves the statistics alone.
    before = np.asarray(bn.running_mean[...])
    with batch_mask(jnp.zeros(7)):
        bn(x)
    np.testing.assert_array_equal(bn.running_mean[...], before)
    assert int(bn.num_batches_tracked[...]) == 1


class _Net(nnx.Module):
    def __init__(self, rngs):
        self.fc1 = models.Linear(4, 6, rngs=rngs)
        self.bn = models.BatchNorm1d(6)
        self.fc2 = models.Linear(6, 3, rngs=rngs)

    def __call__(self, x):
        return self.fc2(nnx.relu(self.bn(self.fc1(x))))


def test_a_padded_train_step_equals_torch_on_the_ragged_batch(torch, rng):
    net = _Net(nnx.Rngs(0))
    tnet = torch.nn.Sequential(
        torch.nn.Linear(4, 6),
        torch.nn.BatchNorm1d(6),
        torch.nn.ReLU(),
        torch.nn.Linear(6, 3),
    )
    sd = models.torch_state_dict(net)
    names = {"fc1": "0", "bn": "1", "fc2": "3"}
    tnet.load_state_dict(
        {
            names[k.split(".")[0]] + k[k.index(".") :]: torch.tensor(v)
            for k, v in sd.items()
        }
    )
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = rng.integers(0, 3, 8).astype(np.int32)
    real = 5
    x[real:], y[real:] = x[real - 1], y[real - 1]  # the feeder's padding rule
    mask = (np.arange(8) < real).astype(np.float32)
    opt = optax.sgd(0.1)

    def loss_fn(model, batch):
        return losses.cross_entropy(model(batch[0]), batch[1], reduction="none")

    state, metrics = make_train_step(loss_fn, opt)(
        TrainState.create(net, opt), (x, y), mask
    )
    topt = torch.optim.SGD(tnet.parameters(), lr=0.1)
    tloss = torch.nn.functional.cross_entropy(
        tnet(torch.tensor(x[:real])), torch.tensor(y[:real]).long()
    )
    tloss.backward()
    topt.step()
    np.testing.assert_allclose(float(metrics["loss"]), tloss.item(), rtol=1e-5)
    got = models.torch_state_dict(state.module())
    for name, value in tnet.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        ours = {v: k for k, v in names.items()}[name.split(".")[0]] + name[1:]
        np.testing.assert_allclose(got[ours], value.numpy(), rtol=1e-5, atol=1e-6)


def test_masked_statistics_for_the_new_batchnorm_arguments(torch, rng):
    """BatchNorm3d, affine=False and track_running_stats=False keep the mask."""
    x = rng.standard_normal((5, 2, 3, 2, 4)).astype(np.float32)
    x[3:] = 1e3
    mask = jnp.asarray((np.arange(5) < 3).astype(np.float32))
    for kwargs in ({"affine": False, "momentum": None}, {"track_running_stats": False}):
        bn, tbn = models.BatchNorm3d(4, **kwargs), torch.nn.BatchNorm3d(4, **kwargs)
        with batch_mask(mask):
            y = bn(x)
        ty = tbn(torch.tensor(x[:3]).permute(0, 4, 1, 2, 3)).permute(0, 2, 3, 4, 1)
        np.testing.assert_allclose(y[:3], ty.detach().numpy(), rtol=1e-5, atol=1e-5)
        if tbn.running_mean is not None:
            np.testing.assert_allclose(bn.running_var[...], tbn.running_var, 1e-5)
