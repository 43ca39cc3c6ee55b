"""mkdocs hook: one API page per public module listed in mkdocs.yml's nav.

Every nav entry ``api/<module>.md`` without a file of its own becomes a generated
page holding ``::: jtoolkit.<module>``, which mkdocstrings renders with the
module's docstring and every name in its ``__all__``.
"""

from __future__ import annotations

from typing import Any

from griffe import DocstringSectionKind
from griffe._internal.docstrings import google
from mkdocs.structure.files import File, Files

_PREFIX = "api/"

# jtoolkit titles its doctests "Example:" (singular); griffe's Google parser knows
# only "Examples:", and would render the ">>>" lines as Markdown text (where
# "[[0, 1]]" reads as a link). No public option exists: register the alias.
google._section_kind.setdefault("example", DocstringSectionKind.examples)


def _nav_paths(nav: Any) -> list[str]:
    """Every page path in a (nested) mkdocs nav."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in _nav_paths(value)]
    if isinstance(nav, list):
        return [p for item in nav for p in _nav_paths(item)]
    return []


def on_files(files: Files, config: Any) -> Files:
    """Add the generated ``api/<module>.md`` pages."""
    for path in _nav_paths(config["nav"]):
        if path.startswith(_PREFIX) and files.get_file_from_path(path) is None:
            module = path.removeprefix(_PREFIX).removesuffix(".md")
            content = f"::: jtoolkit.{module}\n"
            files.append(File.generated(config, path, content=content))
    return files
