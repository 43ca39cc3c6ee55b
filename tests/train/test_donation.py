"""Tests of ``jtoolkit/_src/train/donation.py``.

Moved from test_train_reliability.py when the tests were laid out to mirror the code;
that file's notes:

Training state reliability: donated-state reuse, huge finite gradients, and fit
resuming from the newest intact checkpoint (never a silent fresh start).
"""

import pytest

from tests.train._harness import _BATCHES, _STEP, _state


def test_reusing_a_donated_state_says_keep_the_returned_state():
    state = _state()
    new, _ = _STEP(state, _BATCHES[0])
    with pytest.raises(ValueError, match="keep the returned state"):
        _STEP(state, _BATCHES[0])
    new, _ = _STEP(new, _BATCHES[0])  # the returned one works
    assert int(new.step) == 2
    assert _STEP._cache_size() >= 1  # still the jitted function underneath
