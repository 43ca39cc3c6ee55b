"""Tests of ``jtoolkit/_src/nn/functional/sparse.py`` (``one_hot``).

Moved from test_functional.py when the tests were laid out to mirror the code; that
file's notes:

jtoolkit.functional against torch.nn.functional: values, gradients (torch
autograd as the oracle on ``sum(f(x) * w)``), under ``jax.jit``, layouts and
torch's exception types.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtoolkit.functional as F
from tests.nn._harness import _dtype


def test_one_hot_matches_torch(torch):
    labels = np.array([[0, 2], [1, 4]])
    for kwargs in ({}, {"num_classes": 6}):
        ours = F.one_hot(labels, **kwargs)
        theirs = torch.nn.functional.one_hot(torch.tensor(labels), **kwargs)
        assert ours.dtype == _dtype(theirs.dtype)
        np.testing.assert_array_equal(ours, theirs.numpy())
    jitted = jax.jit(lambda y: F.one_hot(y, 5))(jnp.asarray(labels))
    np.testing.assert_array_equal(jitted, F.one_hot(labels))
    for bad, kwargs, text in [
        (np.array([1.0]), {}, "LongTensor"),
        (np.array([-1]), {}, "non-negative"),
        (np.array([3]), {"num_classes": 2}, "smaller than num_classes"),
        (np.zeros(0, np.int64), {}, "empty tensor"),
    ]:
        with pytest.raises(RuntimeError, match=text):
            torch.nn.functional.one_hot(torch.tensor(bad), **kwargs)
        with pytest.raises(RuntimeError, match=text):
            F.one_hot(bad, **kwargs)
