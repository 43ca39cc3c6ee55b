"""compare: a torch module and its jtoolkit twin, layer by layer, with derived
tolerances (float64 torch as the truth).

torch: what a port's author does by hand with forward hooks and ``allclose``.
Four torch runs give the truth and the noise: float64 (truth), float32 from the
same weights, and float32 from two copies with every weight moved one ulp up or
down; per array, ``max|got - truth| <= 4 * noise + 8 * eps32 * max|truth|`` with
``noise`` the largest float32 run's distance from the truth (the rule of
CONTRIBUTING.md's "Tolerances", tests/parity.py). Rows cover every torch module whose
output jtoolkit also records (by torch path: from_torch's graphs record every module
call; other NNX models by attribute path), the output, and with ``grads=True`` each
parameter's gradient of ``loss_fn(output)`` and the output after one SGD step.
The jtoolkit side (recorded forward, gradients, step) is one jitted program per
model structure, input shapes, ``loss_fn`` and ``grads`` (``program.py``): a second
call with the same shapes compiles nothing.

Example:
    >>> import torch
    >>> from jtoolkit.interop import compare, from_torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh())
    >>> model, _ = from_torch(net, torch.ones(2, 4))
    >>> report = compare(net, model, torch.randn(5, 4))
    >>> report.ok, report.first_failure
    (True, None)
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtoolkit._src.interop.graph import TorchGraph
from jtoolkit._src.interop.program import run_as_one_program
from jtoolkit._src.nn.state_dict import torch_state_dict

__all__ = ["CompareReport", "compare"]

EPS32 = float(np.finfo(np.float32).eps)


@dataclasses.dataclass
class CompareReport:
    """Rows ``{"section", "name", "shape", "max_abs", "max_rel", "bound", "ok"}``
    in execution order; ``first_failure`` names the first row out of bounds."""

    rows: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return all(r["ok"] for r in self.rows)

    @property
    def first_failure(self) -> str | None:
        bad = [r for r in self.rows if not r["ok"]]
        return f"{bad[0]['section']}:{bad[0]['name']}" if bad else None

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """``{"section:name": row}``."""
        return {f"{r['section']}:{r['name']}": r for r in self.rows}

    def __str__(self) -> str:
        width = max([len(r["name"]) for r in self.rows] + [5])
        head = f"{'section':<10} {'name':<{width}} {'max abs':>10} {'max rel':>10}"
        lines = [head + f" {'bound':>10}  ok"]
        for r in self.rows:
            lines.append(
                f"{r['section']:<10} {r['name']:<{width}} {r['max_abs']:>10.3g} "
                f"{r['max_rel']:>10.3g} {r['bound']:>10.3g}  "
                + ("yes" if r["ok"] else "NO")
            )
        lines.append(f"first failure: {self.first_failure}")
        return "\n".join(lines)


def _first_tensor(out: Any) -> Any:
    while isinstance(out, tuple | list):
        out = out[0]
    return out


def _default_loss(out: Any) -> Any:
    out = _first_tensor(out)
    return (out * out).mean()


def _row(section, name, got, truth, noises) -> dict[str, Any]:
    truth = np.asarray(truth, np.float64)
    got = np.asarray(got, np.float64)
    if got.shape != truth.shape and got.ndim >= 3:
        moved = np.moveaxis(got, -1, 1)  # jtoolkit channels-last vs torch NC...
        got = moved if moved.shape == truth.shape else got
    noise = max(
        float(np.max(np.abs(np.asarray(n, np.float64) - truth), initial=0.0))
        for n in noises
    )
    scale = float(np.max(np.abs(truth), initial=0.0))
    bound = 4 * noise + 8 * EPS32 * scale
    err = float(np.max(np.abs(got - truth), initial=0.0))
    return {
        "section": section,
        "name": name,
        "shape": tuple(truth.shape),
        "max_abs": err,
        "max_rel": err / scale if scale else 0.0,
        "bound": bound,
        "ok": err <= bound,
    }


def _torch_runs(module, inputs, loss_fn, grads, lr, train):
    """(activations, output, grads, output after a step) of one torch copy."""
    import torch

    acts: dict[str, Any] = {}

    def hook(name):
        def record(_, __, out):
            acts.setdefault(name, _first_tensor(out).detach().numpy())

        return record

    handles = [
        m.register_forward_hook(hook(name))
        for name, m in module.named_modules()
        if name
    ]
    module.train(train)
    out = module(*inputs)
    for h in handles:
        h.remove()
    result = {"acts": acts, "out": _first_tensor(out).detach().numpy()}
    if grads:
        module.zero_grad()
        loss_fn(out).backward()
        named = dict(module.named_parameters())
        result["grads"] = {k: p.grad.detach().numpy() for k, p in named.items()}
        with torch.no_grad():
            for p in module.parameters():
                p -= lr * p.grad
        result["stepped"] = _first_tensor(module(*inputs)).detach().numpy()
    return result


def _nudged(module, seed: int):
    """A copy whose floating parameters are each moved one ulp up or down."""
    import torch

    twin = copy.deepcopy(module)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in twin.parameters():
            up = torch.rand(p.shape, generator=gen) < 0.5
            far = torch.where(up, float("inf"), float("-inf")).to(p.dtype)
            p.copy_(torch.nextafter(p, far))
    return twin


def _record_nnx(model: nnx.Module, inputs) -> tuple[Any, dict[str, Any]]:
    """Output and per-submodule outputs (by dotted attribute path) of an NNX model."""
    if isinstance(model, TorchGraph):
        record: dict[str, Any] = {}
        return model.run(*inputs, record=record), record
    names = {
        id(m): ".".join(str(p) for p in path)
        for path, m in nnx.iter_graph(model)
        if isinstance(m, nnx.Module) and path
    }
    record = {}
    patched = {}
    for cls in {type(m) for _, m in nnx.iter_graph(model) if isinstance(m, nnx.Module)}:
        original = cls.__call__

        def call(self, *a, __original=original, **k):
            out = __original(self, *a, **k)
            if id(self) in names:
                record.setdefault(names[id(self)], _first_tensor(out))
            return out

        patched[cls] = original
        cls.__call__ = call
    try:
        out = model(*inputs)
    finally:
        for cls, original in patched.items():
            cls.__call__ = original
    return out, record


def _recorded(out: Any, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "out": _first_tensor(out),
        "acts": {name: _first_tensor(v) for name, v in record.items()},
    }


def _jtk_side(graphdef, state, inputs, lr, loss_fn, grads: bool):
    """compare's jtoolkit side, a pure function of the model's state (one jitted
    program, ``program.py``): the output and each submodule's output, and with
    ``grads`` the parameter gradients of ``loss_fn(output)`` and the output after
    one SGD step. The recorded forward is the one the gradients differentiate
    (torch's hooks record the pass its backward runs through too).

    Returns ``(result, state after the recorded forward)``."""
    model = nnx.merge(graphdef, state)
    if not grads:
        return _recorded(*_record_nnx(model, inputs)), nnx.state(model)
    params_def, params, rest = nnx.split(model, nnx.Param, ...)

    def loss(p):
        # fresh Variables at this trace level: BatchNorm writes its statistics
        m = nnx.merge(params_def, p, jax.tree.map(jnp.asarray, rest))
        out, record = _record_nnx(m, inputs)
        return loss_fn(out), (_recorded(out, record), nnx.state(m))

    g, (result, state) = jax.grad(loss, has_aux=True)(params)
    stepped = nnx.merge(graphdef, state)
    nnx.update(stepped, jax.tree.map(lambda p, d: p - lr * d, params, g))
    result["grads"] = g
    result["stepped"] = _first_tensor(stepped(*inputs))
    return result, state


def _torch_named(model: nnx.Module, grads) -> dict[str, np.ndarray]:
    """``grads`` (a Param state of ``model``) under torch's names and layouts."""
    graphdef, _, rest = nnx.split(model, nnx.Param, ...)
    return torch_state_dict(nnx.merge(graphdef, grads, rest))


def compare(
    torch_module: Any,
    jtk_module: nnx.Module,
    inputs: Any,
    *,
    grads: bool = True,
    loss_fn: Any = None,
    lr: float = 0.1,
    train: bool = False,
) -> CompareReport:
    """Compare a torch module with its jtoolkit twin; see the module doc.

    Args:
      torch_module: the torch module (left unchanged: copies are run).
      jtk_module: the jtoolkit model (left unchanged), e.g. from ``from_torch``.
      inputs: a tensor/array or a tuple of them, in torch's layout (a hand-written
        channels-last jtoolkit model takes the same arrays moved to NHWC itself;
        pass a TorchGraph for NCHW).
      grads: also compare parameter gradients and the output after one SGD step.
      loss_fn: ``output -> scalar`` written with operators both frameworks share
        (default: mean of the squared first output).
      lr: the SGD step's learning rate.
      train: run both in train mode (BatchNorm on batch statistics; Dropout must
        then be 0, as masks differ); default eval mode.

    Returns:
      A :class:`CompareReport` (``str()`` gives the table, ``as_dict()`` the dict).
    """
    import torch

    loss_fn = _default_loss if loss_fn is None else loss_fn
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    t_inputs = tuple(torch.as_tensor(np.asarray(x)) for x in inputs)
    as64 = tuple(x.double() if x.is_floating_point() else x for x in t_inputs)
    as32 = tuple(x.float() if x.is_floating_point() else x for x in t_inputs)
    args = (loss_fn, grads, lr, train)
    truth = _torch_runs(copy.deepcopy(torch_module).double(), as64, *args)
    noise = [
        _torch_runs(copy.deepcopy(torch_module).float(), as32, *args),
        *(_torch_runs(_nudged(torch_module, s).float(), as32, *args) for s in (1, 2)),
    ]
    j_inputs = tuple(np.asarray(x.numpy()) for x in as32)
    model = nnx.clone(jtk_module)
    model.train() if train else model.eval()
    side = run_as_one_program(
        _jtk_side, model, j_inputs, lr, static=(loss_fn, bool(grads))
    )
    record = side["acts"]
    rows = [
        _row(
            "forward",
            name,
            record[name],
            want,
            [n["acts"][name] for n in noise],
        )
        for name, want in truth["acts"].items()
        if name in record
    ]
    rows.append(
        _row(
            "output",
            "output",
            side["out"],
            truth["out"],
            [n["out"] for n in noise],
        )
    )
    if grads:
        named = _torch_named(model, side["grads"])
        rows += [
            _row("grad", name, named[name], want, [n["grads"][name] for n in noise])
            for name, want in truth["grads"].items()
            if name in named
        ]
        rows.append(
            _row(
                "sgd step",
                "output",
                side["stepped"],
                truth["stepped"],
                [n["stepped"] for n in noise],
            )
        )
    return CompareReport(rows)
