"""One trajectory: scipy's steppers with convergence, blow-up and stiffness checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..errors import SpecError, require_system
from ._binding import System
from ._convergence import Convergence, check_common, xtol_for
from ._results import IntegrationResult
from ._rhs import NumericRHS, numeric

__all__ = ["integrate", "solve_one", "STIFF_THRESHOLD"]

_SOLVERS = ("auto", "RK45", "DOP853", "RK23", "LSODA", "Radau", "BDF")
STIFF_THRESHOLD = {"RK45": 3.25, "DOP853": 6.1}  # Hairer's h*lambda bounds (DOPRI5, DOP853)


def _stiffness_ratio(solver) -> float:
    r"""Hairer's stiffness estimate :math:`h\lambda` after an accepted explicit step:
    :math:`|h|\,\|f(y_{n+1}) - f(g_s)\| / \|y_{n+1} - g_s\|` with :math:`g_s` the argument
    of the last stage (:math:`c_s = 1`)."""
    K, h = solver.K, solver.h_previous
    s = solver.n_stages - 1
    g = solver.y_old + h * (K[:s].T @ solver.A[s, :s])
    den = np.linalg.norm(solver.y - g)
    if den == 0:
        return 0.0
    return abs(h) * np.linalg.norm(K[-1] - K[s]) / den


class _Trajectory:
    """One trajectory stepped by scipy's solvers: what is recorded, what it cost, and the
    checks after every accepted step (blow-up, convergence, step budget, stiffness)."""

    def __init__(self, rhs: NumericRHS, t0: float, y0: np.ndarray, t1: float, *, rtol: float,
                 atol: float, tol: float, xtol: float | None, max_norm: float,
                 t_eval: np.ndarray | None, stop: bool, max_steps: int):
        self.rhs, self.t0, self.t1 = rhs, t0, t1
        self.rtol, self.atol, self.tol, self.xtol = rtol, atol, tol, xtol
        self.max_norm, self.t_eval, self.stop, self.max_steps = max_norm, t_eval, stop, max_steps
        self.size = y0.size
        self.y0_norm = float(np.max(np.abs(y0))) if y0.size else 0.0
        self.record_t: list = []
        self.record_y: list = []
        self.nfev = self.nsteps = 0
        self.methods: list[str] = []

    def fun(self, t, y):
        return self.rhs(t, y.T).T if y.ndim == 2 else self.rhs(t, y)

    def done(self, status: str, message: str, t, y) -> dict:
        ts = np.array(self.record_t, dtype=float)
        ys = np.array(self.record_y).reshape(-1, self.size)
        return dict(t=ts, y=ys, t_final=float(t), y_final=np.array(y, dtype=float),
                    status=status, message=message, method=" then ".join(self.methods),
                    nfev=self.nfev, nsteps=self.nsteps)

    def record(self, t, y, dense=None, t_prev=None) -> None:
        t_eval = self.t_eval
        if t_eval is None:
            self.record_t.append(t)
            self.record_y.append(np.array(y))
            return
        sel = (t_eval == t) if t_prev is None else (t_eval > t_prev) & (t_eval <= t)
        if np.any(sel):
            pts = t_eval[sel]
            self.record_t.extend(pts)
            self.record_y.extend(dense(pts).T if dense is not None
                                 else np.tile(y, (len(pts), 1)))

    def start(self, y: np.ndarray, method: str) -> dict | float:
        r"""The initial state's checks; its speed :math:`\|f\|_\infty`, or the result."""
        self.methods.append(method)
        if not np.all(np.isfinite(y)):
            return self.done("diverged", "the initial state has non-finite entries", self.t0, y)
        f = self.rhs(self.t0, y)
        self.nfev += 1
        self.record(self.t0, y)
        if not np.all(np.isfinite(f)):
            return self.done("diverged", "f is non-finite at the initial state", self.t0, y)
        fn = float(np.max(np.abs(f))) if f.size else 0.0
        self.monitor = Convergence(1, np.array([self.t0]), np.array([fn]), self.tol)
        if self.stop and fn == 0:
            return self.done("converged", "the initial state is a fixed point (f = 0)",
                             self.t0, y)
        return fn

    def after_step(self, solver, current: str, t_prev: float, fn: float) -> dict | float:
        """Record an accepted step and test it; the new speed, or the result if it ends."""
        t, y = solver.t, solver.y
        self.nsteps += 1
        self.record(t, y, solver.dense_output() if self.t_eval is not None else None,
                    t_prev if self.t_eval is not None else None)
        if not np.all(np.isfinite(y)) or np.max(np.abs(y)) > self.max_norm:
            self.nfev += solver.nfev
            return self.done("diverged", f"|y| exceeded {self.max_norm:g} (or became "
                             f"non-finite) at t={t:.6g}: the trajectory blows up", t, y)
        if current in STIFF_THRESHOLD:
            f_new = solver.f
        else:
            f_new = self.rhs(t, y)
            self.nfev += 1
        if not np.all(np.isfinite(f_new)):
            self.nfev += solver.nfev
            return self.done("diverged", f"f became non-finite at t={t:.6g}", t, y)
        fn_new = float(np.max(np.abs(f_new)))
        if self.stop and self.monitor.test(
                np.array([0]), np.array([t_prev]), np.array([fn]), np.array([t]),
                np.array([fn_new]), self.tol, xtol_for(self.xtol, self.atol, self.rtol, y))[0]:
            self.nfev += solver.nfev
            return self.done("converged", f"converged at t={t:.6g}: |f| = {fn_new:.3g} <= tol "
                             "and decaying", t, y)
        if self.nsteps >= self.max_steps:
            self.nfev += solver.nfev
            return self.done("failed", f"max_steps={self.max_steps} reached at t={t:.6g}; raise "
                             "max_steps" + (" or use a stiff method" if current in
                                            STIFF_THRESHOLD else ""), t, y)
        return fn_new

    def solver_failed(self, solver, current: str, message: str) -> dict:
        self.nfev += solver.nfev
        grew = np.max(np.abs(solver.y)) > 100 * max(1.0, self.y0_norm)
        return self.done("diverged" if grew else "failed",
                         f"{current} failed at t={solver.t:.6g}: {message}"
                         + (" (the state grew a hundredfold: a finite-time singularity?)"
                            if grew else "; try another method"), solver.t, solver.y)


def solve_one(rhs: NumericRHS, t0: float, y0: np.ndarray, t1: float, *, method: str,
              rtol: float, atol: float, tol: float, xtol: float | None, max_norm: float,
              t_eval: np.ndarray | None, stop: bool, max_steps: int,
              progress: Callable[[float], None] | None) -> dict:
    """Step scipy's solvers, with the convergence, blow-up and stiffness checks; ``"auto"``
    starts with DOP853 and hands over to LSODA after 15 stiff-looking steps."""
    import scipy.integrate as si

    run = _Trajectory(rhs, t0, y0, t1, rtol=rtol, atol=atol, tol=tol, xtol=xtol,
                      max_norm=max_norm, t_eval=t_eval, stop=stop, max_steps=max_steps)
    current = "DOP853" if method == "auto" else method
    fn = run.start(y0, current)
    if isinstance(fn, dict):
        return fn
    t, y = t0, y0
    while True:
        kwargs = dict(rtol=rtol, atol=atol, vectorized=current in ("Radau", "BDF"))
        solver = getattr(si, current)(run.fun, t, y, t1, **kwargs)
        switch = False
        iasti = nonsti = 0
        while solver.status == "running":
            t_prev = solver.t
            message = solver.step()
            if solver.status == "failed":
                return run.solver_failed(solver, current, message)
            out = run.after_step(solver, current, t_prev, fn)
            if isinstance(out, dict):
                return out
            fn, t, y = out, solver.t, solver.y
            if progress is not None:
                progress((t - t0) / (t1 - t0) if t1 != t0 else 1.0)
            if method == "auto" and current in STIFF_THRESHOLD:
                if _stiffness_ratio(solver) > STIFF_THRESHOLD[current]:
                    nonsti, iasti = 0, iasti + 1
                    if iasti >= 15:
                        switch = True
                        break
                else:
                    nonsti += 1
                    if nonsti >= 6:
                        iasti = 0
        run.nfev += solver.nfev
        if not switch:
            break
        current = "LSODA"
        run.methods.append(f"LSODA from t={t:.6g} (stiffness detected)")
    hint = ("; |f| is below tol but not decaying: creeping (saturation, a degenerate fixed "
            "point), or an explicit method held at its stability limit (try method='auto' or "
            "'LSODA')") if fn <= tol else "; integrate longer"
    return run.done("running", f"reached t={t1:g} without converging (|f| = {fn:.3g}){hint}",
                    t, y)


def _time_span(t_span) -> tuple[float, float]:
    if isinstance(t_span, str | bytes) or t_span is None:
        raise SpecError(f"t_span must be a final time or a pair (t0, t1), got {t_span!r}")
    if np.ndim(t_span) == 0:
        try:
            t0, t1 = 0.0, float(t_span)
        except (TypeError, ValueError):
            raise SpecError(f"t_span must be a final time or a pair (t0, t1), got "
                            f"{t_span!r}") from None
    else:
        try:
            t0, t1 = (float(v) for v in t_span)
        except (TypeError, ValueError):
            raise SpecError(f"t_span must be a final time or a pair (t0, t1), got {t_span!r}") \
                from None
    if not (np.isfinite(t0) and np.isfinite(t1)) or t1 <= t0:
        raise SpecError(f"t_span must run forward in finite time, got {t_span!r}")
    return t0, t1


def integrate(
    system: System,
    y0,
    t_span,
    values: Mapping | None = None,
    *,
    method: str = "auto",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    tol: float = 1e-6,
    xtol: float | None = None,
    max_norm: float = 1e8,
    t_eval=None,
    stop_on_convergence: bool = True,
    max_steps: int = 1_000_000,
    form: str = "auto",
    progress: Callable[[float], None] | None = None,
) -> IntegrationResult:
    r"""Integrate one trajectory of ``system`` from ``y0`` over ``t_span`` (a final time, or
    ``(t0, t1)``) with ``values`` bound to its parameters (see :func:`numeric`).

    ``method``: ``"auto"`` (DOP853, an explicit 8th-order pair, with Hairer's stiffness test;
    after 15 stiff-looking steps it switches to LSODA, which handles stiff and non-stiff
    phases) or any scipy solver name (``"RK45"``, ``"DOP853"``, ``"LSODA"``, ``"Radau"``,
    ``"BDF"``, ``"RK23"``). ``rtol, atol``: local error tolerances. Stops early when
    converged (speed below ``tol`` and projected remaining distance below ``xtol``, by
    default :math:`10(\mathrm{atol} + \mathrm{rtol}\|y\|_\infty)`; see the module docstring)
    unless ``stop_on_convergence`` is false; reports ``"diverged"`` when
    :math:`\|y\|_\infty` exceeds ``max_norm`` or a value is non-finite.
    ``t_eval``: record the trajectory at these times (dense output) instead of at every step.
    ``progress``: called with the fraction of the time span done. Never raises for what
    happens along the trajectory; bad arguments raise :class:`~symdyn.SpecError`.

    >>> from symdyn import derive
    >>> r = integrate(derive("1-1-1", "rbp"), [0.1, 0.2], 100,
    ...               {"alpha": 1, "beta": 1, "c1": 0.5})
    >>> r.status, round(float(r.y_final[0] * r.y_final[1]), 6)
    ('converged', 1.0)
    """
    require_system(system, "integrate: system", values)
    if method not in _SOLVERS:
        raise SpecError(f"unknown method {method!r}; choose one of {', '.join(_SOLVERS)}")
    y0, xtol = check_common(system, y0, tol, xtol, rtol, atol, max_norm)
    if y0.shape != (system.size,):
        raise SpecError(f"y0 must have {system.size} entries ({', '.join(map(str, system.state))}"
                        f"), got shape {y0.shape}")
    t0, t1 = _time_span(t_span)
    if t_eval is not None:
        t_eval = np.asarray(t_eval, dtype=float)
        if t_eval.ndim != 1 or np.any(np.diff(t_eval) <= 0) or (
                t_eval.size and (t_eval[0] < t0 or t_eval[-1] > t1)):
            raise SpecError("t_eval must be increasing and inside t_span")
    rhs = numeric(system, values, form=form)
    if rhs.batch is not None:
        raise SpecError("integrate() takes one trajectory: give parameter values without a "
                        "batch axis (integrate_batch() takes per-row values)")
    out = solve_one(rhs, t0, y0, t1, method=method, rtol=rtol, atol=atol, tol=tol, xtol=xtol,
                     max_norm=max_norm, t_eval=t_eval, stop=stop_on_convergence,
                     max_steps=int(max_steps), progress=progress)
    return IntegrationResult(state=system.state, **out)


