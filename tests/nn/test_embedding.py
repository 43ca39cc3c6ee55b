"""Tests of ``jtoolkit/_src/nn/linear.py`` (``Embedding``).

Moved from test_models.py when the tests were laid out to mirror the code; that file's
notes:

Layer and network parity with torch: loaded weights, outputs, gradients, init.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jtoolkit.functional as F
from jtoolkit import models
from jtoolkit.models import (
    Embedding,
)
from tests.nn._harness import _close, _load_from


def test_embedding_matches_torch_and_checks_ids(torch):
    ref = torch.nn.Embedding(7, 3)
    emb = _load_from(ref, Embedding(7, 3, rngs=nnx.Rngs(0)))
    ids = np.array([[0, 6, 2], [3, 3, 1]])
    _close(emb(ids), ref(torch.tensor(ids)).detach().numpy(), rtol=0, atol=0)
    with pytest.raises(IndexError, match="index out of range"):
        emb(jnp.array([7]))


def _weight_grad(torch, ref, ours, call_ref, call_ours, rng):
    """Output and d/dweight of a random cotangent, both sides."""
    out = call_ref(ref)
    w = rng.standard_normal(tuple(out.shape)).astype(np.float32)
    (out * torch.from_numpy(w)).sum().backward()
    graphdef, params = nnx.split(ours)

    def loss(params):
        return jnp.sum(call_ours(nnx.merge(graphdef, params)) * w)

    grads = models.torch_state_dict(nnx.merge(graphdef, jax.grad(loss)(params)))
    _close(call_ours(ours), out.detach().numpy())
    _close(grads["weight"], ref.weight.grad.to_dense().numpy())  # sparse=True too


@pytest.mark.parametrize(
    "kwargs", [{"padding_idx": 2, "sparse": True}, {"padding_idx": -1}], ids=str
)
def test_embedding_padding_idx_and_sparse_as_torch(torch, rng, kwargs):
    ref = torch.nn.Embedding(5, 3, **kwargs)
    ours = Embedding(5, 3, **kwargs, rngs=nnx.Rngs(0))
    pad = ref.padding_idx
    assert np.all(models.torch_state_dict(ours)["weight"][pad] == 0)
    assert models.summary(ours) == str(ref)
    _load_from(ref, ours)
    ids = np.array([[0, pad, 2], [4, pad, 1]])
    _weight_grad(
        torch, ref, ours, lambda m: m(torch.tensor(ids)), lambda m: m(ids), rng
    )


BAGS = [
    ({"mode": "sum"}, np.array([1, 2, 4, 4, 3]), np.array([0, 2, 2]), False),
    ({"mode": "mean", "padding_idx": 4}, np.array([[1, 4], [4, 4]]), None, False),
    ({"mode": "max"}, np.array([1, 2, 4, 4, 3]), np.array([0, 2, 2]), False),
    (
        {"mode": "sum", "include_last_offset": True},
        np.array([1, 2, 4]),
        np.array([0, 1, 3]),
        True,
    ),
    ({"mode": "mean", "sparse": True}, np.array([[0, 1, 2]]), None, False),
]


@pytest.mark.parametrize(("kwargs", "ids", "offsets", "psw"), BAGS, ids=str)
def test_embedding_bag_matches_torch(torch, rng, kwargs, ids, offsets, psw):
    ref = torch.nn.EmbeddingBag(5, 3, **kwargs)
    ours = models.EmbeddingBag(5, 3, **kwargs, rngs=nnx.Rngs(0))
    assert models.summary(ours) == str(ref)
    assert list(models.torch_state_dict(ours)) == ["weight"]
    _load_from(ref, ours)
    weights = rng.standard_normal(ids.shape).astype(np.float32) if psw else None
    t_off = None if offsets is None else torch.tensor(offsets)
    t_w = None if weights is None else torch.tensor(weights)
    _weight_grad(
        torch,
        ref,
        ours,
        lambda m: m(torch.tensor(ids), t_off, t_w),
        lambda m: m(ids, offsets, weights),
        rng,
    )


def test_embedding_bag_errors_as_torch(torch):
    w = np.ones((5, 3), np.float32)
    ids = np.array([1, 2, 4])
    bad = [
        ((ids, w, np.array([1, 3])), {}, RuntimeError, "offsets\\[0\\] has to be 0"),
        ((ids, w), {}, ValueError, "offsets has to be a 1D"),
        ((ids, w, np.array([0])), {"mode": "x"}, ValueError, "mode has to be one"),
        (
            (ids, w, np.array([0])),
            {"mode": "max", "per_sample_weights": np.ones(3, np.float32)},
            NotImplementedError,
            "only supported for mode='sum'",
        ),
    ]
    for args, kwargs, exc, match in bad:
        targs = [torch.tensor(a) for a in args]
        tkw = {
            k: torch.tensor(v) if isinstance(v, np.ndarray) else v
            for k, v in kwargs.items()
        }
        with pytest.raises(exc, match=match):
            torch.nn.functional.embedding_bag(*targs, **tkw)
        with pytest.raises(exc, match=match):
            F.embedding_bag(*args, **kwargs)
    with pytest.raises(NotImplementedError, match="max_norm"):
        Embedding(5, 3, max_norm=1.0, rngs=nnx.Rngs(0))
