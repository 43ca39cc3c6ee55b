"""Tests of ``jtoolkit/_src/nn/functional/distance.py`` (``cosine_similarity``,
``normalize``).

Moved from test_functional.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.functional against torch.nn.functional: values, gradients (torch
autograd as the oracle on ``sum(f(x) * w)``), under ``jax.jit``, layouts and
torch's exception types.
"""

import pytest

import jtoolkit.functional as F
from tests.nn._harness import _x, check

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


@pytest.mark.parametrize(
    ("shapes", "p", "keepdim"),
    [
        (((4, 3), (4, 3)), 2.0, False),
        (((4, 3), (1, 3)), 1.0, True),
        (((2, 4, 3), (4, 3)), 3.0, False),
        (((5,), (5,)), float("inf"), False),
    ],
    ids=str,
)
def test_pairwise_distance_matches_torch(torch, rng, shapes, p, keepdim):
    a, b = (_x(rng, *s) for s in shapes)
    if a.shape == b.shape:
        b[0] = a[0]  # a zero distance (plus eps): torch's gradient there
    check(
        torch,
        rng,
        lambda x, y: F.pairwise_distance(x, y, p, 1e-6, keepdim),
        lambda x, y: torch.nn.functional.pairwise_distance(x, y, p, 1e-6, keepdim),
        [a, b],
    )
