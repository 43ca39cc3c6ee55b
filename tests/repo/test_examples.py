"""Run every tutorial example script and check the figures it prints.

Each ``examples/NN_*.py`` runs in the test's own interpreter with ``runpy`` (one
parametrized test per script, so pytest-xdist can spread them; none sets global
configuration), except ``04_data``, whose DataLoader workers import its dataset
classes from ``__main__`` and so need a fresh interpreter. Its ``label: value``
lines are checked against the tutorial's printed output where the tutorial shows
one, and against torch 2.13 on the same inputs where it does not (losses, optimizer
steps, scheduler values).
"""

from __future__ import annotations

import ast
import inspect
import math
import os
import runpy
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SECTIONS = [
    "01_tensors",
    "02_devices",
    "03_autograd",
    "04_data",
    "05_nn_module_training",
    "06_losses",
    "07_optimizers",
    "08_schedulers",
    "09_common_errors",
]


class Output:
    """A script's stdout as ``label -> value`` (the last line with that label)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.values: dict[str, str] = {}
        self.all: dict[str, list[str]] = {}
        for line in text.splitlines():
            label, sep, value = line.partition(": ")
            if sep:
                self.values[label] = value
                self.all.setdefault(label, []).append(value)

    def __getitem__(self, label: str) -> str:
        assert label in self.values, f"no line {label!r} in output:\n{self.text}"
        return self.values[label]

    def literal(self, label: str):
        return ast.literal_eval(self[label])

    def number(self, label: str) -> float:
        return float(self[label].split()[0].rstrip(","))


# Scripts that need a fresh interpreter: 04_data's worker processes unpickle its
# dataset classes from the script's ``__main__`` module.
SUBPROCESS = {"04_data"}


def run_example(name: str, capsys) -> Output:
    """Run ``examples/<name>.py`` as ``__main__``: in this interpreter (its stdout
    captured), or in a subprocess for ``SUBPROCESS``; fail on any error."""
    if name not in SUBPROCESS:
        capsys.readouterr()
        try:
            runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
        finally:
            jax.clear_caches()  # the script's compiled programs go with it
        out, err = capsys.readouterr()
        assert "Traceback" not in err, err
        return Output(out)
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return Output(proc.stdout)


def close(got, want, tol=1e-6) -> bool:
    return np.allclose(
        np.asarray(got, float), np.asarray(want, float), rtol=tol, atol=tol
    )


# --- 01: tensors and Tips ---------------------------------------------------------
def check_01_tensors(out: Output, request) -> None:
    # the tutorial's printed figures
    assert out.literal("Tensor(2, 3, 4).size()") == (2, 3, 4)
    assert out.literal("Tensor([2, 3, 4]).size()") == (3,)
    assert out.literal("mm(A, B)") == [[14, 32], [32, 77]]
    assert out.literal("mul(A, B)") == [[5, 12], [21, 32]]
    assert out.literal("stack dim=0 shape") == (2, 2, 2)
    assert out.literal("stack dim=0") == [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    assert out.literal("stack dim=1 shape") == (2, 2, 2)
    assert out.literal("stack dim=1") == [[[1, 2], [5, 6]], [[3, 4], [7, 8]]]
    assert out.literal("cat dim=0 shape") == (4, 3)
    assert out.literal("cat dim=1 shape") == (2, 6)
    assert out.literal("image batch shape") == (2, 3, 224, 224)
    assert out.literal("frame sequence shape") == (2, 256)
    assert out.literal("multimodal cat shape") == (10, 768)
    assert out.literal("layer outputs cat shape") == (64, 64, 64)
    assert out.literal("tensor(a) rounded") == [
        [0.5566, -0.5675, -1.2981],
        [0.1957, -1.5871, 0.9623],
    ]
    error = out["stack (2,3) with (3,2)"]
    assert error.startswith("RuntimeError: stack expects each tensor to be equal size")
    assert "[2, 3]" in error and "[3, 2]" in error
    assert out.literal("stack dim=2 shape (valid, unlike the tutorial says)") == (
        2,
        3,
        2,
    )
    assert out["stack dim=3"].startswith("IndexError: Dimension out of range")
    # the tensor creation and dtype lines
    assert out.literal("Tensor(2, 3)") == [[0.0] * 3] * 2
    assert out.literal("tensor(data, dtype=float32)") == [1.0, 2.0, 3.0]
    assert out.literal("t.add(1)") == [2, 3, 4]
    assert out.literal("t after add") == [1, 2, 3]
    assert out["ByteTensor dtype"] == "uint8" and out["BoolTensor dtype"] == "bool"
    assert out["randint in [0, 10)"] == "True"
    assert out["iterations per epoch"] == "29, total_iteration: 290"
    # the operations table against numpy on the same A, B, v
    a = np.array([[1.0, -2.0], [3.0, -4.0]])
    b = np.array([[0.5, 1.0], [2.0, 4.0]])
    v = np.array([1.0, 2.0])
    expected = {
        "abs(A)": np.abs(a),
        "add(A, B)": a + b,
        "clamp(A, -1, 1)": np.clip(a, -1, 1),
        "div(A, B)": a / b,
        "pow(A, 2)": a**2,
        "mm(A, B.T)": a @ b.T,
        "mv(A, v)": a @ v,
        "view(A, 4)": a.reshape(4),
        "transpose(A, 0, 1)": a.T,
        "A[1:]": a[1:],
        "diag(A)": np.diag(a),
        "diag_embed(v)": np.diag(v),
    }
    for label, want in expected.items():
        assert close(out.literal(label), want), label
    assert out.literal("A[-1, -1] = 100") == [[1.0, -2.0], [3.0, 100.0]]
    assert out.literal("unsqueeze(v, 0) shape") == (1, 2)
    assert out.literal("unsqueeze(v, 1) shape") == (2, 1)
    # the tutorial's claims about torch itself
    torch = request.getfixturevalue("torch")
    assert not hasattr(torch, "unqueeze") and hasattr(torch, "unsqueeze")
    assert tuple(torch.stack((torch.rand(2, 3), torch.rand(2, 3)), dim=2).shape) == (
        2,
        3,
        2,
    )


# --- 02: devices ---------------------------------------------------------------
def check_02_devices(out: Output, request) -> None:
    del request
    gpu = out["backend"] == "gpu"
    assert out["cuda available"] == str(gpu)
    assert out["device"].startswith("cuda" if gpu else "cpu")
    assert out["a.device"] == out["device"]
    assert out["A.cpu().device"].startswith("cpu")
    assert out.literal("a + b.to(device)") == [11.0, 22.0]
    assert out["numpy"] == "ndarray [1.0, 2.0]"
    assert (int(out["cuda device count"]) > 0) == gpu


# --- 03: autograd ---------------------------------------------------------------
def check_03_autograd(out: Output, request) -> None:
    tutorial_x = [[-0.5736, -0.2012], [1.3563, 0.5499]]
    tutorial_grad = [[2.1396, 2.6982], [5.0345, 3.8248]]
    assert out.literal("x") == tutorial_x
    assert out.literal("out") == 17.2779
    for label in (
        "x.grad",
        "jax.grad(f)(x)",
        "x.grad after a second backward",
        "y.grad",
    ):
        assert out.literal(label) == tutorial_grad, label
    assert out.literal("grad through no_grad function") == [[1.0, 1.0], [1.0, 1.0]]
    assert out.literal("grad of x * detach(x)") == tutorial_x
    assert out.literal("grad wrt w only (argnums=1)") == tutorial_x
    # the 4-decimal x gives torch's figures for that x
    torch = request.getfixturevalue("torch")
    x = torch.tensor(tutorial_x, requires_grad=True)
    value = (3 * (x + 2) ** 2).mean()
    value.backward()
    assert math.isclose(
        out.literal("out with the 4-decimal x"), value.item(), abs_tol=1e-5
    )
    assert close(out.literal("x.grad with the 4-decimal x"), x.grad.numpy(), 1e-5)


# --- 04: data -------------------------------------------------------------------
def check_04_data(out: Output, request) -> None:
    assert out["len(train_dataset)"] == "200"
    assert out["len(train_loader)"] == "4"
    for line in out.all["epoch 0"] + out.all["epoch 1"]:
        assert line.startswith("batch sizes [64, 64, 64, 8]")
    assert out.all["epoch 0"] != out.all["epoch 1"]  # a new order per pass
    assert out["ArrayDataset batch"] == "(64, 8) float32 (64,)"
    assert out["len with drop_last=True"] == "6"
    assert out["num_workers=2 gives the same batches as num_workers=0"] == "True"
    assert out.all["padded batch"] == [
        "[[10.0, 20.0, 30.0], [10.0, 0.0, 0.0]] lengths: [3, 1]",
        "[[10.0, 20.0, 30.0, 40.0], [10.0, 20.0, 0.0, 0.0]] lengths: [4, 2]",
        "[[10.0, 20.0, 30.0, 40.0, 50.0]] lengths: [5]",
    ]
    assert out["resumed loader yields the remaining batches"] == "True"
    torch = request.getfixturevalue("torch")
    data = torch.utils.data
    dataset = data.TensorDataset(torch.zeros(200, 8))
    assert len(data.DataLoader(dataset, batch_size=64)) == 4
    assert len(data.DataLoader(dataset, batch_size=32, drop_last=True)) == 6


# --- 05: nn.Module and training ---------------------------------------------------
SIMPLE_NN_PRINT = """SimpleNN(
  (fc1): Linear(in_features=1024, out_features=224, bias=True)
  (fc2): Linear(in_features=224, out_features=10, bias=True)
)"""


def check_05_nn_module_training(out: Output, request) -> None:
    assert out.text.startswith(SIMPLE_NN_PRINT + "\n")
    assert out["parameters"] == str(1024 * 224 + 224 + 224 * 10 + 10)
    assert out.literal("output shape") == (2, 10)
    assert out["grads shaped like params"] == "True"
    assert out["after backward, parameters unchanged"] == "True"
    before, after = out["after optimizer step"].removeprefix("loss ").split(" -> ")
    assert float(after) < float(before)
    epoch_losses = [float(out[f"epoch {e}"].split()[-1]) for e in range(3)]
    assert epoch_losses == sorted(epoch_losses, reverse=True)
    assert float(out["test accuracy"]) > 0.7
    fit_rows = [
        dict(item.split(" ") for item in out[f"fit epoch {e}"].split(", "))
        for e in (1, 2)
    ]
    assert float(fit_rows[1]["val_loss"]) < float(fit_rows[0]["val_loss"])
    assert float(fit_rows[1]["val_accuracy"]) > 0.8
    assert [row["lr"] for row in fit_rows] == ["0.01", "0.01"]  # val_loss improved
    # the print matches torch's for the same architecture
    torch = request.getfixturevalue("torch")
    nn = torch.nn

    class SimpleNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(1024, 224)
            self.fc2 = nn.Linear(224, 10)

    assert str(SimpleNN()) == SIMPLE_NN_PRINT
    assert int(out["parameters"]) == sum(p.numel() for p in SimpleNN().parameters())


# --- 06: losses -----------------------------------------------------------------
def _loss_inputs():
    """The arrays 06_losses.py draws, in the same order."""
    rng = np.random.default_rng(0)
    pred = rng.standard_normal((4, 3)).astype(np.float32)
    target = rng.standard_normal((4, 3)).astype(np.float32)
    logits = rng.standard_normal((4, 5)).astype(np.float32)
    triplet = rng.standard_normal((3, 4, 8)).astype(np.float32)
    return pred, target, logits, triplet


def check_06_losses(out: Output, request) -> None:
    torch = request.getfixturevalue("torch")
    nn, F = torch.nn, torch.nn.functional
    pred, target, logits, triplet = map(torch.from_numpy, _loss_inputs())
    anchor, positive, negative = triplet
    labels = torch.tensor([1, 0, 4, 2])
    binary = torch.tensor(
        [[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]], dtype=torch.float32
    )
    weights = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0])
    alpha = 0.3
    expected = {
        "MSELoss": nn.MSELoss()(pred, target),
        "CrossEntropyLoss": nn.CrossEntropyLoss()(logits, labels),
        "BCELoss": nn.BCELoss()(torch.sigmoid(pred), binary),
        "BCEWithLogitsLoss": nn.BCEWithLogitsLoss()(pred, binary),
        "L1Loss": nn.L1Loss()(pred, target),
        "HuberLoss": nn.HuberLoss()(pred, target),
        "SmoothL1Loss": nn.SmoothL1Loss()(pred, target),
        "TripletMarginLoss": nn.TripletMarginLoss(margin=1.0)(
            anchor, positive, negative
        ),
        "weighted CrossEntropyLoss": nn.CrossEntropyLoss(weight=weights)(
            logits, labels
        ),
        "CustomLoss(alpha=0.3)": alpha * F.mse_loss(pred, target)
        + (1 - alpha) * F.l1_loss(pred, target),
        "alpha_mse_l1_loss(alpha=0.3)": alpha * F.mse_loss(pred, target)
        + (1 - alpha) * F.l1_loss(pred, target),
        "total_loss (1.0*CE + 0.5*MSE)": F.cross_entropy(logits, labels)
        + 0.5 * F.mse_loss(pred, target),
        "MultiTaskLoss": F.cross_entropy(logits, labels)
        + 0.5 * F.mse_loss(pred, target),
    }
    for label, want in expected.items():
        assert math.isclose(
            out.number(label), want.item(), rel_tol=1e-5, abs_tol=2e-6
        ), label
    probs = torch.sigmoid(pred).detach().requires_grad_(True)
    custom = (
        F.binary_cross_entropy(probs, binary)
        + 0.3 * torch.mean(torch.relu(probs - 0.7)) ** 2
    )
    custom.backward()
    assert math.isclose(out.number("custom_loss"), custom.item(), rel_tol=1e-5)
    assert math.isclose(
        out.number("custom_loss grad sum"),
        probs.grad.sum().item(),
        rel_tol=1e-4,
        abs_tol=2e-6,
    )
    first, last = out["multi-task training"].removeprefix("loss ").split(" -> ")
    assert float(last) < float(first)


# --- 07: optimizers ---------------------------------------------------------------
def check_07_optimizers(out: Output, request) -> None:
    assert out["adam, 5 steps"].endswith("step 5")
    assert out.literal("group lrs at start") == [0.001, 0.01]
    assert out.literal("group lrs in epoch 30 (after StepLR's first decay)") == [
        0.0001,
        0.001,
    ]
    assert out["clip_grad_norm"] == "total norm 5.0000, update [-0.06, -0.08]"
    warmup = [0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.1]
    assert out.literal("manual warmup lrs") == warmup
    assert out.literal("lambda_lr warmup lrs") == warmup
    assert float(out["accumulate(4) vs one big batch"].split()[-1]) < 1e-6
    for precision in ("bf16", "fp16"):
        line = out[precision]
        first, rest = line.removeprefix("loss ").split(" -> ")
        assert float(rest.split(",")[0]) < float(first), line
        assert "weights ['float32']" in line
    # the optimizer table equals torch's parameters after 5 steps
    torch = request.getfixturevalue("torch")
    optim = torch.optim
    factories = {
        "SGD": lambda p: optim.SGD(p, lr=0.1),
        "SGD(momentum=0.9)": lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
        "Adam": lambda p: optim.Adam(p, lr=0.1),
        "RMSprop": lambda p: optim.RMSprop(p, lr=0.01),
        "Adagrad": lambda p: optim.Adagrad(p, lr=0.1),
        "Adadelta": lambda p: optim.Adadelta(p, lr=1.0),
    }
    t = torch.tensor([0.5, 0.5, -0.5])
    for name, factory in factories.items():
        w = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
        opt = factory([w])
        for _ in range(5):
            opt.zero_grad()
            torch.sum((w - t) ** 2).backward()
            opt.step()
        got = out.literal(f"{name} after 5 steps")
        assert close(got, w.detach().numpy(), 2e-5), name


# --- 08: schedulers ----------------------------------------------------------------
def _torch_lrs(torch, make, steps, lr=0.1, optimizer="sgd", **opt_kwargs):
    """lr before each of ``steps`` epochs, as torch's scheduler sets it."""
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=lr, **opt_kwargs)
    sched = make(opt)
    values = []
    for _ in range(steps):
        values.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return values


def check_08_schedulers(out: Output, request) -> None:
    assert out.literal("StepLR at epochs 0, 29, 30, 59, 60, 90") == [
        0.1,
        0.1,
        0.01,
        0.01,
        0.001,
        0.0001,
    ]
    assert out.literal("lr used in epochs 28-31") == [0.1, 0.1, 0.01, 0.01]
    # the tutorial's warmup snippet, as Lightning-Bolts defines it
    assert out.literal("warmup-cosine epochs 0-6") == [
        0.0001,
        0.000325,
        0.00055,
        0.000775,
        0.001,
        0.001,
        0.000999729,
    ]
    assert close(
        out.literal("warmup-cosine epochs 50, 99, 100"),
        [0.000545877, 1.02706e-05, 1e-05],
        1e-5,
    )
    torch = request.getfixturevalue("torch")
    sch = torch.optim.lr_scheduler
    cases = {
        "MultiStepLR": lambda o: sch.MultiStepLR(o, milestones=[2, 5]),
        "ExponentialLR": lambda o: sch.ExponentialLR(o, gamma=0.5),
        "CosineAnnealingLR": lambda o: sch.CosineAnnealingLR(o, 5, eta_min=0.001),
        "CyclicLR": lambda o: sch.CyclicLR(
            o, 0.01, 0.1, step_size_up=2, cycle_momentum=False
        ),
        "SequentialLR(LinearLR, ExponentialLR)": lambda o: sch.SequentialLR(
            o,
            [
                sch.LinearLR(o, start_factor=0.25, total_iters=3),
                sch.ExponentialLR(o, gamma=0.5),
            ],
            milestones=[3],
        ),
    }
    for label, make in cases.items():
        assert close(out.literal(label), _torch_lrs(torch, make, 8), 1e-5), label
    warm = _torch_lrs(
        torch,
        lambda o: sch.SequentialLR(
            o,
            [
                sch.LinearLR(o, start_factor=0.1, total_iters=5),
                sch.CosineAnnealingLR(o, T_max=95, eta_min=1e-5),
            ],
            milestones=[5],
        ),
        7,
        lr=0.001,
    )
    assert close(out.literal("SequentialLR warmup-cosine epochs 0-6"), warm, 1e-5)
    one_cycle = _torch_lrs(
        torch,
        lambda o: sch.OneCycleLR(o, max_lr=0.01, steps_per_epoch=5, epochs=2),
        10,
        momentum=0.9,
    )
    assert close(out.literal("OneCycleLR per batch"), one_cycle, 1e-5)
    # momentum cycling, read from torch's param group
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    sched = sch.OneCycleLR(opt, max_lr=0.01, steps_per_epoch=5, epochs=2)
    momenta = []
    for _ in range(10):
        momenta.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    assert close(out.literal("OneCycle momentum"), momenta, 1e-5)
    # ReduceLROnPlateau on the script's validation losses (lr after each step)
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=0.1)
    plateau = sch.ReduceLROnPlateau(opt, "min", patience=5)
    lrs = []
    for val_loss in [1.0, 0.9, 0.8] + [0.85] * 7 + [0.7] + [0.75] * 7:
        plateau.step(val_loss)
        lrs.append(opt.param_groups[0]["lr"])
    assert close(out.literal("ReduceLROnPlateau lrs"), lrs, 1e-5)
    # the tutorial's CosineAnnealingLR(max_epochs=, warmup_epochs=) is no torch API
    opt = torch.optim.SGD([param], lr=0.001)
    with pytest.raises(TypeError):
        sch.CosineAnnealingLR(
            opt,
            max_epochs=100,
            warmup_epochs=5,
            warmup_start_lr=0.0001,
            eta_min=0.00001,
        )


# --- 09: common errors -----------------------------------------------------------
def check_09_common_errors(out: Output, request) -> None:
    del request
    assert out["grad of batch 2 is the same whenever it is taken"] == "True"
    fresh = out.number("norm of batch 2's gradient")
    stale = out.number("norm torch would use without zero_grad")
    assert stale > fresh > 0
    one_group, groups = out["one group"], out["param groups"]
    assert "bn.weight by 0," not in one_group  # decayed: the bug
    assert groups.startswith("decay moved bn.weight by 0,")  # the fix
    assert (
        one_group.split("features.weight by ")[1]
        == groups.split("features.weight by ")[1]
    )
    assert out.literal("groups by rank, lrs") == [0.001, 0.001]
    assert (
        out.literal("lr per optimizer step, per_epoch(StepLR)")
        == [0.1] * 6 + [0.01] * 3
    )
    assert out.literal("what stepping StepLR every batch gives") == [
        0.1,
        0.1,
        0.01,
        0.01,
        0.001,
        0.001,
        0.0001,
        0.0001,
        1e-05,
    ]


CHECKS = {
    "01_tensors": check_01_tensors,
    "02_devices": check_02_devices,
    "03_autograd": check_03_autograd,
    "04_data": check_04_data,
    "05_nn_module_training": check_05_nn_module_training,
    "06_losses": check_06_losses,
    "07_optimizers": check_07_optimizers,
    "08_schedulers": check_08_schedulers,
    "09_common_errors": check_09_common_errors,
}


def test_every_example_is_checked():
    scripts = sorted(p.stem for p in EXAMPLES.glob("[0-9][0-9]_*.py"))
    assert scripts == SECTIONS == sorted(CHECKS)


def _param(name: str):
    """``name``, marked ``parity`` where its check compares with torch."""
    uses_torch = 'getfixturevalue("torch")' in inspect.getsource(CHECKS[name])
    return pytest.param(name, marks=[pytest.mark.parity] if uses_torch else [])


@pytest.mark.parametrize("name", [_param(name) for name in SECTIONS])
def test_example(name, request, capsys):
    CHECKS[name](run_example(name, capsys), request)


MODULE_ALIASES = {
    "T": "tensor_ops",
    "autodiff": "autodiff",
    "data": "data",
    "models": "models",
    "losses": "losses",
    "optim": "optim",
    "schedules": "schedules",
    "train": "train",
}


def test_migration_table_names_exist():
    """Every jtoolkit name in docs/migration.md's jtoolkit column is public API."""
    import importlib
    import re

    pattern = re.compile(r"\b(" + "|".join(MODULE_ALIASES) + r")\.([A-Za-z_]\w*)")
    rows = [
        line.split("|")
        for line in (ROOT / "docs" / "migration.md").read_text().splitlines()
        if line.startswith("| ") and not line.startswith("| torch")
    ]
    found = set()
    for cells in rows:
        found.update(pattern.findall(cells[2]))  # the jtoolkit column
    assert len(found) > 60
    for alias, name in sorted(found):
        module = importlib.import_module(f"jtoolkit.{MODULE_ALIASES[alias]}")
        assert name in module.__all__, f"{alias}.{name} is not in jtoolkit.{module}"
