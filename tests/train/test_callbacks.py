"""Tests of ``jtoolkit/_src/train/callbacks.py`` (``EarlyStopping``,
``EarlyStoppingState``, ``state_from_json``, ``state_to_json``).

Moved from test_train_fit.py when the tests were laid out to mirror the code; that
file's notes:

fit(): loss goes down, resume equals uninterrupted, NaN stop, early stopping.
"""

import jax
import pytest

from jtoolkit._src.train.callbacks import state_from_json, state_to_json
from jtoolkit.train import (
    EarlyStopping,
    EarlyStoppingState,
)


def test_early_stopping_is_a_pure_state_machine_that_survives_json():
    es = EarlyStopping(patience=2, mode="max", min_delta=0.1)
    step = jax.jit(es.step)
    state = es.init()
    stops = []
    for v in (0.5, 0.55, 0.7, 0.75, 0.78):
        state = state_from_json(EarlyStoppingState, state_to_json(step(state, v)))
        stops.append(bool(state.stop))
    assert stops == [False, False, False, False, True]
    assert float(state.best) == pytest.approx(0.7)
