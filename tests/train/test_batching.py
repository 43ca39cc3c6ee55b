"""Tests of ``jtoolkit/_src/train/batching.py`` (``pad_batch``, ``supports_mask``).

Moved from test_train_fit.py when the tests were laid out to mirror the code; that
file's notes:

fit(): loss goes down, resume equals uninterrupted, NaN stop, early stopping.
"""

import jax.numpy as jnp
import numpy as np
import pytest

from jtoolkit._src.train.batching import pad_batch, supports_mask
from jtoolkit.train import (
    MaskUnsupportedError,
    make_train_step,
)
from tests.train._harness import _loss_fn, _Setup


def test_scalar_loss_steps_are_recognised_by_type_not_message():
    setup = _Setup()
    scalar = make_train_step(lambda m, b: jnp.mean(_loss_fn(m, b)), setup.opt)
    batch = (np.zeros((4, 6), np.float32), np.zeros(4, np.int32))
    assert not supports_mask(scalar, setup.state(), pad_batch(batch, 4))
    assert supports_mask(setup.step, setup.state(), pad_batch(batch, 4))
    with pytest.raises(MaskUnsupportedError, match="per-example"):
        scalar(setup.state(), batch, np.ones(4, np.float32))
