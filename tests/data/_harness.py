"""Helpers shared by the tests of tests/data/ (one copy per area)."""

from jtoolkit import data

# ------------------------------------------------------------ datasets


class Count(data.IterableDataset):
    def __init__(self, n, start=0):
        self.n, self.start = n, start

    def __iter__(self):
        return iter(range(self.start, self.start + self.n))
