"""Tests of ``jtoolkit/_src/demo/run.py`` (``build_optimizer``).

Moved from test_train_cli.py when the tests were laid out to mirror the code; that
file's notes:

The demo: config parsing, datasets, metrics/plot files, resume, one real CLI run.
"""

import pytest

from tests.demo._harness import _quiet


@pytest.fixture(autouse=True)
def _no_compile_cache(monkeypatch):
    """In-process runs must not switch on a persistent cache for the whole session."""
    monkeypatch.setenv("JTOOLKIT_COMPILATION_CACHE", "0")


def test_onecycle_cycles_momentum_as_torch_and_short_warmup_cosine_builds():
    """torch's OneCycleLR cycles momentum/beta1 too; 1-epoch warmup-cosine is valid."""
    from jtoolkit import schedules
    from jtoolkit._src.demo.run import _momentum_kwargs, build_optimizer

    config = _quiet(scheduler="onecycle", optimizer="adam")
    expected = schedules.one_cycle_momentum(total_steps=config.epochs * 10)
    beta1 = _momentum_kwargs(config, 10)["betas"][0]
    counts = (0, 7, 30, 100)
    assert [float(beta1(c)) for c in counts] == [float(expected(c)) for c in counts]
    sgd = _momentum_kwargs(_quiet(scheduler="onecycle", optimizer="sgd"), 10)
    assert set(sgd) == {"momentum"}
    assert _momentum_kwargs(_quiet(scheduler="onecycle", optimizer="adagrad"), 10) == {}
    assert _momentum_kwargs(_quiet(scheduler="cosine", optimizer="adam"), 10) == {}
    build_optimizer(_quiet(scheduler="warmup-cosine", epochs=1), 5)
