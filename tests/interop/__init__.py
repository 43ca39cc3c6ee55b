"""Tests of jtoolkit/_src/interop (a package: its _harness has its own name)."""
