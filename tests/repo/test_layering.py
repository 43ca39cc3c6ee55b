"""The package's import graph: no cycle, `_src` never imports a public module, and
areas import only downward in DESIGN.md's order.

Every ``import``/``from ... import`` in ``jtoolkit/`` is read with ``ast`` (also the
lazy ones inside functions and ``TYPE_CHECKING`` blocks), so a moved or added
import cannot slip past a regular expression.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PKG = ROOT / "jtoolkit"

# DESIGN.md "Shape": core <- tensor/autodiff <- data, nn, losses, metrics, optim,
# schedules <- checkpoint, interop, export <- train <- demo. An area may import its
# own modules and any area of a lower rank; areas of one rank stay independent.
RANK = {
    "core": 0,
    "tensor": 1,
    "autodiff": 1,
    "data": 2,
    "nn": 2,
    "losses": 2,
    "metrics": 2,
    "optim": 2,
    "schedules": 2,
    "checkpoint": 3,
    "export": 3,
    "interop": 3,
    "train": 4,
    "demo": 5,
}
PUBLIC = {
    "tensor_ops",
    "autodiff",
    "data",
    "models",
    "losses",
    "functional",
    "metrics",
    "export",
    "interop",
    "optim",
    "schedules",
    "checkpoint",
    "train",
    "launch",
}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: pathlib.Path) -> set[str]:
    """Every jtoolkit module ``path`` imports (``from a import b`` counts ``a.b``
    when ``a.b`` is a module, else ``a``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return {m for m in found if m == "jtoolkit" or m.startswith("jtoolkit.")}


MODULES = {module_name(p): p for p in PKG.rglob("*.py")}


def graph(modules: dict[str, pathlib.Path]) -> dict[str, set[str]]:
    return {name: imports_of(path) & set(modules) for name, path in modules.items()}


def area(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "_src" else None


def violations(edges: dict[str, set[str]]) -> list[str]:
    """Upward or sideways arrows between areas, and `_src` -> public arrows."""
    bad = []
    for src, targets in edges.items():
        if area(src) is None:
            continue
        for dst in sorted(targets):
            if dst == "jtoolkit" or not dst.startswith("jtoolkit._src"):
                bad.append(f"{src} imports the public module {dst}")
                continue
            a, b = area(src), area(dst)
            if b is None or a == b:
                continue
            if RANK[b] >= RANK[a]:
                bad.append(
                    f"{src} ({a}, rank {RANK[a]}) imports {dst} ({b}, rank "
                    f"{RANK[b]}): areas import only downward"
                )
    return bad


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_every_area_is_known():
    areas = {area(m) for m in MODULES} - {None}
    assert areas <= set(RANK), f"unranked areas: {areas - set(RANK)}"
    assert set(RANK) <= areas | {"checkpoint"}, set(RANK) - areas


def test_package_holds_only_facades_and_src():
    top = {p.name for p in PKG.iterdir() if p.name != "__pycache__"}
    expected = {"__init__.py", "_src", "py.typed"} | {f"{name}.py" for name in PUBLIC}
    assert top <= expected, f"unexpected files in jtoolkit/: {sorted(top - expected)}"


def test_no_import_cycle():
    cycle = find_cycle(graph(MODULES))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_src_imports_only_downward_and_never_a_public_module():
    assert violations(graph(MODULES)) == []


def test_facades_hold_only_imports_and_all():
    """Public modules: docstring, imports, ``__all__`` (train.py also its lazy
    ``__getattr__`` and the ``python -m`` entry point)."""
    for name in sorted(PUBLIC):
        path = PKG / f"{name}.py"
        if not path.exists():
            continue
        for node in ast.parse(path.read_text()).body:
            ok = isinstance(node, ast.Import | ast.ImportFrom | ast.Expr)
            ok |= isinstance(node, ast.Assign | ast.AnnAssign) and name == "train"
            ok |= (
                isinstance(node, ast.Assign)
                and ast.unparse(node.targets[0]) == "__all__"
            )
            ok |= isinstance(node, ast.If)  # TYPE_CHECKING, __main__
            ok |= isinstance(node, ast.FunctionDef) and name in {"train", "launch"}
            assert ok, f"jtoolkit/{name}.py:{node.lineno} holds code; move it to _src"


@pytest.mark.parametrize(
    ("src", "dst", "reason"),
    [
        ("jtoolkit._src.core.checks", "jtoolkit._src.train.loop", "upward"),
        ("jtoolkit._src.losses.regression", "jtoolkit._src.optim.lr", "sideways"),
        ("jtoolkit._src.demo.run", "jtoolkit.train", "public"),
    ],
)
def test_the_check_fails_on_a_bad_arrow(src, dst, reason):
    """An upward, sideways or public import added to the real graph is caught."""
    edges = graph(MODULES)
    edges[src] = edges[src] | {dst}
    assert any(src in v and dst in v for v in violations(edges)), reason


def test_the_check_fails_on_a_cycle():
    edges = graph(MODULES)
    edges["jtoolkit._src.core.dtypes"] = edges["jtoolkit._src.core.dtypes"] | {
        "jtoolkit._src.core.checks"
    }
    edges["jtoolkit._src.core.checks"] = edges["jtoolkit._src.core.checks"] | {
        "jtoolkit._src.core.dtypes"
    }
    assert find_cycle(edges) is not None


# Imports of another file's private name that are allowed ("importing module: name").
# Empty: every shared helper is public in its file or lives in core (issue #21). The
# test fails on any new private import and on an entry here that no longer occurs.
KNOWN_PRIVATE_IMPORTS: set[str] = set()


def private_imports(source: str, module: str) -> set[str]:
    """``"module: name"`` for every ``from jtoolkit... import _name`` in
    ``source`` (an alias such as ``import x as _x`` imports a public name)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "jtoolkit"
        ):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.add(f"{module}: {alias.name}")
    return found


def test_no_file_imports_another_files_private_name():
    """DESIGN/STYLE: never import another file's ``_private`` name; promote it to
    ``core`` (or to the file's ``__all__``) or merge the files."""
    found = set()
    for name, path in MODULES.items():
        found |= private_imports(path.read_text(), name)
    assert found - KNOWN_PRIVATE_IMPORTS == set(), sorted(found)
    assert KNOWN_PRIVATE_IMPORTS - found == set(), "stale KNOWN_PRIVATE_IMPORTS"


def test_the_private_import_check_fails_on_one():
    source = "from jtoolkit._src.nn.summary import _variables, torch_entries\n"
    assert private_imports(source, "m") == {"m: _variables"}
