"""Tolerances for torch comparisons that accumulate rounding (many training steps).

After 50 optimizer steps, a float32 run's distance from exact arithmetic depends on
the CPU (vector width, FMA, the BLAS's summation order, threads), and a trajectory
amplifies each step's rounding: a fixed ``rtol=1e-5`` tuned on one machine fails
on another. The rule used instead (CONTRIBUTING.md, "Tolerances"):

* the truth is torch in float64 from the same start;
* the noise is how far equally valid float32 runs of torch land from that truth:
  torch float32 from the same start and from ``NEIGHBOURS`` starts moved by one ulp
  (:func:`ulp_neighbours`; one ulp is the rounding of a single step, so these runs
  sample the spread that rounding alone produces on this machine);
* jtoolkit's float32 result must satisfy, per array and elementwise,
  ``|got - truth| <= FACTOR * noise + FLOOR_ULPS * eps32 * max |truth|``.

``FACTOR`` (4) is a margin over a spread estimated from three samples; the floor
(8 float32 ulps of the array's magnitude) covers arrays where every torch run lands
on the truth. A derived bound looser than ``MAX_REL`` of the array's magnitude fails
the test instead of passing it: such a chaotic run could not catch a wrong update
and must be shortened. ``tests/optim/test_alias.py`` checks that an update off by
1e-4 relative still fails.

``JTOOLKIT_PARITY_REPORT=<file>`` appends one line per compared array (test, array,
error, bound, error/bound) to ``<file>``, to see the margins on a new machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = [
    "EPS32",
    "FACTOR",
    "FLOOR_ULPS",
    "MAX_REL",
    "NEIGHBOURS",
    "assert_close_to_truth",
    "bounds",
    "torch_references",
    "ulp_neighbours",
]

EPS32 = float(np.finfo(np.float32).eps)
FACTOR = 4.0
FLOOR_ULPS = 8.0
MAX_REL = 1e-4
NEIGHBOURS = 2


def _leaves(tree: Any, path: str = "") -> Iterator[tuple[str, np.ndarray]]:
    """``(path, float64 array)`` for every array in nested dicts/lists/tuples."""
    if isinstance(tree, dict):
        for key in sorted(tree):
            yield from _leaves(tree[key], f"{path}/{key}")
    elif isinstance(tree, list | tuple):
        for i, item in enumerate(tree):
            yield from _leaves(item, f"{path}/{i}")
    else:
        if hasattr(tree, "detach"):  # a torch tensor
            tree = tree.detach().cpu().numpy()
        yield path or "/", np.asarray(tree, dtype=np.float64)


def _map(fn: Callable[[np.ndarray], np.ndarray], tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _map(fn, v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(_map(fn, v) for v in tree)
    return fn(np.asarray(tree))


def ulp_neighbours(tree: Any, count: int = NEIGHBOURS, seed: int = 0) -> list[Any]:
    """``count`` copies of a float32 tree, each element moved one ulp up or down."""
    rng = np.random.default_rng(seed)

    def nudge(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float32)
        up = rng.random(a.shape) < 0.5
        return np.nextafter(a, np.where(up, np.inf, -np.inf).astype(np.float32))

    return [_map(nudge, tree) for _ in range(count)]


def torch_references(run: Callable[..., Any], start: Any, torch: Any) -> tuple:
    """``(truth, references)`` from ``run(start, dtype)`` (torch's trained result).

    ``truth`` is ``run(start, torch.float64)``; ``references`` are float32 runs
    from ``start`` and from its :func:`ulp_neighbours`.
    """
    truth = run(start, torch.float64)
    references = [run(s, torch.float32) for s in [start, *ulp_neighbours(start)]]
    return truth, references


def bounds(got: Any, truth: Any, references: list[Any]) -> list[tuple]:
    """Per array: ``(path, max |got - truth|, allowed, max |truth|)``.

    ``allowed`` is the derived bound described in the module docstring.
    """
    return list(_rows(got, truth, references))


def _rows(got: Any, truth: Any, references: list[Any]) -> Iterator[tuple]:
    streams = [_leaves(got), _leaves(truth), *(_leaves(r) for r in references)]
    for leaves in zip(*streams, strict=True):
        (path, g), (_, t64) = leaves[0], leaves[1]
        for other_path, other in leaves[1:]:
            assert other_path == path and other.shape == g.shape, (path, other_path)
        scale = float(np.abs(t64).max(initial=0.0))
        noise = max(float(np.abs(r - t64).max(initial=0.0)) for _, r in leaves[2:])
        allowed = FACTOR * noise + FLOOR_ULPS * EPS32 * scale
        yield path, float(np.abs(g - t64).max(initial=0.0)), allowed, scale


def assert_close_to_truth(
    got: Any, truth: Any, references: list[Any], err_msg: str = ""
) -> None:
    """jtoolkit's float32 ``got`` is as close to torch float64 as torch float32 is.

    Args:
        got: jtoolkit's result: an array or nested dicts/lists of arrays (numpy,
            jax or torch).
        truth: torch's float64 result, same structure.
        references: torch float32 results, same structure (see
            :func:`torch_references`).
        err_msg: prefix for the failure message.

    Raises:
        AssertionError: an array is farther from the truth than the derived bound,
            or the bound is looser than ``MAX_REL`` of the array's magnitude.
    """
    report = os.environ.get("JTOOLKIT_PARITY_REPORT")
    for path, err, allowed, scale in _rows(got, truth, references):
        where = f"{err_msg} {path}".strip()
        if report:
            test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
            with open(report, "a") as f:
                ratio = err / allowed if allowed else 0.0
                f.write(f"{test} {where} {err:.3e} {allowed:.3e} {ratio:.3f}\n")
        assert allowed <= MAX_REL * scale + 1e-30, (
            f"{where}: float32 torch runs spread {allowed / FACTOR:.2e} around float64 "
            f"on a magnitude of {scale:.2e}; such a run could not catch a wrong "
            "update, shorten it"
        )
        assert err <= allowed, (
            f"{where}: max |jtoolkit - torch float64| = {err:.3e} exceeds "
            f"{FACTOR:g} x torch float32's spread + {FLOOR_ULPS:g} ulps = "
            f"{allowed:.3e} (magnitude {scale:.2e})"
        )
