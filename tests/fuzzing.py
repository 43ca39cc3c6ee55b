"""The torch-parity fuzz harness: both sides return the same value or both raise.

``same(ours, theirs)`` runs jtoolkit and torch on the same inputs; the results must
agree (values within ``rtol``/``atol``, shapes exactly, NaN where NaN) or both must
raise, ours an instance of torch's builtin exception type. ``FUZZ`` is the fixed,
derandomized hypothesis profile (fixed example counts, no database) so CI is
reproducible and fast. ``JTOOLKIT_FUZZ_REPORT=<file>`` appends one line per test
module: the cases it compared.
"""

from __future__ import annotations

import builtins
import os
import warnings
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, settings

__all__ = ["CASES", "FUZZ", "report", "same"]

CASES: Counter = Counter()
FUZZ = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _builtin_type(err: BaseException) -> type:
    return next(c for c in type(err).__mro__ if getattr(builtins, c.__name__, 0) is c)


def _run(fn):
    try:
        return fn(), None
    except Exception as err:  # compared below: any exception is a result
        return None, err


def _numpy(value):
    if hasattr(value, "detach"):
        value = value.detach().numpy()
    return np.asarray(value, np.float64)


def same(area: str, ours, theirs, *, rtol: float = 1e-5, atol: float = 1e-6):
    """Assert ``ours()`` equals ``theirs()`` or raises torch's exception type."""
    CASES[area] += 1
    with warnings.catch_warnings():  # torch's deprecation notes are not results
        warnings.simplefilter("ignore")
        want, want_err = _run(theirs)
    got, got_err = _run(ours)
    if want_err is not None:
        assert got_err is not None, f"torch raised {want_err!r}, we returned {got}"
        assert isinstance(got_err, _builtin_type(want_err)), (
            f"torch raised {want_err!r}, we raised {got_err!r}"
        )
        return
    assert got_err is None, f"we raised {got_err!r}, torch returned {want}"
    if isinstance(want, tuple | list):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            _close(g, w, rtol, atol)
        return
    _close(got, want, rtol, atol)


def _close(got, want, rtol, atol):
    g, w = _numpy(got), _numpy(want)
    assert g.shape == w.shape, (g.shape, w.shape)
    np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True)


def report(module: str) -> None:
    """Append this module's case counts to ``$JTOOLKIT_FUZZ_REPORT``."""
    path = os.environ.get("JTOOLKIT_FUZZ_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(f"{module} {dict(CASES)}\n")
