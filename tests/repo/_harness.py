"""Signatures of torch builtins, read from the first lines of their docstrings.

Most of ``torch.*`` (``torch.add``, ``torch.sum``, ...) are C builtins without a
Python signature, but torch documents each overload as one docstring line,
``add(input, other, *, alpha=1, out=None) -> Tensor``, the second and later ones
after ``.. function::``. :func:`doc_signatures` turns those lines into
``inspect.Signature`` objects, one an overload, in the docstring's order:

* the parameters keep their kinds: a bare ``*`` (or reST's ``\\*``) makes the
  ones after it keyword-only, ``*size`` is variadic (and what follows it is
  keyword-only), everything else is positional-or-keyword;
* type annotations (``dim: Optional[Union[int, List[int]]]``) are dropped;
* a default is its Python literal (``1``, ``None``, ``False``, ``-1``), a dotted
  ``torch.`` name is that torch object (``torch.int64``, ``torch.strided``), and
  anything else stays the string written;
* a required parameter after a default one (``randint(low=0, high, size)``,
  ``arange(start=0, end, step=1)``: torch's way to write "the first one may be
  left out") is kept as written, so the signature is built unvalidated.

The parser knows nothing of torch beyond resolving ``torch.`` defaults, which is
why it lives in the test tree and is tested on literal lines
(``tests/repo/test_signatures.py``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from typing import Any

__all__ = ["doc_signatures", "parse_signature", "split_top_level"]

_LINE = r"^\s*(?:\.\. function:: )?{name}\((?P<params>.*)\)\s*->"


def split_top_level(text: str) -> list[str]:
    """``text`` split on the commas outside brackets, each piece stripped."""
    pieces, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            pieces.append(text[start:i].strip())
            start = i + 1
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


def _default(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    if re.fullmatch(r"torch(\.\w+)+", text):
        module, _, attr = text.rpartition(".")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            pass
    return text


def parse_signature(params: str) -> inspect.Signature:
    """The ``inspect.Signature`` of one documented parameter list (no parentheses)."""
    out, kind = [], inspect.Parameter.POSITIONAL_OR_KEYWORD
    for piece in split_top_level(params.replace("\\*", "*")):
        if piece == "*":
            kind = inspect.Parameter.KEYWORD_ONLY
            continue
        name, _, default = piece.partition("=")
        name = name.split(":", 1)[0].strip()
        if name.startswith("*"):
            out.append(inspect.Parameter(name[1:], inspect.Parameter.VAR_POSITIONAL))
            kind = inspect.Parameter.KEYWORD_ONLY
            continue
        value = _default(default.strip()) if default else inspect.Parameter.empty
        out.append(inspect.Parameter(name, kind, default=value))
    return inspect.Signature(out, __validate_parameters__=False)


def doc_signatures(obj: Any, name: str | None = None) -> list[inspect.Signature]:
    """Every overload ``obj``'s docstring documents for ``name`` (default: its own)."""
    name = name or getattr(obj, "__name__", "")
    doc = getattr(obj, "__doc__", None)
    if not name or not isinstance(doc, str):
        return []
    line = re.compile(_LINE.format(name=re.escape(name)))
    found = (line.match(text) for text in doc.splitlines())
    return [parse_signature(m.group("params")) for m in found if m]
