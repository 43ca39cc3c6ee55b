"""torch's signatures: positional order and defaults of every public nn name.

For each name in ``jtoolkit.models`` and ``jtoolkit.functional`` with a twin in
``torch.nn`` / ``torch.nn.functional``, every torch parameter must exist in
jtoolkit at the same position (keyword-only where torch's is), with the same
default. jtoolkit may add keyword-only arguments (``rngs``, ``data_format``).
Every other difference is a row of the ONE table of deliberate differences in
docs/migration.md ("Deliberate differences"), which this test parses: a
difference without a row fails, and so does a row that matches nothing (rows of
other kinds, ``value``/``raises``, are the fuzz tests' behavioural differences).
"""

import fnmatch
import inspect
import pathlib
import re

import pytest

import jtoolkit.functional as F
from jtoolkit import models

torch = pytest.importorskip("torch")

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "migration.md"
P = inspect.Parameter
EMPTY = P.empty
KINDS = {"missing", "position", "default", "extra positional"}


def _doc_signature(obj) -> inspect.Signature | None:
    """A builtin's signature from its docstring's first line (``gelu(input, ...)``)."""
    lines = (obj.__doc__ or "").strip().splitlines()
    match = re.match(r"^\s*\w+\((.*?)\)\s*(->.*)?$", lines[0] if lines else "")
    if not match:
        return None
    scope: dict = {}
    exec(f"def f({match.group(1)}): pass", {"inf": float("inf")}, scope)
    return inspect.signature(scope["f"])


def torch_signature(name: str, obj) -> inspect.Signature | None:
    """torch's signature (RNN/GRU/LSTM take ``*args``: their documented one)."""
    if name in {"RNN", "GRU", "LSTM"}:
        params = list(inspect.signature(torch.nn.RNNBase).parameters.values())[1:]
        if name == "RNN":
            extra = P("nonlinearity", P.POSITIONAL_OR_KEYWORD, default="tanh")
            params = [*params[:2], params[2], extra, *params[3:]]
        if name != "LSTM":
            params = [p for p in params if p.name != "proj_size"]
        return inspect.Signature(params)
    try:
        sig = inspect.signature(obj)
    except (ValueError, TypeError):
        return _doc_signature(obj)
    if any(p.kind == P.VAR_POSITIONAL for p in sig.parameters.values()):
        return None  # Sequential(*args), Identity(*args, **kwargs): nothing to order
    return sig


def our_signature(obj) -> inspect.Signature:
    target = obj.__init__ if inspect.isclass(obj) else obj
    params = list(inspect.signature(target).parameters.values())
    if inspect.isclass(obj):
        params = params[1:]  # self
    return inspect.Signature(params)


def _positional(sig):
    return [
        p
        for p in sig.parameters.values()
        if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)
    ]


def differences(name: str, theirs: inspect.Signature, ours: inspect.Signature):
    """``(name, parameter, what)`` for each way ``ours`` differs from ``theirs``."""
    found = []
    t_pos, o_pos = _positional(theirs), _positional(ours)
    o_all = ours.parameters
    for i, param in enumerate(theirs.parameters.values()):
        if param.kind in (P.VAR_POSITIONAL, P.VAR_KEYWORD):
            continue
        mine = o_all.get(param.name)
        if mine is None:
            found.append((name, param.name, "missing"))
            continue
        if param.kind == P.KEYWORD_ONLY:
            if mine.kind != P.KEYWORD_ONLY:
                found.append((name, param.name, "position"))
        elif i >= len(o_pos) or o_pos[i].name != param.name:
            found.append((name, param.name, "position"))
        same = mine.default == param.default or (
            mine.default is EMPTY and param.default is EMPTY
        )
        try:
            same = bool(same)
        except Exception:
            same = False
        if not same:
            found.append((name, param.name, "default"))
    torch_names = {p.name for p in t_pos}
    for param in o_pos:
        if param.name not in torch_names:
            found.append((name, param.name, "extra positional"))
    return found


def all_differences():
    found = []
    for prefix, ours_mod, torch_mod in (
        ("models", models, torch.nn),
        ("F", F, torch.nn.functional),
    ):
        for name in ours_mod.__all__:
            twin = getattr(torch_mod, name, None)
            if twin is None or not callable(twin):
                continue
            theirs = torch_signature(name, twin)
            if theirs is None:
                continue
            ours = our_signature(getattr(ours_mod, name))
            found += differences(f"{prefix}.{name}", theirs, ours)
    return found


def documented_rows() -> list[tuple[str, str, str]]:
    """``(name pattern, parameter pattern, what)`` rows of docs/migration.md's table
    of deliberate differences (the first two columns hold `code`)."""
    text = DOC.read_text()
    section = text.split("## Deliberate differences", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`"):
            continue
        if set(map(str.strip, cells[2].split(","))) <= KINDS:  # signature rows
            rows.append((cells[0].strip("`"), cells[1].strip("`"), cells[2]))
    return rows


def _covered(diff, row) -> bool:
    name, param, what = diff
    pattern, params, kinds = row
    return (
        fnmatch.fnmatch(name, pattern)
        and any(fnmatch.fnmatch(param, p.strip()) for p in params.split(","))
        and any(k.strip() == what for k in kinds.split(","))
    )


def test_every_signature_difference_is_documented():
    rows = documented_rows()
    assert rows, "docs/migration.md has no 'Deliberate differences' table"
    diffs = all_differences()
    undocumented = [d for d in diffs if not any(_covered(d, r) for r in rows)]
    assert undocumented == [], "\n".join(map(str, undocumented))
    stale = [r for r in rows if not any(_covered(d, r) for d in diffs)]
    assert stale == [], f"rows matching no difference: {stale}"


def test_the_check_sees_a_changed_default_and_order():
    def theirs(input, p=0.5, training=True, inplace=False):
        pass

    def ours(input, training=True, p=0.4, *, inplace=False):
        pass

    found = differences("x", inspect.signature(theirs), inspect.signature(ours))
    assert ("x", "p", "position") in found and ("x", "p", "default") in found
    assert ("x", "inplace", "position") in found


def test_recurrent_layers_take_torchs_positional_order():
    for name in ("RNN", "GRU", "LSTM"):
        theirs = torch_signature(name, getattr(torch.nn, name))
        ours = our_signature(getattr(models, name))
        assert differences(name, theirs, ours) == [], name
