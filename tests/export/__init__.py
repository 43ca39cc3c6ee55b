"""Tests of jtoolkit/_src/export (a package: its _harness has its own name)."""
