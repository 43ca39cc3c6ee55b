"""The API documentation site covers the public surface.

Every public module (``jtoolkit/<name>.py``) has a page in mkdocs.yml's nav, and a
strict build (warnings are errors: a broken reference, a malformed docstring
section) documents every name of every ``__all__``, read back from the site's
``objects.inv``.
"""

from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys
import zlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PUBLIC = sorted(
    p.stem for p in (ROOT / "jtoolkit").glob("*.py") if not p.name.startswith("_")
)


def _all_names(module: str) -> list[str]:
    """A public module's ``__all__``, read statically (no import of JAX)."""
    tree = ast.parse((ROOT / "jtoolkit" / f"{module}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    raise AssertionError(f"jtoolkit/{module}.py has no literal __all__")


def _nav_pages() -> set[str]:
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())

    def walk(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    return set(walk(config["nav"]))


def _inventory(path: pathlib.Path) -> set[str]:
    """The object names of a Sphinx-format ``objects.inv`` (v2: zlib after 4 lines)."""
    raw = path.read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = raw.index(b"\n", header_end) + 1
    lines = zlib.decompress(raw[header_end:]).decode().splitlines()
    return {line.split(" ", 1)[0] for line in lines if line}


def test_every_public_module_has_an_api_page():
    pages = _nav_pages()
    missing = [m for m in PUBLIC if f"api/{m}.md" not in pages]
    assert not missing, f"add `- api/<module>.md` to mkdocs.yml's nav for {missing}"
    assert "migration.md" in pages


@pytest.mark.slow
def test_strict_build_documents_every_public_name(tmp_path):
    """``JTOOLKIT_DOCS_SITE``: a site ``mkdocs build --strict`` just wrote from this
    tree (.ci/run builds it once, before the tests), read instead of built again."""
    pytest.importorskip("mkdocstrings")
    built = os.environ.get("JTOOLKIT_DOCS_SITE")
    if built:
        site = pathlib.Path(built)
    else:
        site = tmp_path / "site"
        build = subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", site],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert build.returncode == 0, build.stdout + build.stderr
    documented = _inventory(site / "objects.inv")
    missing = [
        f"jtoolkit.{m}.{name}"
        for m in PUBLIC
        for name in _all_names(m)
        if f"jtoolkit.{m}.{name}" not in documented
    ]
    assert not missing, f"names in __all__ without a docs entry: {missing}"
