"""Many trajectories at once: a vectorised embedded Runge-Kutta pair with per-row steps.

:class:`BatchStepper` holds the state of every row; each of its methods is one named part of
the algorithm (error control, dense output, blow-up, convergence test, stiffness hand-off),
and :func:`integrate_batch` drives it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np

from ..errors import SpecError
from ._binding import System
from ._budget import BUDGET_MESSAGE, DEADLINE, BudgetExhausted, check_deadline
from ._budget import clock as budget_clock
from ._compiled import advance_function
from ._convergence import Convergence, check_common, xtol_for
from ._integrate import solve_one
from ._results import BatchResult, summary
from ._rhs import NumericRHS, numeric
from ._tableau import TABLEAUS, Tableau, combine, dense_at, dense_factors, error_norm, initial_step

__all__ = ["integrate_batch", "BatchStepper", "batch_bytes", "check_batch_size",
           "MAX_BATCH_BYTES"]

#: The most working memory one :func:`integrate_batch` call may take (estimated up front by
#: :func:`batch_bytes`); a larger batch is refused with the estimate: integrate it in chunks.
MAX_BATCH_BYTES = 2 * 1024**3

_SAFETY, _MIN_FACTOR, _MAX_FACTOR = 0.9, 0.2, 10.0  # as scipy's RungeKutta
# A stiff row goes to the implicit solver alone only if more explicit steps than this remain:
# in the batch a row-step costs about a microsecond, an implicit solve of one row ~50 ms.
_STIFF_HANDOFF_STEPS = 20_000
_RUN, _CONV, _END, _DIV, _FAIL, _STIFF = range(6)
_NAMES = np.array(["running", "converged", "running", "diverged", "failed", "running"])


def batch_bytes(rows: int, n: int, method: str = "DOP853", n_eval: int = 0) -> int:
    """Estimated working memory of :func:`integrate_batch` on ``rows`` rows of ``n`` state
    variables: the stages of the pair and about ten more row-sized arrays (state, speed,
    trial state, scales, errors, per-row counters), plus the recorded trajectories."""
    stages = TABLEAUS[method].n_stages if method in TABLEAUS else 12
    per_row = 8 * ((stages + 1 + 10) * max(n, 1) + 24) + 8 * n_eval * max(n, 1)
    return int(rows) * per_row


def check_batch_size(rows: int, n: int, method: str = "DOP853", n_eval: int = 0) -> None:
    """Refuse, with the estimate, a batch that would take more than :data:`MAX_BATCH_BYTES`."""
    need = batch_bytes(rows, n, method, n_eval)
    if need > MAX_BATCH_BYTES:
        fit = max(1, MAX_BATCH_BYTES // max(batch_bytes(1, n, method, n_eval), 1))
        raise SpecError(
            f"a batch of {rows:,} rows of {n} state variables needs about {need / 1024**3:.3g} "
            f"GiB of working memory, above the limit of {MAX_BATCH_BYTES / 1024**3:.3g} GiB; "
            f"integrate it in chunks of at most {fit:,} rows"
        )


def integrate_batch(
    system: System,
    Y0,
    t_final: float,
    values: Mapping | None = None,
    *,
    method: str = "DOP853",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    tol: float = 1e-6,
    xtol: float | None = None,
    max_norm: float = 1e8,
    t_eval=None,
    stop_on_convergence: bool = True,
    max_steps: int = 100_000,
    stiff: str = "LSODA",
    form: str = "auto",
    backend: str = "auto",
    progress: Callable[[float], None] | None = None,
    deadline: float | None = None,
) -> BatchResult:
    r"""Integrate many initial conditions ``Y0`` (B, n) of ``system`` from ``t = 0`` to
    ``t_final`` at once.

    A vectorised embedded Runge-Kutta pair (``method``: ``"DOP853"``, Dormand-Prince 8(5,3),
    or ``"RK45"``, Dormand-Prince 5(4); coefficients from scipy) where every row has its own
    step size and its own error control, exactly as scipy's solver would give it alone (the
    system is autonomous, so rows need not share times). Each stage is one call of the
    generated code on all rows still running. Rows stop independently when converged (the
    test of the module docstring), diverged or failed; a row for which Hairer's stiffness
    test fires 15 times, with more than 20,000 steps of the current size still to go or with
    the row near rest (speed below ``tol``, or a step moving it by less than 100 local
    tolerances: held at the stability limit near a fixed point, an explicit pair may
    oscillate at the size of the tolerance without settling), is finished by scipy's
    ``stiff`` solver (LSODA) alone, and flagged in ``stiff``.
    ``values`` may give a parameter per row (a leading axis of length B).
    ``t_eval``: also record every row at these times (``y_eval``, shape (k, B, n)).
    ``progress`` is called with the fraction of the work done. ``deadline``: a wall-clock
    time (``time.monotonic()``) after which the rows still running end as ``failed`` ("time
    budget exhausted"); without one, past the context's :data:`DEADLINE` (``symdyn verify``)
    the call raises :class:`~symdyn.numerics._budget.BudgetExhausted`: no truncated rows.
    ``backend``: ``"numpy"``, ``"numba"`` (compiled rows of the component or matrix form;
    the ``fast`` extra) or ``"auto"`` (:func:`~symdyn.numerics._compiled.select_backend`).

    >>> import numpy as np
    >>> from symdyn import derive
    >>> Y0 = np.random.default_rng(0).normal(size=(1000, 2))
    >>> r = integrate_batch(derive("1-1-1", "rbp"), Y0, 500, {"alpha": 1, "beta": 2, "c1": 1})
    >>> r.counts, bool(np.allclose(r.y[:, 0] * r.y[:, 1], 0.5, atol=1e-7))
    ({'converged': 1000}, True)
    """
    if method not in TABLEAUS:
        raise SpecError(f"integrate_batch method must be one of {', '.join(TABLEAUS)}, got "
                        f"{method!r}; for implicit methods use integrate() row by row")
    if stiff not in ("LSODA", "Radau", "BDF", "none"):
        raise SpecError(f"stiff must be 'LSODA', 'Radau', 'BDF' or 'none', got {stiff!r}")
    Y0, xtol = check_common(system, Y0, tol, xtol, rtol, atol, max_norm)
    n = system.size
    if Y0.ndim != 2 or Y0.shape[1] != n:
        raise SpecError(f"Y0 must have shape (batch, {n}), got {Y0.shape}")
    t_final = float(t_final) if isinstance(t_final, int | float | np.number) else np.nan
    if not np.isfinite(t_final) or t_final <= 0:
        raise SpecError(f"t_final must be a positive number, got {t_final!r}")
    check_batch_size(Y0.shape[0], n, method, 0 if t_eval is None else np.size(t_eval))
    if t_eval is not None:
        t_eval = np.asarray(t_eval, dtype=float)
        if t_eval.ndim != 1 or np.any(np.diff(t_eval) <= 0) or (
                t_eval.size and (t_eval[0] < 0 or t_eval[-1] > t_final)):
            raise SpecError("t_eval must be increasing and inside [0, t_final]")
    rhs = numeric(system, values, form=form)
    if rhs.batch is not None and rhs.batch != Y0.shape[0]:
        raise SpecError(f"per-row parameter values have {rhs.batch} rows but Y0 has "
                        f"{Y0.shape[0]}")
    stepper = BatchStepper(rhs, TABLEAUS[method], Y0, t_final, rtol=rtol, atol=atol, tol=tol,
                           xtol=xtol, max_norm=max_norm, t_eval=t_eval,
                           stop=stop_on_convergence, max_steps=int(max_steps), stiff=stiff)
    advance = advance_function(backend, system, form, stepper)
    strict = deadline is None  # the context's deadline: raise, never return truncated rows
    _drive(stepper, advance, progress, DEADLINE.get() if strict else deadline, strict)
    return stepper.result(system.state, method)


def _drive(stepper: BatchStepper, advance: Callable[[], bool], progress,
           deadline: float | None, strict: bool = False) -> None:
    """Advance (numpy steps, or the compiled loop in chunks of rows) until no row runs or
    the deadline passes, then finish the stiff rows. Past a ``strict`` deadline (the
    context's), raise :class:`BudgetExhausted`; past another, end the running rows."""
    now = budget_clock if strict else time.monotonic
    if deadline is not None and now() > deadline:
        # checked first too: the compiled loop runs a chunk of rows to their end per call
        if strict:
            raise BudgetExhausted(f"{BUDGET_MESSAGE} before a batch integration started")
        stepper.abandon(BUDGET_MESSAGE)
    while advance():
        if progress is not None:
            progress(stepper.progress)
        if deadline is not None and now() > deadline:
            if strict:
                raise BudgetExhausted(f"{BUDGET_MESSAGE} during a batch integration at "
                                      f"{stepper.progress:.0%} of its work")
            stepper.abandon(BUDGET_MESSAGE)
            break
    if progress is not None:
        progress(1.0)
    stepper.finish_stiff_rows(
        (lambda: check_deadline("the implicit solve of a stiff row")) if strict else None)


class BatchStepper:
    """The rows of one batch integration, advanced together by :meth:`step`.

    Every row has its own time, step size and error control; ``code`` holds each row's
    state (running, converged, ended, diverged, failed, or handed to the stiff solver)."""

    def __init__(self, rhs: NumericRHS, tab: Tableau, Y0: np.ndarray, t_final: float, *,
                 rtol: float, atol: float, tol: float, xtol: float | None, max_norm: float,
                 t_eval: np.ndarray | None, stop: bool, max_steps: int, stiff: str):
        self.rhs, self.tab, self.t_final = rhs, tab, t_final
        self.rtol, self.atol, self.tol, self.xtol = rtol, atol, tol, xtol
        self.max_norm, self.stop, self.max_steps, self.stiff = max_norm, stop, max_steps, stiff
        self.t_eval = t_eval
        B, n = Y0.shape
        self.n = n
        self.code = np.full(B, _RUN)
        self.t = np.zeros(B)
        self.y = Y0.copy()
        self.f = np.zeros_like(self.y)
        self.h = np.zeros(B)
        self.nfev = np.zeros(B, dtype=np.int64)
        self.nsteps = np.zeros(B, dtype=np.int64)
        self.rejected = np.zeros(B, dtype=bool)
        self.attempts = np.zeros(B, dtype=np.int64)
        self.iasti = np.zeros(B, dtype=np.int64)
        self.nonsti = np.zeros(B, dtype=np.int64)
        self.stiff_rows = np.zeros(0, dtype=np.int64)
        self.messages: dict[int, str] = {}
        self.y0_norm = np.max(np.abs(Y0), axis=1) if n else np.zeros(B)
        self.y_eval = None
        if t_eval is not None:
            self.y_eval = np.full((len(t_eval), B, n), np.nan)
            at0 = t_eval == 0
            self.y_eval[at0] = Y0
            self.next_eval = np.full(B, int(np.sum(at0)))
        self._start()

    # -- the parts of the algorithm ---------------------------------------------------------
    def _fun(self, rows: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        sub = self.rhs.rows(rows)
        return lambda y: sub(0.0, y)

    def _start(self) -> None:
        """First evaluation: non-finite starts diverge, fixed points converge at once, and
        every other row gets scipy's initial step."""
        with np.errstate(over="ignore", invalid="ignore"):
            finite = np.all(np.isfinite(self.y), axis=1)
            self.code[~finite] = _DIV
            live = np.flatnonzero(finite)
            if live.size:
                self.f[live] = self._fun(live)(self.y[live])
                self.nfev[live] += 1
            self.code[finite & ~np.all(np.isfinite(self.f), axis=1)] = _DIV
            fn = np.max(np.abs(self.f), axis=1) if self.n else np.zeros(len(self.t))
            self.fn = fn
            self.monitor = Convergence(len(fn), np.zeros(len(fn)),
                                       np.where(np.isfinite(fn), fn, np.inf), self.tol)
            if self.stop:
                self.code[(self.code == _RUN) & (fn == 0)] = _CONV
            live = np.flatnonzero(self.code == _RUN)
            if live.size:
                self.h[live] = initial_step(self._fun(live), self.y[live], self.f[live],
                                            self.t_final, self.tab.error_order, self.rtol,
                                            self.atol)
                self.nfev[live] += 1

    @property
    def progress(self) -> float:
        """The fraction of the work done (time reached, averaged over rows)."""
        return float(np.mean(np.where(self.code == _RUN, self.t / self.t_final, 1.0)))

    def step(self) -> bool:
        """One attempted step of every running row; ``False`` once no row is running."""
        idx = np.flatnonzero(self.code == _RUN)
        if idx.size == 0:
            return False
        hi = np.minimum(self.h[idx], self.t_final - self.t[idx])
        collapsed = ~(hi >= 10 * np.spacing(self.t[idx]))  # a NaN step (overflow) too
        self.attempts[idx] += 1
        collapsed |= self.attempts[idx] > 10 * self.max_steps  # rejections are bounded too
        if np.any(collapsed):
            self._collapse(idx[collapsed])
            idx, hi = idx[~collapsed], hi[~collapsed]
            if idx.size == 0:
                return True
        K, y_new, g_last, ok = self._attempt(idx, hi)
        if ok.all():  # the common case: no gathered copies of the stages
            self._accept(idx, hi, K, y_new, g_last, None)
        elif np.any(ok):
            self._accept(idx[ok], hi[ok], K, y_new[ok], g_last, ok)
        return True

    def _collapse(self, rows: np.ndarray) -> None:
        """A step size below ten ulps of t (or not a number): a blow-up if the state grew a
        hundredfold or its speed would carry it past ``max_norm`` within the interval."""
        with np.errstate(over="ignore", invalid="ignore"):
            grew = np.max(np.abs(self.y[rows]), axis=1) > 100 * np.maximum(
                1.0, self.y0_norm[rows])
            fast = ~(np.max(np.abs(self.f[rows]), axis=1) * max(self.t_final, 1.0)
                     < self.max_norm)
        grew |= fast
        self.code[rows] = np.where(grew, _DIV, _FAIL)
        for r, g in zip(rows, grew, strict=True):
            self.messages[int(r)] = (f"step size collapsed at t={self.t[r]:.6g}"
                                     + (" as the state or its speed grew (blow-up)" if g
                                        else ""))

    def _attempt(self, idx: np.ndarray, hi: np.ndarray):
        """Error control: one step of the pair on rows ``idx``; the new step sizes are set,
        and the rows whose error is within tolerance are marked ``ok``."""
        every = idx.size == len(self.code)  # all rows: views instead of gathered copies
        tab, fun = self.tab, self._fun(idx)
        yi = self.y if every else self.y[idx]
        hc = hi[:, None]
        # a fresh stage array each step: reusing one was 1.7x slower on 10-10-10 RBP (with
        # no large block freed, glibc's mmap threshold stays low and every temporary of the
        # right-hand side is mapped and faulted in anew)
        K = np.empty((tab.n_stages + 1, idx.size, self.n))
        K[0] = self.f if every else self.f[idx]
        g = yi
        with np.errstate(over="ignore", invalid="ignore"):
            for s in range(1, tab.n_stages):
                g = combine(tab.A[s, :s], K)
                g *= hc
                g += yi
                K[s] = fun(g)
            y_new = combine(tab.B, K)
            y_new *= hc
            y_new += yi
            K[-1] = fun(y_new)
            self.nfev[idx] += tab.n_stages
            scale = self.atol + np.maximum(np.abs(yi), np.abs(y_new)) * self.rtol
            err = error_norm(tab, K, hi, scale)
            ok = np.isfinite(err) & (err < 1) & np.all(np.isfinite(K[-1]), axis=1)
            exponent = -1.0 / (tab.error_order + 1)
            factor = np.where(err == 0, _MAX_FACTOR,
                              np.minimum(_MAX_FACTOR, _SAFETY * err ** exponent))
            factor = np.where(ok & self.rejected[idx], np.minimum(1.0, factor), factor)
            shrink = np.where(np.isfinite(err),
                              np.maximum(_MIN_FACTOR, _SAFETY * err ** exponent), _MIN_FACTOR)
        self.h[idx] = hi * np.where(ok, factor, shrink)
        self.rejected[idx] = ~ok
        # g: the argument of the last stage (c_s = 1), kept for the stiffness test
        return K, y_new, g, ok

    def _accept(self, acc, h_acc, K, y_acc, g_last, ok) -> None:
        """Advance the accepted rows (``ok``: which attempted rows they are; ``None`` for
        all), then test each for its end."""
        def take(a):
            return a if ok is None else a[ok]

        t_old = self.t[acc]
        y_old = self.y[acc] if self.y_eval is not None else None
        f_acc = take(K[-1])
        t_new = np.where(self.t_final - (t_old + h_acc) <= 0, self.t_final, t_old + h_acc)
        if acc.size == len(self.code):
            self.y = y_acc  # a fresh array: take it instead of copying it in
        else:
            self.y[acc] = y_acc
        self.f[acc], self.t[acc] = f_acc, t_new
        self.nsteps[acc] += 1
        fn_old = self.fn[acc]
        fn_new = np.max(np.abs(f_acc), axis=1) if self.n else np.zeros(acc.size)
        self.fn[acc] = fn_new
        if self.y_eval is not None:
            self._dense_output(acc, y_old, y_acc, K if ok is None else K[:, ok], t_old,
                               h_acc, t_new)
        live = ~self._blow_up(acc, y_acc)
        if self.stop:
            conv = live & self.monitor.test(acc, t_old, fn_old, t_new, fn_new, self.tol,
                                            xtol_for(self.xtol, self.atol, self.rtol, y_acc))
            self.code[acc[conv]] = _CONV
            live &= ~conv
        end = live & (t_new >= self.t_final)
        self.code[acc[end]] = _END
        live &= ~end
        over = live & (self.nsteps[acc] >= self.max_steps)
        self.code[acc[over]] = _FAIL
        for r in acc[over]:
            self.messages[int(r)] = f"max_steps={self.max_steps} reached"
        live &= ~over
        if self.stiff != "none":
            s = self.tab.n_stages - 1
            self._stiffness(acc, live, h_acc, y_acc, f_acc, take(g_last), take(K[s]), fn_new,
                            t_new)

    def _dense_output(self, acc, y_old, y_acc, K_acc, t_old, h_acc, t_new) -> None:
        """Record the rows at the requested times passed in this step: the dense output
        polynomial is built once per row and step, then evaluated at each of its times."""
        t_eval, nxt = self.t_eval, self.next_eval
        first = t_eval[np.minimum(nxt[acc], len(t_eval) - 1)]
        rows = np.flatnonzero((nxt[acc] < len(t_eval)) & (first <= t_new))
        if rows.size == 0:
            return
        with np.errstate(over="ignore", invalid="ignore"):
            F = dense_factors(self.tab, self._fun(acc[rows]), y_old[rows], y_acc[rows],
                              K_acc[:, rows], h_acc[rows])
        if self.tab.name == "DOP853":
            self.nfev[acc[rows]] += 3
        own = np.arange(rows.size)
        while True:
            r = acc[rows]
            pending = nxt[r] < len(t_eval)
            te = t_eval[np.minimum(nxt[r], len(t_eval) - 1)]
            due = own[pending & (te <= t_new[rows])]
            if due.size == 0:
                return
            x = (te[due] - t_old[rows[due]]) / h_acc[rows[due]]
            with np.errstate(over="ignore", invalid="ignore"):
                vals = dense_at(self.tab, F[:, due], y_old[rows[due]], x)
            self.y_eval[nxt[r[due]], r[due]] = vals
            nxt[r[due]] += 1

    def _blow_up(self, acc, y_acc) -> np.ndarray:
        """Rows whose state left the ball of radius ``max_norm``: diverged."""
        big = (np.max(np.abs(y_acc), axis=1) > self.max_norm) if self.n \
            else np.zeros(acc.size, bool)
        self.code[acc[big]] = _DIV
        for r in acc[big]:
            self.messages[int(r)] = f"|y| exceeded {self.max_norm:g} at t={self.t[r]:.6g}"
        return big

    def _stiffness(self, acc, live, h_acc, y_acc, f_acc, g, k_last, fn_new, t_new) -> None:
        r"""Hairer's test :math:`h\lambda = h\,\|f(y_{n+1}) - f(g_s)\| / \|y_{n+1} - g_s\|`;
        flag a row for the implicit solver after 15 stiff-looking steps when stepping on
        explicitly would still be long (thousands of remaining steps are cheaper in the batch
        than an implicit solve alone), or when it sits near a fixed point at the stability
        limit of its step size (there an explicit pair can settle into an oscillation of the
        size of the tolerance that never decays, which the implicit solver damps)."""
        den = np.linalg.norm(y_acc - g, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            hlamb = np.where(den > 0, h_acc * np.linalg.norm(f_acc - k_last, axis=1) / den, 0.0)
        hit = hlamb > self.tab.stiff_threshold
        iasti, nonsti = self.iasti, self.nonsti
        iasti[acc] = np.where(hit, iasti[acc] + 1, np.where(nonsti[acc] + 1 >= 6, 0, iasti[acc]))
        nonsti[acc] = np.where(hit, 0, nonsti[acc] + 1)
        remaining_steps = (self.t_final - t_new) / np.maximum(self.h[acc], 1e-300)
        ynorm = np.max(np.abs(y_acc), axis=1) if self.n else np.zeros(acc.size)
        stalled = self.stop & ((fn_new <= self.tol)
                               | (fn_new * h_acc <= 100 * (self.atol + self.rtol * ynorm)))
        flagged = live & (iasti[acc] >= 15) & ((remaining_steps > _STIFF_HANDOFF_STEPS) | stalled)
        self.code[acc[flagged]] = _STIFF

    def abandon(self, message: str) -> None:
        """End every row still running (or waiting for the stiff solver) as failed."""
        rows = np.flatnonzero((self.code == _RUN) | (self.code == _STIFF))
        self.code[rows] = _FAIL
        self.messages.update(dict.fromkeys(map(int, rows), message))

    def finish_stiff_rows(self, check: Callable[[], None] | None = None) -> None:
        """Finish each row flagged stiff alone with the implicit solver (``check`` is
        called before each: it raises to abandon the batch)."""
        self.stiff_rows = np.flatnonzero(self.code == _STIFF)
        t_eval, y_eval = self.t_eval, self.y_eval
        for r in self.stiff_rows:
            if check is not None:
                check()
            t_rest = t_eval[t_eval > self.t[r]] if y_eval is not None else None
            out = solve_one(self.rhs.row(int(r)), float(self.t[r]), self.y[r].copy(),
                            self.t_final, method=self.stiff, rtol=self.rtol, atol=self.atol,
                            tol=self.tol, xtol=self.xtol, max_norm=self.max_norm,
                            t_eval=t_rest, stop=self.stop, max_steps=self.max_steps,
                            progress=None)
            if y_eval is not None and len(out["t"]):
                k0 = int(np.searchsorted(t_eval, out["t"][0]))
                y_eval[k0:k0 + len(out["t"]), r] = out["y"]
                self.next_eval[r] = k0 + len(out["t"])
            self.t[r], self.y[r] = out["t_final"], out["y_final"]
            self.nfev[r] += out["nfev"]
            self.nsteps[r] += out["nsteps"]
            self.code[r] = {"converged": _CONV, "running": _END,
                            "diverged": _DIV}.get(out["status"], _FAIL)
            self.messages[int(r)] = f"stiff: {out['message']}"

    def result(self, state, method: str) -> BatchResult:
        """The rows as a :class:`BatchResult`; converged rows are held at their end state in
        ``y_eval`` after they stop."""
        if self.y_eval is not None:
            for r in np.flatnonzero(self.code == _CONV):
                self.y_eval[self.next_eval[r]:, r] = self.y[r]
        status = _NAMES[self.code]
        stiff_mask = np.zeros(len(status), dtype=bool)
        stiff_mask[self.stiff_rows] = True
        name = method + (f" (stiff rows: {self.stiff})" if stiff_mask.any() else "")
        message = summary(status, self.t_final)
        abandoned = sum(m == BUDGET_MESSAGE for m in self.messages.values())
        if abandoned:
            message += f"; {abandoned} rows failed: {BUDGET_MESSAGE}"
        return BatchResult(t=self.t.copy(), y=self.y, status=status,
                           message=message, method=name,
                           nfev=self.nfev, nsteps=self.nsteps, stiff=stiff_mask,
                           t_eval=self.t_eval, y_eval=self.y_eval, state=state)
