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

from ..errors import SpecError, require_system
from ..expressions import sympy_object
from ._binding import System
from ._codegen import numpy_function
from ._rhs import numeric

__all__ = ["Certificate", "LevelCurve", "certify_periodic", "follow_level_curve",
           "independent_laws"]


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


def laws_jacobian(system: System, laws: Sequence, values: Mapping | None
                  ) -> tuple[list[sp.Symbol], sp.Matrix]:
    """The state symbols and the Jacobian of the first integrals ``laws`` (sympy expressions
    in the state; text is refused, never parsed) with the scalar ``values`` substituted."""
    if isinstance(laws, (str, bytes)):
        raise SpecError("laws must be sympy expressions in the state, not text")
    state = list(system.state)
    subs = {p: float(v) for p in system.parameters for k, v in (values or {}).items()
            if str(p) == k and np.ndim(v) == 0}
    J = sp.Matrix([sympy_object(h, what="a law").xreplace(subs) for h in laws]).jacobian(state)
    free = J.free_symbols - set(state)
    if free:
        raise SpecError(f"laws depend on parameters without values: "
                        f"{', '.join(sorted(map(str, free)))}")
    return state, J


def _gradient(system: System, laws: Sequence, values: Mapping | None):
    state, J = laws_jacobian(system, laws, values)
    fun = numpy_function([state], J)
    return lambda y: np.asarray(fun(y), dtype=float).reshape(J.shape)


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
    r"""The level curve through ``y0``, parametrised by arc length ``s`` and oriented along
    the flow, and the events that end it. The time :math:`t(s) = \int ds/\varphi` is not
    traced with it (it diverges at an equilibrium, where the solver would fail before the
    stall event is reached); a closed curve gets its period in a second pass."""

    def __init__(self, G, f, orient, y0, speed_tol, radius, s_min):
        self.G, self.f, self.orient, self.y0 = G, f, orient, y0
        self.speed_tol, self.radius, self.s_min, self.n = speed_tol, radius, s_min, len(y0)
        v0 = orient * _tangent(G(y0))
        self.v0n = v0 / np.linalg.norm(v0)
        self.delta = 1e-6 * (1.0 + float(np.linalg.norm(y0)))
        self.largest = 0.0  # the largest |v| met along the curve
        self.closed.__func__.direction = 1.0
        self.dip.__func__.direction = 1.0
        for ev in (self.closed, self.stalled, self.escaped, self.dip):
            ev.__func__.terminal = True

    def phi(self, y):
        r"""Tangent ``v``, ``|v|`` and the flow's speed along it, :math:`f\cdot v/|v|`."""
        v = self.orient * _tangent(self.G(y))
        fy = np.asarray(self.f(0.0, y), float)
        nv = np.linalg.norm(v)
        return v, nv, (float(fy @ v) / nv if nv > 0 else 0.0)

    def independence(self, y) -> float:
        r"""How far the laws' gradients are from dependent at ``y``, in [0, 1]: the smaller
        of :math:`|v| / \prod_i |\nabla H_i|` (Hadamard's ratio: 0 where the gradients are
        dependent) and :math:`|v|` over its largest value met along the curve (0 where a
        gradient vanishes, which the ratio alone does not see)."""
        G = self.G(y)
        nv = float(np.linalg.norm(_tangent(G)))
        norms = float(np.prod(np.linalg.norm(G, axis=1)))
        ratio = nv / norms if norms > 0 else 0.0
        return min(ratio, nv / self.largest if self.largest > 0 else 1.0)

    def rhs(self, s, z):
        v, nv, _ = self.phi(z)
        return v / nv if nv > 0 else np.zeros(self.n)

    def timed(self, s, z):
        _, _, ph = self.phi(z[:self.n])
        return np.append(self.rhs(s, z[:self.n]), 1.0 / ph)

    def closed(self, s, z):  # crossing the normal plane at y0 on the way back
        return float((z[:self.n] - self.y0) @ self.v0n) if s > self.s_min else -1.0

    def stalled(self, s, z):
        _, nv, ph = self.phi(z[:self.n])
        return min(ph - self.speed_tol, nv - self.speed_tol)

    def escaped(self, s, z):
        return self.radius - float(np.linalg.norm(z[:self.n]))

    def dip(self, s, z):
        r"""The derivative of the speed along the curve (central difference): its rise
        through 0 is a local minimum of :math:`\varphi`, where an equilibrium at which
        :math:`\varphi` touches 0 without changing sign (a double zero) is found, which a
        threshold between two steps would miss."""
        y, u = z[:self.n], self.rhs(s, z[:self.n])
        return (self.phi(y + self.delta * u)[2] - self.phi(y - self.delta * u)[2]) / (
            2 * self.delta)

    def trace(self, length, rtol, atol, close):
        """Follow the curve until it returns within ``close`` of ``y0`` (crossings of the
        normal plane elsewhere are passed), stalls, escapes, or reaches ``length``."""
        y0 = self.y0
        hits, s0, z0, speeds, stop = [], 0.0, y0.copy(), [], None
        while s0 < length:
            sol = solve_ivp(self.rhs, (s0, length), z0, method="DOP853", rtol=rtol,
                            atol=atol, events=[self.closed, self.stalled, self.escaped,
                                               self.dip], dense_output=True)
            for k in range(sol.y.shape[1]):
                _, nv, ph = self.phi(sol.y[:, k])
                speeds.append(ph)
                self.largest = max(self.largest, nv)
            if sol.status != 1 or not (sol.t_events[0].size or sol.t_events[3].size):
                break
            which = 0 if sol.t_events[0].size else 3
            s0, z0 = float(sol.t_events[which][0]), sol.y_events[which][0]
            if which == 0 and np.linalg.norm(z0 - y0) <= close:
                hits.append(s0)
                break
            if which == 3:
                speeds.append(self.phi(z0)[2])
                if speeds[-1] <= self.speed_tol:  # a double zero of the speed: a stall
                    stop = (s0, z0)
                    break
            s0 += 1e-9 * (1 + np.linalg.norm(y0))  # a crossing elsewhere: go on past it
            z0 = sol.sol(s0)
        if stop is None and sol.t_events[1].size:
            stop = (float(sol.t_events[1][0]), sol.y_events[1][0])
        return sol, hits, speeds, stop

    def period(self, s_hit, rtol, atol) -> float:
        r""":math:`T = \oint ds/\varphi` over the closed curve (:math:`\varphi` is bounded
        away from 0 on it)."""
        sol = solve_ivp(self.timed, (0.0, s_hit), np.append(self.y0, 0.0), method="DOP853",
                        rtol=rtol, atol=atol)
        return float(sol.y[self.n, -1]) if sol.success else np.nan


@dataclass(frozen=True, eq=False)
class LevelCurve:
    r"""Where the level curve of :math:`n-1` first integrals through a start carries its
    orbit (:func:`follow_level_curve`), decided without a time horizon.

    ``outcome``: ``"periodic"`` (the curve closes, free of equilibria), ``"converges"`` (the
    flow's speed along the curve vanishes ahead: the orbit tends to the equilibrium there),
    ``"equilibrium"`` (the start is one), ``"unbounded"`` (the curve leaves the ball ahead:
    no conclusion without an a-priori bound) or ``"undecided"`` (too few independent laws,
    or the curve neither closed nor stalled within the arc length traced).
    ``limit``: for ``"converges"``, ``"regular"`` (the gradients of the laws stay
    independent there: a zero of the flow's speed on a smooth arc) or ``"singular"`` (they
    lose rank: the curve ends in a singular point of the level set). ``point``: where the
    tracing stopped (for ``"converges"``, within about ``speed_tol`` of the limit);
    ``period``: periodic only; ``length``: the arc length traced; ``min_speed``: the smallest
    speed along the curve met; ``independence``: how far from dependent the
    laws' gradients are at ``point`` (0: dependent; see ``_Tracer.independence``);
    ``laws``: independent laws used."""

    outcome: str
    limit: str
    point: np.ndarray
    period: float
    length: float
    min_speed: float
    independence: float
    laws: int
    message: str


#: a stop where the laws' gradients are this close to dependent is a singular point
_SINGULAR = 1e-4


def follow_level_curve(system: System, y0, values: Mapping | None = None, *, laws: Sequence,
                       length: float | None = None, radius: float | None = None,
                       rtol: float = 1e-10, atol: float = 1e-12, close_tol: float = 1e-6,
                       speed_tol: float = 1e-8) -> LevelCurve:
    r"""Classify the orbit of ``y0`` by its level curve (module docstring): trace the curve
    of the first integrals ``laws`` through ``y0`` in the direction of the flow, by arc
    length, until it closes (periodic), the flow's speed along it falls to ``speed_tol``
    (the orbit converges to the equilibrium there, reached only as :math:`t \to \infty`),
    it leaves the ball of ``radius`` (default ``100 (1 + |y_0|)``), or ``length`` (default
    ``200 (1 + |y_0|)``) is traced. No time horizon enters: the curve is traced, not the
    flow. A numerical classification (floating-point tracing at tight tolerances)."""
    y0 = np.asarray(y0, dtype=float)
    n = len(y0)
    scale = 1.0 + float(np.linalg.norm(y0))
    length = 200 * scale if length is None else float(length)
    radius = 100 * scale if radius is None else float(radius)

    def ended(outcome, message, *, limit="", point=y0, period=np.nan, traced=0.0,
              min_speed=np.nan, independence=np.nan, used=n - 1):
        return LevelCurve(outcome, limit, np.asarray(point, float), period, traced, min_speed,
                          independence, used, message)

    try:
        grad = _gradient(system, laws, values)
    except ValueError as exc:
        return ended("undecided", f"not decided: {exc}", used=0)
    keep = independent_laws(grad(y0))
    if len(keep) < n - 1:
        return ended("undecided", f"not decided: {len(keep)} independent first integrals at "
                     f"the start, {n - 1} needed for orbits to be curves", used=len(keep))
    keep = keep[:n - 1]
    f = numeric(system, values)
    G = lambda y: grad(y)[keep]  # noqa: E731
    f0 = np.asarray(f(0.0, y0), float)
    if np.linalg.norm(f0) <= speed_tol:
        return ended("equilibrium", "the start is an equilibrium", min_speed=0.0)
    orient = 1.0 if float(f0 @ _tangent(G(y0))) >= 0 else -1.0
    tracer = _Tracer(G, f, orient, y0, speed_tol, radius, 1e-3 * scale)
    sol, hits, speeds, stop = tracer.trace(length, rtol, atol, close_tol * scale)
    min_speed = float(np.min(speeds)) if speeds else np.nan
    last = sol.y[:, -1]
    common = dict(min_speed=min_speed)
    if hits:
        T = tracer.period(hits[0], rtol, atol)
        return ended("periodic", f"closed level curve of length {hits[0]:.6g} of {n - 1} "
                     f"independent first integrals, no equilibrium on it (speed >= "
                     f"{min_speed:.3g}); period {T:.6g}", period=T, traced=hits[0], **common)
    if stop is not None:
        y = stop[1]
        ind = tracer.independence(y)
        singular = ind <= _SINGULAR
        what = ("a singular point of the level set (the laws' gradients become dependent: "
                f"independence {ind:.1e})" if singular else
                "an equilibrium on a regular arc of the level set")
        return ended("converges", f"converges to {what} near {np.round(y, 6).tolist()}: "
                     "the flow's speed along the curve vanishes there",
                     limit="singular" if singular else "regular", point=y,
                     traced=stop[0], independence=ind, **common)
    if sol.t_events[2].size:
        return ended("unbounded", f"the level curve leaves the ball of radius {radius:g} "
                     "in the direction of the flow (not shown compact)", point=last,
                     traced=float(sol.t_events[2][0]), **common)
    return ended("undecided", f"the level curve neither closed nor stalled within arc length "
                 f"{float(sol.t[-1]):g} ({sol.message})", point=last, traced=float(sol.t[-1]),
                 independence=tracer.independence(last), **common)


def certify_periodic(system: System, y0, values: Mapping | None = None, *, laws: Sequence,
                     length: float | None = None, radius: float | None = None,
                     rtol: float = 1e-10, atol: float = 1e-12,
                     close_tol: float = 1e-6, speed_tol: float = 1e-8) -> Certificate:
    """Certify that the orbit of ``y0`` is periodic (module docstring): its level curve, as
    traced by :func:`follow_level_curve`, closes. ``laws``: first integrals (sympy
    expressions in ``system.state``); ``length``: the longest arc to trace (default
    ``200 * (1 + |y0|)``); ``radius``: the ball the curve must stay in (default
    ``100 * (1 + |y0|)``)."""
    require_system(system, "certify_periodic: system", values)
    lc = follow_level_curve(system, y0, values, laws=laws, length=length, radius=radius,
                            rtol=rtol, atol=atol, close_tol=close_tol, speed_tol=speed_tol)
    ok = lc.outcome == "periodic"
    if ok:
        message = "certified: " + lc.message
    elif lc.outcome == "converges":
        where = ("the laws become dependent (|v| -> 0): " if lc.limit == "singular" else
                 "an equilibrium on the level set (the flow's speed along it vanishes): ")
        message = f"not certified: {where}{lc.message}"
    else:
        message = f"not certified: {lc.message}"
    return Certificate(ok, lc.period, lc.length, 0.0 if lc.outcome == "equilibrium"
                       else lc.min_speed, lc.laws, message)
