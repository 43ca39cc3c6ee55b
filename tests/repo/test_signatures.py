"""Every public name with a torch twin has torch's positional order and defaults.

For each public name of tensor_ops, losses, optim, schedules and data whose twin
exists in torch 2.13 (``torch.X``, ``torch.nn.functional.x``, ``torch.nn.XLoss``,
``torch.optim.X``, ``torch.optim.lr_scheduler.X``, ``torch.utils.data.X``), the
``inspect.signature`` of both is compared after these mapping rules:

* torch's ``self`` goes; an optimizer's ``params`` goes (jtoolkit's optimizers are
  transformations of any pytree); a scheduler's ``optimizer`` becomes jtoolkit's
  ``lr`` (a schedule is built on the lr, not on an optimizer) and ``last_epoch``
  / ``verbose`` go (the count is the schedule's argument; verbose is deprecated);
* torch's deprecated loss arguments ``size_average`` and ``reduce`` go, and the
  options torch lists positionally after them (``ignore_index``, ``reduction``,
  ...) are keyword-only here: a positional torch call that would bind
  ``size_average`` fails loudly instead of binding the wrong option;
* torch's implementation switches with no JAX meaning (``foreach``, ``fused``,
  ``capturable``, ``differentiable``) go;
* jtoolkit may add keyword-only arguments (``seed``, ``key``, ...), and may accept
  positionally, after torch's positional ones, what torch takes keyword-only;
* a torch function taking ``*args`` (``einsum``) has no positional order to match;
* defaults compare by value (``2 == 2.0``), booleans only with booleans;
* torch builtins without a Python signature (most of ``torch.*``) are skipped.

Then the positional-or-keyword parameters must be the same names in the same
order, every torch parameter must exist with the same default, and a torch
keyword-only parameter must be keyword-only here too. Every difference that
remains must be a row of the "Deliberate differences" table in
docs/migration.md (``name | difference | reason``), and every row for these
modules must still be a difference: the table cannot go stale.
"""

from __future__ import annotations

import inspect
import pathlib
import re

import pytest

from jtoolkit import data, losses, optim, schedules, tensor_ops

torch = pytest.importorskip("torch")
DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "migration.md"
DROPPED = {"self", "size_average", "reduce", "last_epoch", "verbose"}
SWITCHES = {"foreach", "fused", "capturable", "differentiable"}
OPTIMIZERS = {
    n.lower(): n
    for n in (
        "SGD Adam AdamW RMSprop Adagrad Adadelta Adamax NAdam RAdam ASGD Rprop "
        "Adafactor LBFGS Muon"
    ).split()
}
SCHEDULERS = {
    "step_lr": "StepLR",
    "multistep_lr": "MultiStepLR",
    "exponential_lr": "ExponentialLR",
    "cosine_annealing_lr": "CosineAnnealingLR",
    "linear_lr": "LinearLR",
    "constant_lr": "ConstantLR",
    "polynomial_lr": "PolynomialLR",
    "multiplicative_lr": "MultiplicativeLR",
    "lambda_lr": "LambdaLR",
    "cosine_annealing_warm_restarts": "CosineAnnealingWarmRestarts",
    "cyclic_lr": "CyclicLR",
    "one_cycle_lr": "OneCycleLR",
    "sequential_lr": "SequentialLR",
    "chained_scheduler": "ChainedScheduler",
    "ReduceLROnPlateau": "ReduceLROnPlateau",
}


def _twins():
    """``(public name, ours, torch's, kind)`` for every name with a torch twin."""
    F, nn, U = torch.nn.functional, torch.nn, torch.utils.data
    for name in tensor_ops.__all__:
        if hasattr(torch, name):
            yield (
                f"tensor_ops.{name}",
                getattr(tensor_ops, name),
                getattr(torch, name),
                "",
            )
    for name in losses.__all__:
        if hasattr(F, name):
            yield f"losses.{name}", getattr(losses, name), getattr(F, name), ""
        elif name.endswith("Loss") and hasattr(nn, name):
            yield f"losses.{name}", getattr(losses, name), getattr(nn, name), ""
    for name in optim.__all__:
        if name in OPTIMIZERS:
            twin = getattr(torch.optim, OPTIMIZERS[name])
            yield f"optim.{name}", getattr(optim, name), twin, "optimizer"
    for name in schedules.__all__:
        if name in SCHEDULERS:
            twin = getattr(torch.optim.lr_scheduler, SCHEDULERS[name])
            yield f"schedules.{name}", getattr(schedules, name), twin, "scheduler"
    if "swa_lr" in schedules.__all__:
        swa = torch.optim.swa_utils.SWALR
        yield "schedules.swa_lr", schedules.swa_lr, swa, "scheduler"
    for name in data.__all__:
        if hasattr(U, name):
            yield f"data.{name}", getattr(data, name), getattr(U, name), ""


def _params(obj, kind: str) -> list[inspect.Parameter] | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    out, deprecated = [], False
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return None if kind == "torch" and not out else out
        if p.name in ("size_average", "reduce"):
            deprecated = True
        if p.name in DROPPED | SWITCHES or p.kind is p.VAR_KEYWORD:
            continue
        if deprecated and p.kind is p.POSITIONAL_OR_KEYWORD:
            p = p.replace(kind=p.KEYWORD_ONLY)
        if kind == "optimizer" and p.name == "params":
            continue
        if kind == "scheduler" and p.name == "optimizer":
            p = p.replace(name="lr")
        out.append(p)
    return out


def _same_default(a, b) -> bool:
    if a is b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    try:
        return bool(a == b)
    except Exception:
        return False


def _compare(ours, theirs, kind: str) -> list[str]:
    mine, twin = _params(ours, ""), _params(theirs, kind or "torch")
    if mine is None or twin is None:
        return []
    found = []
    pos = [p.name for p in mine if p.kind is p.POSITIONAL_OR_KEYWORD]
    tpos = [p.name for p in twin if p.kind is p.POSITIONAL_OR_KEYWORD]
    tkw = {p.name for p in twin if p.kind is p.KEYWORD_ONLY}
    if pos[: len(tpos)] != tpos or not set(pos[len(tpos) :]) <= tkw:
        found.append(f"positional {pos} != torch {tpos}")
    by_name = {p.name: p for p in mine}
    for p in twin:
        q = by_name.get(p.name)
        if q is None:
            found.append(f"no {p.name}")
        elif p.default is not p.empty and not _same_default(q.default, p.default):
            if not (kind == "scheduler" and p.name == "lr"):
                found.append(f"{p.name}={q.default!r} != torch {p.default!r}")
        elif p.kind is p.POSITIONAL_OR_KEYWORD and q.kind is q.KEYWORD_ONLY:
            pass  # reported above as a positional difference
    return found


def differences() -> list[tuple[str, str]]:
    out = []
    for name, ours, theirs, kind in _twins():
        found = _compare(ours, theirs, kind)
        if found:
            out.append((name, "; ".join(found)))
    return out


def _table() -> dict[str, tuple[str, str]]:
    """The rows of docs/migration.md's "Deliberate differences" table."""
    text = DOCS.read_text()
    section = text.split("## Deliberate differences", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("name", "") and set(cells[0]) != {"-"}:
            rows[re.sub(r"`", "", cells[0])] = (cells[1], cells[2])
    return rows


def test_signatures_match_torch_or_are_documented():
    table = _table()
    undocumented = [(n, d) for n, d in differences() if n not in table]
    assert not undocumented, "\n".join(f"{n}: {d}" for n, d in undocumented)


def test_every_documented_difference_is_real_and_has_a_reason():
    table = _table()
    mine = {n for n, *_ in _twins()}
    real = {n for n, _ in differences()}
    for name, (difference, reason) in table.items():
        assert difference and reason, name
        if name in mine and difference.startswith("signature:"):
            assert name in real, f"{name} matches torch now: drop its table row"


def test_the_comparison_catches_a_changed_default():
    def sgd(lr=1e-3, momentum=0.5, dampening=0, weight_decay=0, nesterov=False):
        pass

    found = _compare(sgd, torch.optim.SGD, "optimizer")
    assert any("momentum" in f for f in found), found
