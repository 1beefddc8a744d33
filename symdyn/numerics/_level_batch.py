r"""Level curves of many starts at once: :func:`~symdyn.numerics.follow_level_curve`
vectorised over rows, for sweeps.

The same classification as :func:`~symdyn.numerics.follow_level_curve` (see
:mod:`symdyn.numerics._certify`): each start's level curve of :math:`n-1` first integrals is
traced by arc length in the direction of the flow, along the unit tangent :math:`v/|v|`
(:math:`v` the generalised cross product of the laws' gradients), until it closes
(``periodic``, period :math:`\oint ds/\varphi` by a second pass), the flow's speed along it
:math:`\varphi = f\cdot v/|v|` vanishes ahead (``converges`` to the equilibrium there,
``regular`` or ``singular`` as the laws' gradients stay independent or not), it leaves the
ball (``unbounded``), or its budget ends (``undecided``). Every row advances with its own
adaptive Dormand-Prince 5(4) step (scipy's RK45 tableau and its dense output), all rows in
one numpy pass per stage, so a chunk of a sweep costs milliseconds per row instead of the
per-row solver's tenths of a second.

Two differences from the per-row tracer, both scale-free where it uses absolute numbers:
the flow's speed is judged *relative* to the largest speed met along the same curve (a
stall is :math:`\varphi \le` ``speed_tol`` :math:`\max\varphi`, and a start is an
equilibrium only where :math:`f = 0` exactly), so a small start whose speed is tiny
everywhere (deep chains at initial scale 0.02: :math:`|f| \sim 10^{-9}`) is traced, not
taken for an equilibrium; and a regular stall is placed where :math:`\varphi` changes sign
(bisection on the dense output), not where it falls to a threshold. The budget is in model
terms only (arc length ``length``, steps ``max_steps`` per row): a verdict never depends on
the clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import sympy as sp
from scipy.integrate._ivp.rk import RK45

from ._binding import System
from ._certify import _SINGULAR, LevelCurve, independent_laws, laws_jacobian
from ._rhs import numeric

__all__ = ["follow_level_curves"]

_A, _B, _C, _E, _P = RK45.A, RK45.B, RK45.C, RK45.E, RK45.P


class _Field:
    """The laws' gradients, their cross product and the flow, for a batch of states."""

    def __init__(self, system: System, laws: Sequence, values: Mapping | None):
        state, J = laws_jacobian(system, laws, values)
        self.m, self.n = J.shape
        self.entries = [(i, j, sp.lambdify(state, J[i, j], "numpy"))
                        for i in range(self.m) for j in range(self.n) if J[i, j] != 0]
        self.f = numeric(system, values)
        self.keep = np.arange(self.m)

    def grad(self, Y: np.ndarray) -> np.ndarray:
        G = np.zeros((len(Y), self.m, self.n))
        cols = Y.T
        for i, j, fn in self.entries:
            G[:, i, j] = fn(*cols)
        return G[:, self.keep]

    def tangent(self, Y: np.ndarray, w: np.ndarray | None = None):
        r""":math:`v` and the gradients at each row of ``Y``: the signed maximal minors of
        :math:`G`; or, given ``w`` (per row, not in the span of the gradients: the last
        tangent), from one solve, :math:`v = (-1)^{n-1}\det M\, M^{-1} e_n` with
        :math:`M = \binom{G}{w}` (cofactors of its last row), n times cheaper."""
        G = self.grad(Y)
        n = self.n
        if w is not None:
            M = np.concatenate([G, w[:, None, :]], axis=1)
            e = np.zeros((len(Y), n, 1))
            e[:, -1] = 1.0
            with np.errstate(all="ignore"):
                x = np.linalg.solve(M, e)[..., 0]
            v = (-1.0) ** (n - 1) * np.linalg.det(M)[:, None] * x
            if np.all(np.isfinite(v)):
                return v, G
        idx = np.array([[j for j in range(n) if j != i] for i in range(n)])
        minors = np.moveaxis(G[:, :, idx], 2, 1)  # (B, n, n-1, n-1)
        signs = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
        return signs * np.linalg.det(minors), G

    def eval(self, Y: np.ndarray, orient: np.ndarray, w: np.ndarray | None = None):
        """Unit tangent (oriented), :math:`|v|` and :math:`\\varphi` at each row."""
        v, _ = self.tangent(Y, w)
        v *= orient[:, None]
        nv = np.linalg.norm(v, axis=1)
        fy = np.asarray(self.f(0.0, Y), float).reshape(Y.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            u = np.where(nv[:, None] > 0, v / nv[:, None], 0.0)
            phi = np.where(nv > 0, np.einsum("bi,bi->b", fy, v) / nv, 0.0)
        return u, nv, phi

    def independence(self, Y: np.ndarray, largest: np.ndarray) -> np.ndarray:
        """As ``_Tracer.independence``, per row."""
        v, G = self.tangent(Y)
        nv = np.linalg.norm(v, axis=1)
        norms = np.prod(np.linalg.norm(G, axis=2), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(norms > 0, nv / norms, 0.0)
            rel = np.where(largest > 0, nv / largest, 1.0)
        return np.minimum(ratio, rel)


def _dense(y, K, h, x):
    """The RK45 dense output at fraction ``x`` (per row) of the step from ``y``."""
    X = np.stack([x, x ** 2, x ** 3, x ** 4], axis=1)  # (B, 4)
    Q = np.einsum("bsn,sk->bkn", K, _P)  # (B, 4, n)
    return y + h[:, None] * np.einsum("bk,bkn->bn", X, Q)


def _step(fun, y, k0, h, rtol, atol):
    """One Dormand-Prince 5(4) attempt per row: new state, stages, error norm; ``fun``
    returns the derivative first."""
    B, n = y.shape
    K = np.empty((B, 7, n))
    K[:, 0] = k0
    extra = None
    for s in range(1, 6):
        ys = y + h[:, None] * np.einsum("bsn,s->bn", K[:, :s], _A[s, :s])
        K[:, s] = fun(ys)[0]
    y_new = y + h[:, None] * np.einsum("bsn,s->bn", K[:, :6], _B)
    out = fun(y_new)
    K[:, 6], extra = out[0], out
    err = h[:, None] * np.einsum("bsn,s->bn", K, _E)
    scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
    norm = np.sqrt(np.mean((err / scale) ** 2, axis=1))
    return y_new, K, norm, extra


def _adapt(h, norm, accepted):
    with np.errstate(divide="ignore"):
        factor = np.where(norm == 0, 10.0, 0.9 * norm ** -0.2)
    return h * np.where(accepted, np.clip(factor, 0.2, 10.0), np.clip(factor, 0.2, 1.0))


def _locate(g, lo_val, rows, iters=36):
    """Per row, the fraction in [0, 1] of a step where ``g(rows, x)`` changes sign (its value
    at 0 has the sign of ``lo_val``), by bisection."""
    lo, hi = np.zeros(len(rows)), np.ones(len(rows))
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        same = np.sign(g(rows, mid)) == np.sign(lo_val)
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    return hi


class _Rows:
    """The per-row state of a batch of level curves being traced."""

    def __init__(self, field, Y0, orient, u0, nv0, phi0, length, radius, close):
        B, n = Y0.shape
        self.field, self.y0, self.orient = field, Y0, orient
        self.y, self.s, self.k = Y0.copy(), np.zeros(B), u0
        scale = 1.0 + np.linalg.norm(Y0, axis=1)
        self.h = 1e-2 * scale
        self.v0n, self.s_min, self.close = u0.copy(), 1e-3 * scale, close * scale
        self.length = 200 * scale if length is None else np.full(B, float(length))
        self.radius = 100 * scale if radius is None else np.full(B, float(radius))
        self.phi, self.phimax, self.minphi = phi0, phi0.copy(), phi0.copy()
        self.nv, self.largest = nv0, nv0.copy()
        self.steps = np.zeros(B, dtype=int)
        self.active = np.ones(B, dtype=bool)
        self.outcome = np.full(B, "", dtype=object)
        self.point, self.s_end = Y0.copy(), np.zeros(B)
        self.why = np.full(B, "", dtype=object)

    def end(self, rows, outcome, points, s_end, why=""):
        self.active[rows] = False
        self.outcome[rows] = outcome
        self.point[rows] = points
        self.s_end[rows] = s_end
        self.why[rows] = why


def _trace(R: _Rows, rtol, atol, speed_tol, max_steps) -> None:
    """Advance every active row until its curve closes, stalls, escapes or its budget ends."""
    field = R.field
    while R.active.any():
        a = np.flatnonzero(R.active)
        h = np.minimum(R.h[a], R.length[a] - R.s[a])
        orient = R.orient[a]
        fun = lambda Y, o=orient, w=R.k[a]: field.eval(Y, o, w)  # noqa: E731
        with np.errstate(all="ignore"):
            y_new, K, norm, (u_new, nv_new, phi_new) = _step(fun, R.y[a], R.k[a], h, rtol,
                                                             atol)
        ok = np.isfinite(norm) & np.all(np.isfinite(y_new), axis=1)
        acc = ok & (norm <= 1.0)
        R.h[a] = _adapt(h, np.where(ok, norm, np.inf), acc)
        R.steps[a] += 1
        tiny = R.h[a] < 1e-13 * (1.0 + R.s[a])
        over = R.steps[a] >= max_steps
        r, acc_i = a[acc], np.flatnonzero(acc)
        if r.size:
            _accepted(R, r, (y_new[acc_i], K[acc_i], h[acc_i], u_new[acc_i], nv_new[acc_i],
                             phi_new[acc_i]), speed_tol)
        left = a[(tiny | over) & R.active[a]]
        if left.size:
            why = np.where(over[(tiny | over) & R.active[a]],
                           f"its budget of {max_steps} steps ended", "the step size collapsed")
            for i, w in zip(left, why, strict=True):
                R.end([i], "undecided", R.y[i][None], R.s[i], str(w))


def _accepted(R: _Rows, r, step, speed_tol) -> None:
    """Events of the accepted steps of rows ``r`` (closure, stall, escape, the end of the arc
    length), then the rows advance."""
    y_new, K, h, u_new, nv_new, phi_new = step
    y_old, s_old = R.y[r], R.s[r]
    s_new = s_old + h
    g_old = np.einsum("bi,bi->b", y_old - R.y0[r], R.v0n[r])
    g_new = np.einsum("bi,bi->b", y_new - R.y0[r], R.v0n[r])
    done = np.zeros(len(r), dtype=bool)
    # closure: the normal plane at the start crossed upward, within close of the start
    cross = np.flatnonzero((s_new > R.s_min[r]) & (g_old < 0) & (g_new >= 0))
    if cross.size:
        y0c, nc = R.y0[r[cross]], R.v0n[r[cross]]

        def g(rows, x):
            return np.einsum("bi,bi->b", _dense(y_old[rows], K[rows], h[rows], x) - y0c, nc)

        x = _locate(g, g_old[cross], cross)
        p = _dense(y_old[cross], K[cross], h[cross], x)
        hit = np.linalg.norm(p - y0c, axis=1) <= R.close[r[cross]]
        for k in np.flatnonzero(hit):
            i = cross[k]
            R.end([r[i]], "periodic", p[k][None], s_old[i] + x[k] * h[i])
            done[i] = True
    stall = ~done & ((phi_new <= speed_tol * R.phimax[r]) | (nv_new <= speed_tol * R.largest[r]))
    if stall.any():
        _stalled(R, r, np.flatnonzero(stall), (y_old, K, h, s_old, phi_new, y_new))
        done |= stall
    esc = ~done & (np.linalg.norm(y_new, axis=1) > R.radius[r])
    for i in np.flatnonzero(esc):
        R.end([r[i]], "unbounded", y_new[i][None], s_new[i])
    done |= esc
    go = ~done
    g_ = r[go]
    R.y[g_], R.s[g_], R.k[g_] = y_new[go], s_new[go], u_new[go]
    R.phi[g_], R.nv[g_] = phi_new[go], nv_new[go]
    R.phimax[g_] = np.maximum(R.phimax[g_], phi_new[go])
    R.minphi[g_] = np.minimum(R.minphi[g_], phi_new[go])
    R.largest[g_] = np.maximum(R.largest[g_], nv_new[go])
    end = g_[R.s[g_] >= R.length[g_] * (1 - 1e-12)]
    for i in end:
        R.end([i], "undecided", R.y[i][None], R.s[i],
              f"neither closed nor stalled within arc length {R.length[i]:.4g}")


def _stalled(R: _Rows, r, idx, step) -> None:
    """Rows whose flow speed along the curve fell to the stall threshold in this step: the
    point where it changes sign (bisection), or the step's end; regular or singular."""
    y_old, K, h, s_old, phi_new, y_new = step
    field = R.field
    x = np.ones(len(idx))
    neg = np.flatnonzero(phi_new[idx] < 0)
    if neg.size:
        rows = idx[neg]

        def g(sub, xx):
            Y = _dense(y_old[rows[sub]], K[rows[sub]], h[rows[sub]], xx)
            return field.eval(Y, R.orient[r[rows[sub]]], K[rows[sub], 0])[2]

        x[neg] = _locate(g, np.ones(neg.size), np.arange(neg.size))
    p = _dense(y_old[idx], K[idx], h[idx], x)
    ii = r[idx]
    R.minphi[ii] = np.minimum(R.minphi[ii], np.maximum(phi_new[idx], 0.0))
    ind = field.independence(p, R.largest[ii])
    for k, i in enumerate(ii):
        R.end([i], "converges", p[k][None], s_old[idx[k]] + x[k] * h[idx[k]],
              "singular" if ind[k] <= _SINGULAR else "regular")


def _periods(R: _Rows, rows, rtol, atol, max_steps) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`T = \oint ds/\varphi` over the closed curves of ``rows`` (a second pass with
    the time as an extra component), and the smallest :math:`\varphi` met on the way."""
    field, n = R.field, R.y.shape[1]
    Z = np.concatenate([R.y0[rows], np.zeros((len(rows), 1))], axis=1)
    s, s_end = np.zeros(len(rows)), R.s_end[rows]
    h = np.minimum(1e-2 * (1 + np.linalg.norm(R.y0[rows], axis=1)), s_end)
    minphi = np.full(len(rows), np.inf)
    T = np.full(len(rows), np.nan)

    def fun(Zb, o, w=None):
        u, nv, phi = field.eval(Zb[:, :n], o, w)
        with np.errstate(divide="ignore"):
            return np.concatenate([u, (1.0 / phi)[:, None]], axis=1), phi

    k = fun(Z, R.orient[rows])[0]
    active, steps = np.ones(len(rows), dtype=bool), 0
    while active.any() and steps < max_steps:
        a = np.flatnonzero(active)
        ha = np.minimum(h[a], s_end[a] - s[a])
        stage = lambda Zb, o=R.orient[rows[a]], w=k[a, :n]: fun(Zb, o, w)  # noqa: E731
        with np.errstate(all="ignore"):
            z_new, _, norm, (k_new, phi_new) = _step(stage, Z[a], k[a], ha, rtol, atol)
        ok = np.isfinite(norm) & (norm <= 1.0)
        h[a] = _adapt(ha, np.where(np.isfinite(norm), norm, np.inf), ok)
        g = a[ok]
        Z[g], k[g], s[g] = z_new[ok], k_new[ok], s[g] + ha[ok]
        minphi[g] = np.minimum(minphi[g], phi_new[ok])
        fin = g[s[g] >= s_end[g] * (1 - 1e-12)]
        T[fin] = Z[fin, n]
        active[fin] = False
        active[a[~np.isfinite(norm) | (h[a] < 1e-13 * (1 + s[a]))]] = False
        steps += 1
    return T, minphi


def follow_level_curves(system: System, Y0, values: Mapping | None = None, *,
                        laws: Sequence, length: float | None = None,
                        radius: float | None = None, rtol: float = 1e-10,
                        atol: float = 1e-12, close_tol: float = 1e-6,
                        speed_tol: float = 1e-8, max_steps: int = 20_000) -> list[LevelCurve]:
    r"""Classify the orbit of each row of ``Y0`` by its level curve, all rows at once (module
    docstring): one :class:`~symdyn.numerics.LevelCurve` per row. ``speed_tol`` is relative
    (to the largest speed along the same curve); ``length`` (default ``200 (1 + |y_0|)``),
    ``radius`` (default ``100 (1 + |y_0|)``) and ``max_steps`` bound each row's work."""
    Y0 = np.atleast_2d(np.asarray(Y0, dtype=float))
    B, n = Y0.shape
    out: list[LevelCurve | None] = [None] * B
    try:
        field = _Field(system, laws, values)
    except ValueError as exc:
        return [LevelCurve("undecided", "", y, np.nan, 0.0, np.nan, np.nan, 0,
                           f"not decided: {exc}") for y in Y0]
    G0 = field.grad(Y0)
    groups: dict[tuple, list[int]] = {}
    for i in range(B):
        keep = independent_laws(G0[i])
        if len(keep) < n - 1:
            out[i] = LevelCurve("undecided", "", Y0[i], np.nan, 0.0, np.nan, np.nan, len(keep),
                                f"not decided: {len(keep)} independent first integrals at "
                                f"the start, {n - 1} needed for orbits to be curves")
        else:
            groups.setdefault(tuple(keep[:n - 1]), []).append(i)
    for keep, rows in groups.items():
        field.keep = np.array(keep)
        for i, lc in zip(rows, _group(field, Y0[rows], (length, radius, rtol, atol, close_tol,
                                                         speed_tol, max_steps)), strict=True):
            out[i] = lc
    return out


def _group(field: _Field, Y0: np.ndarray, opts) -> list[LevelCurve]:
    """The level curves of rows sharing the same independent laws."""
    length, radius, rtol, atol, close_tol, speed_tol, max_steps = opts
    B, n = Y0.shape
    ones = np.ones(B)
    u0, nv0, phi0 = field.eval(Y0, ones)
    orient = np.where(phi0 >= 0, 1.0, -1.0)
    u0, phi0 = u0 * orient[:, None], np.abs(phi0)
    f0 = np.linalg.norm(np.asarray(field.f(0.0, Y0), float).reshape(Y0.shape), axis=1)
    R = _Rows(field, Y0, orient, u0, nv0, phi0, length, radius, close_tol)
    eq = f0 == 0
    R.end(np.flatnonzero(eq), "equilibrium", Y0[eq], 0.0)
    _trace(R, rtol, atol, speed_tol, max_steps)
    closed = np.flatnonzero(R.outcome == "periodic")
    T = np.full(B, np.nan)
    if closed.size:
        T[closed], minphi = _periods(R, closed, rtol, atol, max_steps)
        R.minphi[closed] = np.minimum(R.minphi[closed], minphi)
        # an equilibrium the tracing stepped over (the speed touching 0 without changing
        # sign) shows in the quadrature as a vanishing speed or an infinite period
        bad = closed[~np.isfinite(T[closed]) | (R.minphi[closed] <= speed_tol * R.phimax[closed])]
        R.outcome[bad] = "undecided"
        R.why[bad] = "the curve closed, but the flow's speed nearly vanishes on it"
    return [_curve(R, i, T[i], n) for i in range(B)]


def _curve(R: _Rows, i: int, T: float, n: int) -> LevelCurve:
    """The :class:`LevelCurve` of row ``i``, with messages like the per-row tracer's."""
    o, y, ms = R.outcome[i], R.point[i], float(R.minphi[i])
    if o == "equilibrium":
        return LevelCurve(o, "", y, np.nan, 0.0, 0.0, np.nan, n - 1,
                          "the start is an equilibrium")
    if o == "periodic":
        return LevelCurve(o, "", y, T, R.s_end[i], ms, np.nan, n - 1,
                          f"closed level curve of length {R.s_end[i]:.6g} of {n - 1} "
                          f"independent first integrals, no equilibrium on it (speed >= "
                          f"{ms:.3g}); period {T:.6g}")
    if o == "converges":
        singular = R.why[i] == "singular"
        ind = float(R.field.independence(y[None], R.largest[i:i + 1])[0])
        what = (f"a singular point of the level set (independence {ind:.1e})" if singular
                else "an equilibrium on a regular arc of the level set")
        return LevelCurve(o, R.why[i], y, np.nan, R.s_end[i], ms, ind, n - 1,
                          f"converges to {what} near {np.round(y, 4).tolist()}")
    if o == "unbounded":
        return LevelCurve(o, "", y, np.nan, R.s_end[i], ms, np.nan, n - 1,
                          f"the level curve leaves the ball of radius {R.radius[i]:g} in the "
                          "direction of the flow (not shown compact)")
    return LevelCurve("undecided", "", y, np.nan, R.s_end[i], ms, np.nan, n - 1,
                      f"not decided by its level curve: {R.why[i]}")
