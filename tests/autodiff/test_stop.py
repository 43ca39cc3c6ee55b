"""Tests of ``jtoolkit/_src/autodiff/stop.py`` (``detach``, ``no_grad``).

Moved from test_autodiff.py when the tests were laid out to mirror the code; that file's
notes:

autodiff: the tutorial's autograd example, torch parity of every wrapper, and
``intermediate_grads`` against torch's ``retain_grad``.
"""

import jax
import jax.numpy as jnp
import numpy as np

import jtoolkit.autodiff as A


def test_detach_matches_torch(torch, rng):
    x = rng.standard_normal(4).astype(np.float32)
    g = A.grad(lambda x: (x * A.detach(x) ** 2).sum())(x)
    tx = torch.tensor(x, requires_grad=True)
    (tx * tx.detach() ** 2).sum().backward()
    np.testing.assert_allclose(np.asarray(g), tx.grad.numpy(), rtol=1e-6)
    tree = A.detach({"a": jnp.ones(2), "n": 3, "np": np.ones(2)})
    assert tree["n"] == 3 and isinstance(tree["np"], jax.Array)


def test_no_grad_forms(torch, rng):
    x = rng.standard_normal(4).astype(np.float32)

    @A.no_grad
    def double(x):
        return {"y": 2 * x, "tag": "t"}

    @A.no_grad()
    def triple(x):
        return 3 * x

    with A.no_grad():
        assert float(triple(1.0)) == 3.0

    g = A.grad(lambda x: (double(x)["y"] * x + triple(x) + x).sum())(x)
    tx = torch.tensor(x, requires_grad=True)
    with torch.no_grad():
        y2, y3 = 2 * tx, 3 * tx
    (y2 * tx + y3 + tx).sum().backward()
    np.testing.assert_allclose(np.asarray(g), tx.grad.numpy(), rtol=1e-6)
    assert double(x)["tag"] == "t" and double.__name__ == "double"
