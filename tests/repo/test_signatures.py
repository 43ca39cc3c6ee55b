"""Every public name with a torch twin has torch's positional order and defaults.

For each public name of tensor_ops, losses, optim, schedules and data whose twin
exists in torch 2.13 (``torch.X``, ``torch.nn.functional.x``, ``torch.nn.XLoss``,
``torch.optim.X``, ``torch.optim.lr_scheduler.X``, ``torch.utils.data.X``), the
``inspect.signature`` of both is compared after these mapping rules:

* torch's ``self`` goes (but a builtin's documented ``self``, the scalar base of
  ``pow(self, exponent)``, is its ``input``); an optimizer's ``params`` goes
  (jtoolkit's optimizers are transformations of any pytree); a scheduler's
  ``optimizer`` becomes jtoolkit's ``lr`` (a schedule is built on the lr, not on
  an optimizer) and ``last_epoch`` / ``verbose`` go (the count is the schedule's
  argument; verbose is deprecated);
* torch's deprecated loss arguments ``size_average`` and ``reduce`` go, and the
  options torch lists positionally after them (``ignore_index``, ``reduction``,
  ...) are keyword-only here: a positional torch call that would bind
  ``size_average`` fails loudly instead of binding the wrong option;
* torch's implementation switches with no JAX meaning (``foreach``, ``fused``,
  ``capturable``, ``differentiable``, ``sparse_grad``) go;
* for tensor_ops, torch's tensor-allocation arguments with no JAX meaning go:
  ``out`` (arrays are immutable), ``layout`` (arrays are dense), ``requires_grad``
  (``jax.grad`` picks what to differentiate), ``pin_memory`` and
  ``memory_format`` (XLA owns buffers and layouts); ``dtype`` and ``device`` stay
  and are compared; torch's ``generator=`` is jtoolkit's leading ``key`` (explicit
  randomness: ``randn(key, 2, 3)``), so both go when ours starts with ``key``;
* jtoolkit may add keyword-only arguments (``seed``, ``key``, ...), and may accept
  positionally, after torch's positional ones, what torch takes keyword-only;
* a torch function taking only ``*args`` (``einsum``) has no positional order to
  match; ours' ``*dims`` matches torch's last positional ``dims`` (a sequence),
  since ours accepts both ``permute(x, (1, 0))`` and ``permute(x, 1, 0)``;
* defaults compare by value (``2 == 2.0``), booleans only with booleans;
* torch builtins without a Python signature (most of ``torch.*``) are read from
  their docstring's signature lines (``tests/repo/_harness.py``), one an
  overload; a builtin that documents none (``torch.BoolTensor``) is skipped;
* with several overloads, every one must be reachable: each is compared alone,
  and ours may add, positionally after its parameters, those of the other
  overloads (``max(input, dim=None, keepdim=False)`` serves ``max(input)`` and
  ``max(input, dim, keepdim=False)``).

Then the positional-or-keyword parameters must be the same names in the same
order, every torch parameter must exist with the same default, and a torch
keyword-only parameter must be keyword-only here too. Every difference that
remains must be a row of the "Deliberate differences" table in
docs/migration.md (``name | difference | reason``; a row may name several,
comma-separated), and every row for these modules must still be a difference:
the table cannot go stale.
"""

from __future__ import annotations

import inspect
import pathlib
import re

import pytest

from jtoolkit import data, losses, optim, schedules, tensor_ops
from tests.repo._harness import doc_signatures, parse_signature, split_top_level

torch = pytest.importorskip("torch")
DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "migration.md"
DROPPED = {"self", "size_average", "reduce", "last_epoch", "verbose"}
SWITCHES = {"foreach", "fused", "capturable", "differentiable", "sparse_grad"}
ALLOCATION = {"out", "layout", "requires_grad", "pin_memory", "memory_format"}
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


def _signatures(obj, name: str) -> list[inspect.Signature]:
    """torch's signature of ``obj``, or its docstring's overloads (a builtin)."""
    try:
        return [inspect.signature(obj)]
    except (TypeError, ValueError):
        return doc_signatures(obj, name)


def _twins():
    """``(public name, ours, torch's signatures, kind)`` for every torch twin."""
    F, nn, U = torch.nn.functional, torch.nn, torch.utils.data
    for name in tensor_ops.__all__:
        if hasattr(torch, name):
            twin = _signatures(getattr(torch, name), name)
            yield f"tensor_ops.{name}", getattr(tensor_ops, name), twin, "tensor"
    for name in losses.__all__:
        if hasattr(F, name):
            twin = getattr(F, name)
        elif name.endswith("Loss") and hasattr(nn, name):
            twin = getattr(nn, name)
        else:
            continue
        yield f"losses.{name}", getattr(losses, name), _signatures(twin, name), ""
    for name in optim.__all__:
        if name in OPTIMIZERS:
            twin = _signatures(getattr(torch.optim, OPTIMIZERS[name]), name)
            yield f"optim.{name}", getattr(optim, name), twin, "optimizer"
    for name in schedules.__all__:
        if name in SCHEDULERS:
            twin = _signatures(getattr(torch.optim.lr_scheduler, SCHEDULERS[name]), "")
            yield f"schedules.{name}", getattr(schedules, name), twin, "scheduler"
    if "swa_lr" in schedules.__all__:
        swa = _signatures(torch.optim.swa_utils.SWALR, "")
        yield "schedules.swa_lr", schedules.swa_lr, swa, "scheduler"
    for name in data.__all__:
        if hasattr(U, name):
            yield (
                f"data.{name}",
                getattr(data, name),
                _signatures(getattr(U, name), name),
                "",
            )


def _params(sig: inspect.Signature, kind: str) -> list[inspect.Parameter] | None:
    """The parameters compared (mapping rules applied); None: nothing to compare."""
    out, deprecated = [], False
    gone = DROPPED | SWITCHES | (ALLOCATION if kind == "tensor" else set())
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL and not out and len(sig.parameters) == 1:
            return None  # einsum(*args): no positional order
        if p.name in ("size_average", "reduce"):
            deprecated = True
        if kind == "tensor" and p.name == "self":
            p = p.replace(name="input")  # a builtin's documented self: pow(2, x)
        elif p.name in gone or p.kind is p.VAR_KEYWORD:
            continue
        if deprecated and p.kind is p.POSITIONAL_OR_KEYWORD:
            p = p.replace(kind=p.KEYWORD_ONLY)
        if kind == "optimizer" and p.name == "params":
            continue
        if kind == "scheduler" and p.name == "optimizer":
            p = p.replace(name="lr")
        out.append(p)
    return out


def _positional(params: list[inspect.Parameter]) -> list[str]:
    """The names a positional call binds, in order (``*dims`` for a variadic)."""
    out = []
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return [*out, f"*{p.name}"]
        if p.kind is p.POSITIONAL_OR_KEYWORD:
            out.append(p.name)
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


def _compare_one(mine, twin, spare: set[str], kind: str) -> list[str]:
    """Differences from one torch overload; ``spare``: other overloads' names."""
    found = []
    pos, tpos = _positional(mine), _positional(twin)
    if tpos and pos[len(tpos) - 1 : len(tpos)] == [f"*{tpos[-1]}"]:
        pos[len(tpos) - 1] = tpos[-1]  # permute(input, *dims) takes dims too
    tkw = {p.name for p in twin if p.kind is p.KEYWORD_ONLY} | spare
    if pos[: len(tpos)] != tpos or not set(pos[len(tpos) :]) <= tkw:
        found.append(f"positional {pos} != torch {tpos}")
    by_name = {p.name: p for p in mine}
    for p in twin:
        q = by_name.get(p.name)
        if q is None:
            found.append(f"no {p.name}")
        elif p.default is not p.empty and not _same_default(q.default, p.default):
            if not (kind == "scheduler" and p.name == "lr"):  # a schedule needs it
                found.append(f"{p.name}={q.default!r} != torch {p.default!r}")
    return found


def _compare(ours, theirs: list[inspect.Signature], kind: str) -> list[str]:
    mine = _params(inspect.signature(ours), "")
    twins = [t for t in (_params(s, kind or "torch") for s in theirs) if t is not None]
    if mine is None or not twins:
        return []
    names = {p.name for p in mine}
    if (
        mine
        and mine[0].name == "key"
        and any(p.name == "generator" for t in twins for p in t)
    ):
        mine = mine[1:]
        twins = [[p for p in t if p.name != "generator"] for t in twins]
    if len(twins) == 1:
        return _compare_one(mine, twins[0], set(), kind)
    found = []
    for i, twin in enumerate(twins):
        spare = {n for j, t in enumerate(twins) if j != i for n in _positional(t)}
        diff = _compare_one(mine, twin, spare & names, kind)
        if diff:
            shown = ", ".join(_positional(twin))
            found.append(f"overload ({shown}): " + ", ".join(diff))
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
            for name in re.sub(r"`", "", cells[0]).split(", "):
                rows[name] = (cells[1], cells[2])
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

    found = _compare(sgd, [inspect.signature(torch.optim.SGD)], "optimizer")
    assert any("momentum" in f for f in found), found


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("input, other, *, alpha=1, out=None", "(input, other, *, alpha=1, out=None)"),
        ("input: Tensor, chunks: int, dim: int = 0", "(input, chunks, dim=0)"),
        ("input, dim: Optional[Union[int, List[int]]]", "(input, dim)"),
        (r"input, fill_value, \*, dtype=None", "(input, fill_value, *, dtype=None)"),
        (
            "*size, *, out=None, requires_grad=False",
            "(*size, out=None, requires_grad=False)",
        ),
        ("low=0, high, size", "(low=0, high, size)"),
        ("n, *, dtype=torch.int64,layout=torch.strided", None),
        (
            "input, dim=-1, eps=1e-05, mode='sum'",
            "(input, dim=-1, eps=1e-05, mode='sum')",
        ),
    ],
)
def test_the_docstring_parser(line, expected):
    sig = parse_signature(line)
    if expected is not None:
        assert str(sig) == expected
    else:  # dotted torch defaults are torch's objects
        assert sig.parameters["dtype"].default is torch.int64
        assert sig.parameters["layout"].default is torch.strided
        assert sig.parameters["dtype"].kind is inspect.Parameter.KEYWORD_ONLY


def test_the_docstring_parser_reads_every_overload():
    doc = """max(input, *, out=None) -> Tensor

    Returns the maximum.

    .. function:: max(input, dim, keepdim=False, *, out=None) -> (Tensor, LongTensor)
    >>> torch.max(a)
    .. function:: amax(input) -> Tensor
    """

    class Builtin:
        __doc__ = doc

    found = [str(s) for s in doc_signatures(Builtin, "max")]
    assert found == ["(input, *, out=None)", "(input, dim, keepdim=False, *, out=None)"]
    assert [str(s) for s in doc_signatures(torch.max)][
        2
    ] == "(input, other, *, out=None)"
    assert doc_signatures(torch.BoolTensor, "BoolTensor") == []
    assert split_top_level("a: Dict[str, int], b=(1, 2)") == [
        "a: Dict[str, int]",
        "b=(1, 2)",
    ]


def test_the_comparison_reads_builtins_and_catches_their_differences():
    def add(input, other, alpha=2):
        pass

    def max(input, dim=None, keepdim=False):
        pass

    def randn(key, *size, dtype=None, device=None):
        pass

    add_twin = doc_signatures(torch.add)
    assert _compare(add, add_twin, "tensor") == ["alpha=2 != torch 1"]
    assert any(
        "overload (input, other)" in f
        for f in _compare(max, doc_signatures(torch.max), "tensor")
    )
    assert _compare(randn, doc_signatures(torch.randn), "tensor") == []
    compared = [n for n, _, theirs, k in _twins() if k == "tensor" and theirs]
    assert len(compared) >= 50, compared  # most of tensor_ops is compared
