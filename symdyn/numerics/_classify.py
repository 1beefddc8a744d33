r"""Where trajectories end: every row of an integration classified as ``converged``,
``periodic``, ``diverged`` or ``undecided``.

* **converged**: the integrator's convergence test passed (see :mod:`symdyn.numerics`). For a
  linear network with known moments the row also gets its *excess loss*
  :math:`\tfrac12\operatorname{tr}\big((P - P^*)\Sigma_{II}(P - P^*)^T\big)`,
  :math:`P = A_L\cdots A_1`, :math:`P^* = \Sigma_{TI}\Sigma_{II}^{-1}`, and the fixed-point
  set it reached: ``"minimum"`` (excess below ``loss_tol``) or ``"critical"`` (another set of
  fixed points, e.g. a saddle set).
* **diverged**: blow-up; ``t_end`` is the time it was detected (the state left the ball of
  ``max_norm`` or the step size collapsed as it grew).
* **periodic**: detected from the trajectory itself. Rows still moving at ``t_final`` are
  followed over a tail window, sampled densely; the Poincaré section is the hyperplane through
  the tail's mean point normal to its principal axis, and the upward crossings
  :math:`x_1, x_2, \dots` (located by quadratic interpolation) are compared: the row is
  periodic with :math:`p` crossings per period when :math:`|x_{k+p} - x_k| \le` ``xtol``
  times the orbit's size for every :math:`k` and the return times :math:`\tau_{k+p} -
  \tau_k` agree to ``ptol``, over at least ``returns`` periods. ``period`` is their median,
  ``amplitude`` half the largest peak-to-peak range of a component over the tail.
* **undecided**: anything else, with the reason (``"failed"`` rows, a horizon too short for
  enough returns, returns that do not repeat, a row still creeping).

A detected periodic row may be *certified* (:func:`~symdyn.numerics._certify.certify_periodic`)
when first integrals are given: see there."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import SpecError, require_system
from ._binding import System, _matrix_value
from ._results import BatchResult, IntegrationResult
from ._rhs import numeric

__all__ = ["CLASSES", "ROUTES", "Classification", "classify", "detect_period", "excess_loss",
           "section_crossings"]

#: The end states, in the order used for codes in stores (index = code).
CLASSES = ("converged", "periodic", "diverged", "undecided")
#: What decided a row: the integrator's own test (convergence, blow-up), the returns of the
#: trajectory to a Poincaré section (both within the time horizon), or the row's level curve
#: (no horizon).
ROUTES = ("integrator", "returns", "level curve")
#: the most memory the dense samples of one follow-up integration may take
_SAMPLE_BYTES = 64 * 2**20


@dataclass(frozen=True, eq=False)
class Classification:
    """One entry per row. ``end``: one of :data:`CLASSES`; ``endpoint``: for converged rows
    ``"minimum"``/``"critical"`` (``""`` when no loss is known or the row did not converge);
    ``loss``: excess loss at the end state (NaN if unknown); ``t_end``: convergence or
    blow-up time, else the last time integrated; ``period``, ``amplitude``: periodic rows
    (NaN otherwise); ``certified``: periodic rows whose orbit was certified closed;
    ``reason``: why a row is undecided, or what the certificate found; ``route``: what
    decided the row, one of :data:`ROUTES` (``""`` for undecided rows); ``y_end``: the last
    state reached."""

    end: np.ndarray
    endpoint: np.ndarray
    loss: np.ndarray
    t_end: np.ndarray
    period: np.ndarray
    amplitude: np.ndarray
    certified: np.ndarray
    reason: np.ndarray
    y_end: np.ndarray
    route: np.ndarray | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Rows per end state (certified periodic rows counted also as ``certified``)."""
        out = {c: int(np.sum(self.end == c)) for c in CLASSES if np.any(self.end == c)}
        if np.any(self.certified):
            out["certified"] = int(np.sum(self.certified))
        return out

    def __len__(self) -> int:
        return len(self.end)

    def __repr__(self) -> str:
        return f"<Classification {len(self)} rows: {self.counts}>"


# -- the fixed-point set of converged rows ---------------------------------------------------


def excess_loss(system: System, Y: np.ndarray, values: Mapping | None = None) -> np.ndarray:
    r"""Excess loss of the network map at each row of ``Y`` over the least-squares optimum,
    for linear networks whose moments are known (numbers in ``values`` or in the data);
    NaN otherwise."""
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    nan = np.full(len(Y), np.nan)
    net = system.network
    if not net.is_linear:
        return nan
    moments = _moments(system, dict(values or {}))
    if moments is None:
        return nan
    Sii, Sti = moments
    try:
        Pstar = np.linalg.solve(Sii.T, Sti.T).T
    except np.linalg.LinAlgError:
        return nan
    P = _product(system, Y)
    D = P - Pstar
    return 0.5 * np.einsum("bij,jk,bik->b", D, Sii, D)


def _moments(system: System, values: dict):
    by_name = {getattr(m, "name", str(m)): m for m in system.matrix.parameters}
    known = {getattr(k, "name", str(k)): np.asarray(v, float)
             for k, v in (system.matrix.values or {}).items()}
    out = []
    for name in ("Sigma_II", "Sigma_TI"):
        if name in known:
            out.append(known[name])
            continue
        m = by_name.get(name)
        if m is None:
            return None
        try:
            arr = _matrix_value(system, m, values, set())
        except SpecError:
            return None
        if arr is None or arr.ndim != 2:
            return None
        out.append(arr)
    return tuple(out)


def _product(system: System, Y: np.ndarray) -> np.ndarray:
    """:math:`P = A_L \\cdots A_1` per row, from the row-major blocks of the state."""
    sizes, B = system.network.sizes, len(Y)
    P, offset = None, 0
    for h in range(len(sizes) - 1):
        r, c = sizes[h + 1], sizes[h]
        A = Y[:, offset:offset + r * c].reshape(B, r, c)
        offset += r * c
        P = A if P is None else A @ P
    return P


# -- periodic orbits from the trajectory -----------------------------------------------------


def section_crossings(t: np.ndarray, Y: np.ndarray, point=None, normal=None):
    """Upward crossings of the hyperplane through ``point`` normal to ``normal`` by the
    sampled trajectory ``Y`` (k, n) at times ``t``: crossing times and points, each placed by
    quadratic interpolation through three samples. Defaults: the mean point, the principal
    axis (sign fixed so that its largest component is positive)."""
    Y = np.asarray(Y, float)
    if point is None:
        point = Y.mean(axis=0)
    if normal is None:
        _, _, Vt = np.linalg.svd(Y - point, full_matrices=False)
        normal = Vt[0] * np.sign(Vt[0][np.argmax(np.abs(Vt[0]))])
    s = (Y - point) @ normal
    i = np.flatnonzero((s[:-1] < 0) & (s[1:] >= 0))
    i = i[(i >= 1) & (i + 1 < len(s))]
    if not i.size:
        return np.zeros(0), np.zeros((0, Y.shape[1])), point, normal
    # three samples per crossing: the step before or the step after, whichever is shorter in
    # s (the last crossing can only look back); all crossings at once
    J = np.where((s[i + 1] - s[i] < s[i] - s[i - 1]) | (i + 2 >= len(s)), i - 1, i)
    J = J[:, None] + np.arange(3)
    dt = t[i + 1] - t[i]
    x, sj = (t[J] - t[i][:, None]) / dt[:, None], s[J]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # the interpolating quadratic a u^2 + b u + c (Newton's divided differences)
        d1 = (sj[:, 1] - sj[:, 0]) / (x[:, 1] - x[:, 0])
        a = ((sj[:, 2] - sj[:, 1]) / (x[:, 2] - x[:, 1]) - d1) / (x[:, 2] - x[:, 0])
        b = d1 - a * (x[:, 0] + x[:, 1])
        c = sj[:, 0] - d1 * x[:, 0] + a * x[:, 0] * x[:, 1]
        u_lin = -s[i] / (s[i + 1] - s[i])
        disc = b * b - 4 * a * c
        q = -0.5 * (b + np.copysign(np.sqrt(np.maximum(disc, 0.0)), b))
        quad = np.abs(a) > 1e-14 * np.maximum(np.abs(b), 1e-300)
        roots = np.where(quad[:, None], np.c_[q / a, c / q], np.c_[-c / b, -c / b])
        ok = (roots >= -1e-9) & (roots <= 1 + 1e-9) & ~(quad & (disc < 0))[:, None]
        # a root in the step (the one nearer the secant's, if both are), else the secant's
        pick = np.where(ok, np.abs(roots - u_lin[:, None]), np.inf)
        u = np.where(ok.any(axis=1), roots[np.arange(len(i)), np.argmin(pick, axis=1)], u_lin)
    L = np.ones((len(i), 3))  # Lagrange weights of the three samples at u
    for k in range(3):
        for m in range(3):
            if m != k:
                L[:, k] *= (u - x[:, m]) / (x[:, k] - x[:, m])
    return t[i] + u * dt, np.einsum("mk,mkn->mn", L, Y[J]), point, normal


def detect_period(t: np.ndarray, Y: np.ndarray, *, returns: int = 3, xtol: float = 1e-3,
                  ptol: float = 1e-3, max_crossings: int = 4):
    """``(period, amplitude, reason)`` of a sampled trajectory: a period when the returns
    to the Poincaré section repeat (see the module docstring), else NaN and the reason."""
    Y = np.asarray(Y, float)
    amplitude = float(np.max(np.ptp(Y, axis=0)) / 2) if len(Y) else np.nan
    if not np.all(np.isfinite(Y)) or amplitude == 0:
        return np.nan, amplitude, "not moving" if amplitude == 0 else "non-finite samples"
    times, pts, _, _ = section_crossings(t, Y)
    size = 2 * amplitude
    for p in range(1, max_crossings + 1):
        if len(times) < p * returns + 1:
            if p > 1:
                break
            return np.nan, amplitude, (f"{len(times)} section crossings in a window of "
                                       f"{t[-1] - t[0]:g}: horizon too short for {returns} "
                                       "returns")
        gaps = np.linalg.norm(pts[p:] - pts[:-p], axis=1)
        periods = times[p:] - times[:-p]
        T = float(np.median(periods))
        if np.all(gaps <= xtol * size) and np.all(np.abs(periods - T) <= ptol * T):
            return T, amplitude, ""
    return np.nan, amplitude, (f"returns to the section do not repeat (with up to "
                               f"{max_crossings} crossings per period): not periodic within "
                               f"xtol={xtol:g}, or still drifting")


# -- classification --------------------------------------------------------------------------


def classify(system: System, result: BatchResult | IntegrationResult,
             values: Mapping | None = None, *, tail: float | None = None, samples: int = 200,
             fine: int = 4000,
             returns: int = 3, xtol: float = 1e-3, ptol: float = 1e-3,
             loss_tol: float = 1e-6, laws: Sequence | None = None, certify: int = 0,
             rtol: float = 1e-10, atol: float = 1e-12, backend: str = "auto",
             decide: int | None = None) -> Classification:
    """Classify where each row of ``result`` (a batch, or one trajectory) ends.

    Rows still running are followed for ``tail`` more time units (default: as long as they
    ran), sampled at ``samples`` points; those still moving get a time scale
    (:func:`_follow`) and are followed again, grouped by it, over about 40 time scales
    (at most ``4 * tail``) at ``fine`` points, and tested for periodicity (module
    docstring); rows whose time scale exceeds a ``returns + 1``-th of the tail are left
    undecided as still creeping.
    ``certify``: how many detected periodic rows to certify with the first integrals
    ``laws`` (sympy expressions in the state; e.g. ``invariants(system, generators=True)``).
    ``backend``: of the follow-up integrations (:func:`~symdyn.integrate_batch`).
    With ``laws``, rows the trajectory left undecided (creeping, returns that do not repeat,
    a horizon too short, an integration that failed) are decided by their level curve, all at
    once
    (:func:`~symdyn.numerics._level_batch.follow_level_curves`; ``decide``: at most this
    many rows, default all): ``periodic`` (certified, the period the curve's), or ``converged``
    to the equilibrium where the curve stalls (``loss`` and ``endpoint`` at that limit, not
    reached by ``t_end``; ``y_end`` stays the last state integrated), with the reason;
    ``route``: which of :data:`ROUTES` decided each row."""
    require_system(system, "classify: system", values)
    Y0, t, status, y_end, messages = _rows(result)
    B, n = y_end.shape
    end = np.full(B, "undecided", dtype=object)
    reason = np.full(B, "", dtype=object)
    period, amplitude = np.full(B, np.nan), np.full(B, np.nan)
    t_end = t.astype(float).copy()
    end[status == "converged"] = "converged"
    end[status == "diverged"] = "diverged"
    route = np.where(np.isin(status, ("converged", "diverged")), "integrator", "").astype(object)
    for i in np.flatnonzero(status == "failed"):
        reason[i] = f"integration failed: {messages[i]}" if messages[i] else "integration failed"
    run = np.flatnonzero(status == "running")
    if run.size:
        horizon = float(tail) if tail is not None else float(np.max(t[run]))
        if not np.isfinite(horizon) or horizon <= 0:
            raise SpecError(f"tail must be a positive number, got {tail!r}")
        ends = (end, reason, t_end, y_end, backend, route)
        # pass 1: follow over the tail; rows still moving get a time scale
        moving, scales = _follow(system, values, run, horizon, samples, ends, rtol, atol,
                                 returns)
        # pass 2: rows grouped by time scale, each group sampled ~100 times per time scale
        # over ~40 of them (at most 4 tails): detection sees every return. A group's window
        # is a function of the group alone (not of the rows in it), so that a row's verdict
        # does not depend on the other rows of its batch; groups are integrated in parts of
        # bounded memory.
        groups = np.round(np.log2(np.maximum(np.minimum(40 * scales, 4 * horizon),
                                             1e-300))).astype(int)
        part = max(1, _SAMPLE_BYTES // (8 * int(fine) * max(n, 1)))
        for g in np.unique(groups):
            for lo in range(0, int(np.sum(groups == g)), part):
                rows = moving[groups == g][lo:lo + part]
                te, yev = _sampled(system, values, rows,
                                   float(min(2.0 ** (g + 0.5), 4 * horizon)), fine, ends,
                                   rtol, atol)
                _detect_rows(rows, te, yev, (end, reason, period, amplitude, route),
                             dict(returns=returns, xtol=xtol, ptol=ptol))
    certified = np.zeros(B, dtype=bool)
    limits = {}
    if laws is not None and decide != 0:
        limits = _decide(system, values, laws, (end, reason, period, certified, route),
                         decide, rtol, atol, y_end)
    loss, endpoint = _endpoints(system, values, end, y_end, limits, loss_tol)
    if certify and laws is not None:
        from ._certify import certify_periodic

        for i in np.flatnonzero((end == "periodic") & ~certified)[:int(certify)]:
            cert = certify_periodic(system, y_end[i], values, laws=laws, rtol=rtol, atol=atol,
                                    length=50 * amplitude[i] * max(1.0, period[i]))
            certified[i] = cert.certified and abs(cert.period - period[i]) <= 1e-2 * period[i]
            reason[i] = cert.message
    return Classification(end=end.astype(str), endpoint=endpoint.astype(str), loss=loss,
                          t_end=t_end, period=period, amplitude=amplitude, certified=certified,
                          reason=reason.astype(str), y_end=y_end, route=route.astype(str))


def _detect_rows(rows, te, yev, out, options) -> None:
    """Periods of the sampled ``rows`` still undecided (:func:`detect_period`) into ``out``
    = (end, reason, period, amplitude, route)."""
    end, reason, period, amplitude, route = out
    for k, i in enumerate(rows):
        if end[i] != "undecided" or reason[i]:
            continue
        T, amp, why = detect_period(te, yev[:, k], **options)
        amplitude[i] = amp
        if np.isfinite(T):
            end[i], period[i], route[i] = "periodic", T, "returns"
        else:
            reason[i] = why


def _endpoints(system, values, end, y_end, limits, loss_tol):
    """Excess loss and fixed-point set of converged rows, at their limit where a level
    curve gave one, else at their end state."""
    loss = np.full(len(end), np.nan)
    endpoint = np.full(len(end), "", dtype=object)
    conv = end == "converged"
    if conv.any():
        at = y_end.copy()
        for i, point in limits.items():
            at[i] = point
        loss[conv] = excess_loss(system, at[conv], values)
        known = conv & np.isfinite(loss)
        endpoint[known] = np.where(loss[known] <= loss_tol, "minimum", "critical")
    return loss, endpoint


def _decide(system, values, laws, out, decide, rtol, atol, y_end) -> dict:
    """Undecided rows classified by their level curves, all at once
    (:func:`~symdyn.numerics._level_batch.follow_level_curves`), in place in ``out`` =
    (end, reason, period, certified, route); returns the limit point of each row found
    converging. Rows whose integration failed are traced from the last state it reached:
    the level curve through it is the orbit's, whatever stopped the integrator (a step limit
    spent on ten thousand fast turns of a closed orbit, say)."""
    from ._level_batch import follow_level_curves

    end, reason, period, certified, route = out
    rows = [i for i in np.flatnonzero(end == "undecided")
            if np.all(np.isfinite(y_end[i]))][:decide]
    limits = {}
    if not rows:
        return limits
    curves = follow_level_curves(system, y_end[rows], values, laws=laws, rtol=rtol, atol=atol)
    for i, lc in zip(rows, curves, strict=True):
        failed = str(reason[i]).startswith("integration")
        if lc.outcome == "periodic":
            end[i], period[i], certified[i] = "periodic", lc.period, True
            reason[i] = (f"decided by its level curve, certified: {lc.message}"
                         + (f" (trajectory: {reason[i]})" if failed else ""))
        elif lc.outcome in ("converges", "equilibrium"):
            end[i] = "converged"
            limits[i] = lc.point
            reason[i] = f"decided by its level curve: {lc.message} (trajectory: {reason[i]})"
        else:
            reason[i] = f"{reason[i]}; its level curve: {lc.message}"
            continue
        route[i] = "level curve"
    return limits


def _sampled(system, values, rows, horizon, samples, ends, rtol, atol):
    """Integrate ``rows`` on from their last state for ``horizon``, sampled at ``samples``
    points; rows that converge, diverge or fail there are classified in ``ends``."""
    from ._batch import integrate_batch

    end, reason, t_end, y_end, backend, route = ends
    te = np.linspace(0.0, horizon, int(samples))
    r = integrate_batch(system, y_end[rows], horizon, values, rtol=rtol, atol=atol,
                        t_eval=te, stop_on_convergence=True, backend=backend)
    for k, i in enumerate(rows):
        y_end[i] = r.y[k]
        t_end[i] += r.t[k]
        if r.status[k] in ("converged", "diverged"):
            end[i], route[i] = r.status[k], "integrator"
        elif r.status[k] == "failed":
            reason[i] = "integration of the tail failed"
    return te, r.y_eval


def _follow(system, values, rows, horizon, samples, ends, rtol, atol, returns):
    r"""Pass 1 over the tail: the rows still moving, and for each a time scale
    :math:`\pi \max_i \mathrm{ptp}(y_i) / \bar v` (the period of a round orbit of that size at
    the time-averaged speed :math:`\bar v = \overline{|f(y)|}` over the samples, which
    aliasing does not bias)."""
    end, reason = ends[0], ends[1]
    te, yev = _sampled(system, values, rows, horizon, samples, ends, rtol, atol)
    f = numeric(system, values)
    moving, scales = [], []
    for k, i in enumerate(rows):
        if end[i] != "undecided" or reason[i]:
            continue
        Y = yev[:, k]
        fk = f.row(int(i)) if f.batch is not None else f
        speed = float(np.mean(np.linalg.norm(fk(0.0, Y), axis=1)))  # time-average speed
        size = float(np.max(np.ptp(Y, axis=0)))
        if not np.isfinite(speed) or speed == 0 or size == 0:
            reason[i] = "not moving, yet not converged"
            continue
        scale = np.pi * size / speed
        if scale > horizon / (returns + 1):
            reason[i] = (f"still creeping: time scale pi max ptp(y)/mean|f| = {scale:.3g} is "
                         f"over a {returns + 1}th of the tail {horizon:g} (|f| = "
                         f"{speed:.2g}); integrate longer")
            continue
        moving.append(i)
        scales.append(scale)
    return np.array(moving, dtype=int), np.array(scales)


def _rows(result):
    """``(Y0, t, status, y_end, messages)`` of a batch or of one trajectory."""
    if isinstance(result, IntegrationResult):
        y = np.asarray(result.y_final, float)[None, :]
        return (None, np.array([result.t_final]), np.array([result.status]), y.copy(),
                [result.message])
    if isinstance(result, BatchResult):
        msgs = [""] * len(result)
        return None, np.asarray(result.t), np.asarray(result.status), \
            np.array(result.y, float, copy=True), msgs
    raise SpecError(f"classify needs a BatchResult or an IntegrationResult, got "
                    f"{type(result).__name__}")
