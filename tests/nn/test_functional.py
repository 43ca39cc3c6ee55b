"""The public surface of ``jtoolkit.functional`` as a whole (its names, the
tutorial's custom loss, vmap over several functionals); each functional's own
tests are in ``test_functional_<idea>.py``.

Moved from test_functional.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.functional against torch.nn.functional: values, gradients (torch
autograd as the oracle on ``sum(f(x) * w)``), under ``jax.jit``, layouts and
torch's exception types.
"""

import jax
import numpy as np

import jtoolkit.functional as F
import jtoolkit.losses as L
from tests.nn._harness import RTOL, _x, check


def test_every_torch_loss_of_losses_is_in_functional(torch):
    torch_f = torch.nn.functional
    names = [n for n in L.__all__ if n[0].islower() and hasattr(torch_f, n)]
    assert "cross_entropy" in names and "kl_div" in names
    for name in names:
        assert name in F.__all__, name
        assert getattr(F, name) is getattr(L, name)
    for name in F.__all__:
        assert hasattr(torch_f, name) or name == "flatten", name


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
