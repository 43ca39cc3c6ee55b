"""Tests of jtoolkit/_src/metrics (a package: its _harness has its own name)."""
