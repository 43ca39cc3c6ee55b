"""L-BFGS (torch.optim.LBFGS): a host-driven step that calls the loss function.

torch's ``optimizer.step(closure)`` re-evaluates the loss up to ``max_eval`` times
per step with data-dependent branching (line search, early exits). The twin here
is `LBFGS.step` ``(loss_fn, params, state) -> (params, state)``: ``loss_fn(params)``
returns the scalar loss, its value and gradient come from one jitted
``jax.value_and_grad`` (compiled once per ``loss_fn``), and the two-loop recursion
and line search run on the host in the parameters' dtype, in torch's order. The
step itself is therefore not jittable (torch's is not capturable either); the
state is a pytree (an lr state, counters and the flat history) so ``current_lr``
and ``set_lr`` work on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jtoolkit._src.optim.lr import LearningRateState
from jtoolkit._src.optim.schedulable import hyper_dtype

__all__ = ["LBFGS", "LBFGSState", "lbfgs"]


class LBFGSState(NamedTuple):
    """torch's LBFGS state: lr, counters, last direction/step and the history.

    ``loss`` is the loss at the start of the last step (what torch's ``step``
    returns); vectors are flat, in ``ravel_pytree`` order.
    """

    lr: LearningRateState
    func_evals: int = 0
    n_iter: int = 0
    d: Any = None
    t: Any = None
    old_dirs: tuple = ()
    old_stps: tuple = ()
    ro: tuple = ()
    H_diag: Any = None
    prev_flat_grad: Any = None
    prev_loss: Any = None
    loss: Any = None


def _axpy(x: np.ndarray, alpha: Any, v: np.ndarray) -> np.ndarray:
    """torch's ``x.add_(v, alpha=alpha)``: alpha in x's dtype, rounded once.

    torch's vectorised CPU kernels (AVX2, AVX-512) fuse ``x + alpha * v`` into one
    multiply-add; rounding the product and then the sum (numpy's ``x + a * v``)
    moves every L-BFGS iterate by an ulp more, which the line search amplifies.
    The product of two float32 numbers is exact in float64, so the float64 sum
    rounded back is the fused result.
    """
    wide = np.promote_types(x.dtype, np.float64)
    a = np.asarray(alpha, x.dtype).astype(wide)
    return (x.astype(wide) + a * v.astype(wide)).astype(x.dtype)


def _dot(a: np.ndarray, b: np.ndarray) -> np.floating[Any]:
    """``a . b`` accumulated in float64 and rounded once to a's dtype.

    numpy's float32 dot is BLAS's (its summation order follows this CPU's vector
    width, which ``--xla_cpu_max_isa`` does not control); the float64 sum rounded
    once is the same on every CPU and at least as close to exact as torch's.
    """
    wide = np.promote_types(a.dtype, np.float64)
    return a.dtype.type(np.dot(a.astype(wide), b.astype(wide)))


def _sum(a: np.ndarray) -> np.floating[Any]:
    """``a.sum()`` accumulated in float64 and rounded once (see `_dot`)."""
    return a.dtype.type(a.astype(np.promote_types(a.dtype, np.float64)).sum())


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """torch's minimiser of the cubic through two points with slopes."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tol=1e-9, max_ls=25):
    """torch's ``_strong_wolfe`` line search (bracketing, then zoom)."""
    d_norm = np.abs(d).max()
    f_new, g_new = obj(x, t, d)
    ls_func_evals = 1
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(
            t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step)
        )
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
        f_new, g_new = obj(x, t, d)
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tol:
            break
        t = _cubic_interpolate(
            bracket[0],
            bracket_f[0],
            bracket_gtd[0],
            bracket[1],
            bracket_f[1],
            bracket_gtd[1],
        )
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj(x, t, d)
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new, gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = (
                    bracket[low_pos],
                    bracket_f[low_pos],
                )
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new, gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


class LBFGS:
    """torch.optim.LBFGS with ``step(loss_fn, params, state)``; see `lbfgs`."""

    def __init__(
        self,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if callable(lr):
            raise ValueError("lbfgs: lr must be a float (set_lr changes it)")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if line_search_fn is not None and line_search_fn != "strong_wolfe":
            raise RuntimeError("only 'strong_wolfe' is supported")
        self.lr = lr
        self.max_iter = max_iter
        self.max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        self.tolerance_grad = tolerance_grad
        self.tolerance_change = tolerance_change
        self.history_size = history_size
        self.line_search_fn = line_search_fn
        self._compiled: dict[Any, Callable] = {}

    def init(self, params: Any) -> LBFGSState:
        """The state before the first step (holds the lr, like ``param_group``).

        The lr takes the parameters' `hyper_dtype` (float64 for a float64 model).
        """
        return LBFGSState(LearningRateState(jnp.asarray(self.lr, hyper_dtype(params))))

    def _host_lr(self, held: jax.Array) -> float:
        """The lr as the Python float torch uses: the one given, unless set_lr
        changed it (``0.8`` stays ``0.8``, not float32's ``0.800000011920929``)."""
        if held == np.asarray(self.lr, held.dtype):
            return float(self.lr)
        return float(held)

    def _value_and_grad(
        self, loss_fn: Callable, params: Any, unravel: Callable
    ) -> Callable:
        leaves, treedef = jax.tree.flatten(params)
        key = (
            loss_fn,
            treedef,
            tuple((jnp.shape(x), jnp.result_type(x)) for x in leaves),
        )
        if key not in self._compiled:
            fn = jax.jit(jax.value_and_grad(lambda flat: loss_fn(unravel(flat))))
            self._compiled = {key: fn}  # keep one: a new loss_fn replaces it
        return self._compiled[key]

    def step(
        self, loss_fn: Callable[[Any], jax.Array], params: Any, state: LBFGSState
    ) -> tuple[Any, LBFGSState]:
        """One ``optimizer.step(closure)``: up to ``max_iter`` L-BFGS iterations.

        Args:
            loss_fn: ``params -> scalar loss`` (torch's closure, without
                ``zero_grad``/``backward``: the gradient is taken here). Pass
                the same function object every step: a new one (e.g. a lambda
                built per step) is compiled again.
            params: a pytree of float arrays.
            state: from `init` or the previous step.

        Returns:
            ``(params, state)``; ``state.loss`` is the loss before the step.
        """
        flat0, unravel = ravel_pytree(params)
        dtype = np.dtype(flat0.dtype)
        vg = self._value_and_grad(loss_fn, params, unravel)
        x = np.asarray(flat0).copy()

        def closure(at: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = vg(jnp.asarray(at))
            return float(value), np.asarray(grad).astype(dtype)

        lr = self._host_lr(state.lr.lr)
        tol_change = self.tolerance_change
        history_size = self.history_size
        func_evals, n_iter_total = state.func_evals, state.n_iter
        orig_loss, flat_grad = closure(x)
        loss = orig_loss
        current_evals = 1
        func_evals += 1
        if np.abs(flat_grad).max() <= self.tolerance_grad:
            return params, state._replace(func_evals=func_evals, loss=orig_loss)
        d, t, h_diag = state.d, state.t, state.H_diag
        old_dirs, old_stps = list(state.old_dirs), list(state.old_stps)
        ro = list(state.ro)
        prev_flat_grad, prev_loss = state.prev_flat_grad, state.prev_loss
        if d is not None:
            d, prev_flat_grad = np.asarray(d), np.asarray(prev_flat_grad)
            old_dirs = [np.asarray(v) for v in old_dirs]
            old_stps = [np.asarray(v) for v in old_stps]
        n_iter = 0
        while n_iter < self.max_iter:
            n_iter += 1
            n_iter_total += 1
            if n_iter_total == 1 or d is None:  # d is None only on the first
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                h_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = _dot(y, s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / _dot(y, y)
                num_old = len(old_dirs)
                al: list[Any] = [None] * num_old  # filled below, last first
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = _dot(old_stps[i], q) * ro[i]
                    q = _axpy(q, -al[i], old_dirs[i])
                d = r = (q * h_diag).astype(dtype)
                for i in range(num_old):
                    be_i = _dot(old_dirs[i], r) * ro[i]
                    r = _axpy(r, al[i] - be_i, old_stps[i])
                d = r.astype(dtype)
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            if n_iter_total == 1:
                t = min(1.0, 1.0 / _sum(np.abs(flat_grad))) * lr
            else:
                t = lr
            gtd = _dot(flat_grad, d)
            if gtd > -tol_change:
                break
            ls_func_evals = 0
            if self.line_search_fn is not None:

                def obj(x_init, step, direction):
                    return closure(_axpy(x_init, step, direction))

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj,
                    x,
                    t,
                    d,
                    loss,
                    flat_grad,
                    gtd,
                    tol=tol_change,
                    max_ls=self.max_eval - current_evals,
                )
                x = _axpy(x, t, d)
                opt_cond = np.abs(flat_grad).max() <= self.tolerance_grad
            else:
                x = _axpy(x, t, d)
                opt_cond = False
                if n_iter != self.max_iter:
                    loss, flat_grad = closure(x)
                    opt_cond = np.abs(flat_grad).max() <= self.tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            func_evals += ls_func_evals
            if n_iter == self.max_iter or current_evals >= self.max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tol_change:
                break
            if abs(loss - prev_loss) < tol_change:
                break
        new_state = LBFGSState(
            state.lr,
            func_evals,
            n_iter_total,
            d,
            t,
            tuple(old_dirs),
            tuple(old_stps),
            tuple(ro),
            h_diag,
            prev_flat_grad,
            prev_loss,
            orig_loss,
        )
        return unravel(jnp.asarray(x)), new_state


def lbfgs(
    lr: float = 1,
    max_iter: int = 20,
    max_eval: int | None = None,
    tolerance_grad: float = 1e-7,
    tolerance_change: float = 1e-9,
    history_size: int = 100,
    line_search_fn: str | None = None,
) -> LBFGS:
    """L-BFGS whose step takes the loss function, as torch's takes a closure.

    torch: ``torch.optim.LBFGS``; ``optimizer.step(closure)`` becomes
    ``params, state = opt.step(loss_fn, params, state)`` with
    ``loss_fn(params) -> loss`` (the gradient is taken by ``jax.value_and_grad``,
    jitted once per ``loss_fn``). One step runs up to ``max_iter`` iterations and
    ``max_eval`` loss evaluations with torch's history, initial step
    ``min(1, 1/|g|_1) * lr``, stopping rules and (``line_search_fn=
    "strong_wolfe"``) line search. The step runs on the host (data-dependent
    loops), so it is not an optax transformation and cannot be jitted; the loss is.

    Args:
        lr: learning rate (step length without line search), a float.
        max_iter: iterations per step.
        max_eval: loss evaluations per step (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when ``max |g| <= tolerance_grad``.
        tolerance_change: stop when the step or loss change falls below it.
        history_size: number of curvature pairs kept.
        line_search_fn: None or ``"strong_wolfe"``.

    Returns:
        An `LBFGS` with ``init(params)`` and ``step(loss_fn, params, state)``.

    Raises:
        ValueError: ``Invalid learning rate: -1``.
        RuntimeError: ``only 'strong_wolfe' is supported`` (torch raises it at
            the first step; here at construction).

    Example:
        >>> from jtoolkit.optim import lbfgs
        >>> opt = lbfgs(lr=1, line_search_fn="strong_wolfe")
        >>> params = {"w": jnp.array([3.0, -1.0])}
        >>> state = opt.init(params)
        >>> loss_fn = lambda p: jnp.sum((p["w"] - 1) ** 2)
        >>> params, state = opt.step(loss_fn, params, state)
        >>> [round(v, 4) for v in params["w"].tolist()]
        [1.0, 1.0]
    """
    return LBFGS(
        lr,
        max_iter,
        max_eval,
        tolerance_grad,
        tolerance_change,
        history_size,
        line_search_fn,
    )
