"""Helpers shared by the tests of tests/demo/ (one copy per area)."""

from jtoolkit._src.demo.config import DemoConfig


def _quiet(**kwargs):
    return DemoConfig(dataset="synthetic", progress=False, **kwargs)
