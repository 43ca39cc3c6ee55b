"""Tests of ``jtoolkit/_src/losses/probabilistic.py`` (``gaussian_nll_loss``,
``poisson_nll_loss``).

Moved from test_losses_more.py when the tests were laid out to mirror the code; that
file's notes:

Parity of the second-wave losses with torch: values, gradients, modules, errors.

Covers poisson/gaussian NLL, the margin/hinge family, cosine embedding and triplet
with a distance function (CTC is in test_ctc.py). Each case is one loss with one
set of options on fixed random float32 inputs, run for every reduction (for
"none", the gradient of ``sum(out * c)`` with a fixed cotangent ``c``) and compared
with torch 2.13, eagerly per case and under ``jax.jit`` once per family. Every
element is a short closed formula here, so float32 rtol 1e-5 (gradients also atol
1e-7, as they cross 0).
"""

from __future__ import annotations

import jax
import numpy as np

from jtoolkit import losses as L
from tests.losses._harness import F32, RTOL


def test_gaussian_var_clamp_passes_gradient(torch):
    """torch clamps var at eps under no_grad: the gradient below eps is not 0."""
    x, y, v = np.ones(3, F32), np.zeros(3, F32), np.array([1e-9, 0.5, 2.0], F32)
    grad = jax.grad(lambda v: L.gaussian_nll_loss(x, y, v, eps=1e-6))(v)
    tv = torch.tensor(v, requires_grad=True)
    torch.nn.functional.gaussian_nll_loss(
        torch.tensor(x), torch.tensor(y), tv, eps=1e-6
    ).backward()
    assert grad[0] != 0
    np.testing.assert_allclose(grad, tv.grad.numpy(), rtol=RTOL)


def test_poisson_stirling_only_above_one():
    """full=True adds y log y - y + log(2 pi y) / 2 only where y > 1 (torch)."""
    x, y = np.zeros(4, F32), np.array([0.0, 1.0, 2.0, 5.0], F32)
    plain = L.poisson_nll_loss(x, y, reduction="none")
    full = L.poisson_nll_loss(x, y, full=True, reduction="none")
    stirling = [0, 0, 2 * np.log(2) - 2 + 0.5 * np.log(4 * np.pi)]
    stirling.append(5 * np.log(5) - 5 + 0.5 * np.log(10 * np.pi))
    np.testing.assert_allclose(full - plain, stirling, rtol=1e-5, atol=1e-7)
