r"""A certificate that an orbit is closed, from first integrals.

When :math:`\dot y = f(y)`, :math:`y \in \mathbb{R}^n`, has first integrals
:math:`H_1, \dots, H_{n-1}` whose gradients are independent along a level set
:math:`\Lambda = \{H = H(y_0)\}`, the connected component :math:`\Lambda_0` of :math:`y_0` is
a smooth curve and :math:`f` is tangent to it. If :math:`\Lambda_0` is compact and holds no
equilibrium, it is a circle on which the flow moves at a speed bounded away from zero, so the
orbit of :math:`y_0` *is* :math:`\Lambda_0` and is periodic with period
:math:`T = \oint_{\Lambda_0} ds / \varphi`, :math:`\varphi = f\cdot v/|v|`.

The certificate traces :math:`\Lambda_0` itself, not the flow: it integrates the unit tangent
:math:`v/|v|` of the level set, :math:`v_i = (-1)^i \det G_{\hat\imath}` (the generalized
cross product of the rows of :math:`G = \nabla H`, :math:`G_{\hat\imath}` without column
:math:`i`), which does not vanish at equilibria of :math:`f`. It accepts when the traced curve
closes (returns to :math:`y_0`: the component is compact), :math:`|v|` stays away from 0
(independent gradients along it) and :math:`\varphi` keeps its sign and stays away from 0 (no
equilibrium on it); it then computes :math:`T` by quadrature. It refuses, with the reason,
when the curve leaves a ball (not shown compact), meets a point where :math:`\varphi` vanishes
(an equilibrium on the level set: the orbit tends to it and is not closed), or when fewer than
:math:`n-1` independent laws are given (orbits are not curves by this count).

This is a numerical certificate (floating-point integration at tight tolerances), not
interval arithmetic: "certified" means these conditions were checked along the computed
curve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp

from ..errors import SpecError
from ._binding import System
from ._codegen import numpy_function
from ._rhs import numeric

__all__ = ["Certificate", "certify_periodic", "independent_laws"]


@dataclass(frozen=True)
class Certificate:
    """``certified``: the level curve through the start is closed and free of equilibria;
    ``period`` (NaN if not certified), ``length`` (arc length traced), ``min_speed``
    (smallest :math:`|\\varphi|` met), ``laws`` (independent laws used), ``message``."""

    certified: bool
    period: float
    length: float
    min_speed: float
    laws: int
    message: str


def _gradient(system: System, laws: Sequence, values: Mapping | None):
    state = list(system.state)
    subs = {p: float(v) for p in system.parameters for k, v in (values or {}).items()
            if str(p) == k and np.ndim(v) == 0}
    H = [sp.sympify(h).xreplace(subs) for h in laws]
    J = sp.Matrix(H).jacobian(state)
    free = J.free_symbols - set(state)
    if free:
        raise SpecError(f"laws depend on parameters without values: "
                         f"{', '.join(sorted(map(str, free)))}")
    fun = numpy_function([state], J)
    return lambda y: np.asarray(fun(y), dtype=float).reshape(len(H), len(state))


def independent_laws(G: np.ndarray, rtol: float = 1e-8) -> np.ndarray:
    """Indices of a largest set of rows of ``G`` (gradients at a point) that are linearly
    independent: QR with column pivoting on ``G.T``, cut where the diagonal of R falls below
    ``rtol`` times its first entry."""
    from scipy.linalg import qr

    if G.size == 0:
        return np.zeros(0, dtype=int)
    _, R, piv = qr(G.T, pivoting=True, mode="economic")
    d = np.abs(np.diag(R))
    rank = int(np.sum(d > rtol * d[0])) if d.size and d[0] > 0 else 0
    return np.sort(piv[:rank])


def _tangent(G: np.ndarray) -> np.ndarray:
    n = G.shape[1]
    minors = np.stack([np.delete(G, i, axis=1) for i in range(n)])
    signs = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    return signs * np.linalg.det(minors)


class _Tracer:
    r"""The level curve through ``y0``, parametrised by arc length ``s``, with the time
    :math:`t(s) = \int ds/\varphi` as a last component, and the events that end it."""

    def __init__(self, G, f, orient, y0, speed_tol, radius, s_min):
        self.G, self.f, self.orient, self.y0 = G, f, orient, y0
        self.speed_tol, self.radius, self.s_min, self.n = speed_tol, radius, s_min, len(y0)
        v0 = orient * _tangent(G(y0))
        self.v0n = v0 / np.linalg.norm(v0)
        self.closed.__func__.direction = 1.0
        for ev in (self.closed, self.stalled, self.escaped):
            ev.__func__.terminal = True

    def phi(self, y):
        r"""Tangent ``v``, ``|v|`` and the flow's speed along it, :math:`f\cdot v/|v|`."""
        v = self.orient * _tangent(self.G(y))
        fy = np.asarray(self.f(0.0, y), float)
        nv = np.linalg.norm(v)
        return v, nv, (float(fy @ v) / nv if nv > 0 else 0.0)

    def rhs(self, s, z):
        v, nv, ph = self.phi(z[:self.n])
        # continuous at the stall threshold (a jump there made the solver fail before the
        # stalled event could fire): capped at 1 / speed_tol, not cut to 0
        dt = 1.0 / max(ph, self.speed_tol)
        return np.append(v / nv if nv > 0 else np.zeros(self.n), dt)

    def closed(self, s, z):  # crossing the normal plane at y0 on the way back
        return float((z[:self.n] - self.y0) @ self.v0n) if s > self.s_min else -1.0

    def stalled(self, s, z):
        _, nv, ph = self.phi(z[:self.n])
        return min(ph - self.speed_tol, nv - self.speed_tol)

    def escaped(self, s, z):
        return self.radius - float(np.linalg.norm(z[:self.n]))

    def trace(self, length, rtol, atol, close):
        """Follow the curve until it returns within ``close`` of ``y0`` (crossings of the
        normal plane elsewhere are passed), stalls, escapes, or reaches ``length``."""
        n, y0 = self.n, self.y0
        hits, s0, z0, speeds = [], 0.0, np.append(y0, 0.0), []
        while s0 < length:
            sol = solve_ivp(self.rhs, (s0, length), z0, method="DOP853", rtol=rtol,
                            atol=atol, events=[self.closed, self.stalled, self.escaped],
                            dense_output=True)
            speeds += [self.phi(sol.y[:n, k])[2] for k in range(sol.y.shape[1])]
            if sol.status != 1 or not sol.t_events[0].size:
                break
            s0, z0 = float(sol.t_events[0][0]), sol.y_events[0][0]
            if np.linalg.norm(z0[:n] - y0) <= close:
                hits.append((s0, float(z0[n])))
                break
            s0 += 1e-9 * (1 + np.linalg.norm(y0))  # a crossing elsewhere: go on past it
            z0 = sol.sol(s0)
        return sol, hits, speeds


def certify_periodic(system: System, y0, values: Mapping | None = None, *, laws: Sequence,
                     length: float | None = None, radius: float | None = None,
                     rtol: float = 1e-10, atol: float = 1e-12,
                     close_tol: float = 1e-6, speed_tol: float = 1e-8) -> Certificate:
    """Certify that the orbit of ``y0`` is periodic (module docstring). ``laws``: first
    integrals (sympy expressions in ``system.state``); ``length``: the longest arc to trace
    (default ``200 * (1 + |y0|)``); ``radius``: the ball the curve must stay in (default
    ``100 * (1 + |y0|)``)."""
    y0 = np.asarray(y0, dtype=float)
    n = len(y0)
    scale = 1.0 + float(np.linalg.norm(y0))
    length = 200 * scale if length is None else float(length)
    radius = 100 * scale if radius is None else float(radius)
    try:
        grad = _gradient(system, laws, values)
    except ValueError as exc:
        return Certificate(False, np.nan, 0.0, np.nan, 0, f"not certified: {exc}")
    keep = independent_laws(grad(y0))
    if len(keep) < n - 1:
        return Certificate(False, np.nan, 0.0, np.nan, len(keep),
                           f"not certified: {len(keep)} independent first integrals at the "
                           f"start, {n - 1} needed for orbits to be curves")
    keep = keep[:n - 1]
    f = numeric(system, values)
    G = lambda y: grad(y)[keep]  # noqa: E731
    v0 = _tangent(G(y0))
    f0 = np.asarray(f(0.0, y0), float)
    if np.linalg.norm(f0) <= speed_tol:
        return Certificate(False, np.nan, 0.0, 0.0, n - 1,
                           "not certified: the start is an equilibrium")
    orient = 1.0 if float(f0 @ v0) >= 0 else -1.0
    tracer = _Tracer(G, f, orient, y0, speed_tol, radius, 1e-3 * scale)
    sol, hits, speeds = tracer.trace(length, rtol, atol, close_tol * scale)
    phi = tracer.phi
    min_speed = float(np.min(speeds)) if speeds else np.nan
    if sol.t_events[1].size and (not hits or sol.t_events[1][0] < hits[0][0]):
        y = sol.y_events[1][0][:n]
        _, nv, _ = phi(y)
        what = ("the laws become dependent (|v| -> 0)" if nv <= speed_tol else
                "an equilibrium on the level set (the flow's speed along it vanishes)")
        return Certificate(False, np.nan, float(sol.t_events[1][0]), min_speed, n - 1,
                           f"not certified: {what} near {np.round(y, 6).tolist()}")
    if sol.status == -1 and not hits:
        y = sol.y[:n, -1]
        return Certificate(False, np.nan, float(sol.t[-1]), min_speed, n - 1,
                           f"not certified: tracing stopped near {np.round(y, 6).tolist()} "
                           f"where the flow's speed along the level set fell to "
                           f"{min_speed:.2g} (an equilibrium on the level set?): "
                           f"{sol.message}")
    if hits:
        s_hit, T = hits[0]
        return Certificate(True, T, s_hit, min_speed, n - 1,
                           f"certified: closed level curve of length {s_hit:.6g} of "
                           f"{n - 1} independent first integrals, no equilibrium on it "
                           f"(speed >= {min_speed:.3g}); period {T:.6g}")
    if sol.t_events[2].size:
        return Certificate(False, np.nan, float(sol.t_events[2][0]), min_speed, n - 1,
                           f"not certified: the level curve leaves the ball of radius "
                           f"{radius:g} (not shown compact)")
    return Certificate(False, np.nan, float(sol.t[-1]), min_speed, n - 1,
                       f"not certified: the level curve did not close within arc length "
                       f"{length:g} ({sol.message})")
