"""DataLoader's positional order is torch's; jtoolkit's extras are keyword-only."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from jtoolkit import data


def test_positional_order_and_defaults_are_torchs(torch):
    ours = inspect.signature(data.DataLoader).parameters
    theirs = inspect.signature(torch.utils.data.DataLoader).parameters
    positional = [n for n, p in theirs.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert [n for n, p in ours.items() if p.kind is p.POSITIONAL_OR_KEYWORD] == (
        positional
    )
    for name, param in theirs.items():
        assert name in ours, name
        assert ours[name].kind is param.kind, name
        assert ours[name].default == param.default, name
    assert ours["seed"].kind is inspect.Parameter.KEYWORD_ONLY


def test_a_positional_torch_call_means_the_same():
    ds = data.ArrayDataset(np.arange(10))
    loader = data.DataLoader(ds, 4, False, None, None, 0, None, False, True, 5.0)
    assert loader.timeout == 5.0 and loader.drop_last and len(loader) == 2
    fourteen = (4, False, None, None, 0, None, False, True, 0, None, None, None, 7)
    with pytest.raises(TypeError):  # prefetch_factor is keyword-only, as torch's
        data.DataLoader(ds, *fourteen)


def test_keyword_calls_keep_working():
    ds = data.ArrayDataset(np.arange(10))
    loader = data.DataLoader(ds, batch_size=4, shuffle=True, seed=3, prefetch_factor=2)
    again = data.DataLoader(ds, batch_size=4, shuffle=True, seed=3)
    assert [np.asarray(b).tolist() for b in loader] == [
        np.asarray(b).tolist() for b in again
    ]
    with pytest.raises(ValueError, match="prefetch_factor option could only"):
        data.DataLoader(ds, prefetch_factor=3)
