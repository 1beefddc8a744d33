"""Deep ARBP chains, classified exactly: every orbit is bounded, and either runs on a closed
level curve or converges to an equilibrium; which one is read off the start's level curve.

An ARBP chain of depth d has 2d - 1 state components and the 2(d - 1) first integrals
K_h = c_h - lambda a_{h+1} and L_h = lambda a_h^2 - c_h^2. Three identities, checked here
for each depth, close the question:

1. f = (alpha - beta P) v / (2 lambda)^(d-1), with v the generalised cross product of the
   laws' gradients (the tangent of the level curves): the flow runs along the level curve
   through the start, at a speed proportional to the error alpha - beta P.
2. The components of v are, up to constants, the monomials a_1...a_{j-1} c_j...c_{d-1}
   (j = 1..d): the gradients lose rank exactly on S, the union of {a_i = c_k = 0} over
   i <= k, and the equilibria are the optimal set {P = alpha/beta} and S (disjoint).
3. d(a_d^2)/dt = 2 P (alpha - beta P), and on a level set lambda a_h^2 = L_h +
   (lambda a_{h+1} + K_h)^2 >= L_h - K_h^2 + lambda^2 a_{h+1}^2 / 2: if |a_d| grows along a
   level set, all |a_h| grow with it, so |P| does, and then a_d^2 decreases. Every orbit is
   bounded (lambda > 0, beta > 0).

So an orbit moves monotonically along a regular arc of its level curve and stops only where
alpha - beta P or v vanishes: it is periodic (the arc is a closed curve free of both), or it
converges to a point of the optimal set, or to a point of S (only for starts whose level
set meets S: a closed null set, since S has dimension 2d - 3 and the laws' values there fill
at most that). The numerics classify each start by tracing its level curve
(:func:`symdyn.numerics.follow_level_curve`), with no time horizon."""

from __future__ import annotations

import itertools
import random

import numpy as np
import sympy as sp
from _common import a, alpha, beta, c, chain, h, lam, normal, ranging

from symdyn.analysis import verify_invariant
from symdyn.numerics import (
    certify_periodic,
    classify,
    follow_level_curve,
    integrate,
    integrate_batch,
)
from symdyn.numerics._classify import excess_loss
from symdyn.report import Math, equalities
from symdyn.verify import proof, sentence

LAM = lam
P, d_, s_, n_, j_, i_, k_ = sp.symbols("P d s n j i k")
v_ = sp.Symbol("v")
x_, y_ = sp.symbols("x y")


def laws(system, depth: int, lam) -> list[sp.Expr]:
    r""":math:`c_h - \lambda a_{h+1}` and :math:`\lambda a_h^2 - c_h^2`, h = 1..d-1."""
    a = system.state[:depth]
    c = system.state[depth:]
    return ([c[h] - lam * a[h + 1] for h in range(depth - 1)]
            + [lam * a[h] ** 2 - c[h] ** 2 for h in range(depth - 1)])


def _rank_at_random_point(system, H, seed: int) -> int:
    """Exact rank of the gradients of H at a random rational point (a lower bound of the
    generic rank)."""
    rnd = random.Random(seed)
    point = {s: sp.Rational(rnd.randint(-9, 9), rnd.randint(1, 9)) for s in system.state}
    point[LAM] = sp.Rational(rnd.randint(1, 9), rnd.randint(1, 9))
    return sp.Matrix(H).jacobian(system.state).subs(point).rank()


def _cross(G: sp.Matrix) -> list[sp.Expr]:
    """The generalised cross product of the rows of ``G`` (its maximal minors, signed)."""
    n = G.shape[1]
    return [sp.expand((-1) ** i * G[:, [j for j in range(n) if j != i]].det(method="berkowitz"))
            for i in range(n)]


def _monomial(a_, c_, j: int, d: int) -> sp.Expr:
    """a_1 ... a_{j-1} c_j ... c_{d-1} (j = 1..d)."""
    return sp.Mul(*a_[:j - 1]) * sp.Mul(*c_[j - 1:d - 1])


def _zero_patterns(d: int) -> bool:
    """Over every set of vanishing variables: all the monomials vanish exactly when some
    a_i and c_k with i <= k vanish (exhaustive, 2^(2d-2) patterns)."""
    for zeros in itertools.product((False, True), repeat=2 * d - 2):
        za, zc = zeros[:d - 1], zeros[d - 1:]
        all_vanish = all(any(za[:j - 1]) or any(zc[j - 1:]) for j in range(1, d + 1))
        pair = any(za[i] and zc[k] for i in range(d - 1) for k in range(i, d - 1))
        if all_vanish != pair:
            return False
    return True


def _symbolic_steps(ctx, d: int) -> None:
    s = chain(d, "arbp", rate_ratio=LAM)
    a_, c_ = s.state[:d], s.state[d:]
    H = laws(s, d, LAM)
    ok = all(verify_invariant(s, law).holds for law in H)
    ctx.symbolic(sentence(f"depth {d}: {{H1}} and {{H2}} for {{hs}} are first integrals",
                          H1=c[h] - lam * a[h + 1], H2=lam * a[h] ** 2 - c[h] ** 2,
                          hs=ranging(h, 1, d - 1)), ok, covers=f"depth {d}",
                 part="first integrals")
    r = _rank_at_random_point(s, H, d)
    ctx.symbolic(sentence(f"depth {d}: their gradients have rank {r}, that is {{rank}} with "
                          "{n} the state dimension, at a random rational point (orbits are "
                          "curves)", rank=sp.Eq(2 * d_ - 2, n_ - 1), n=n_), r == 2 * d - 2,
                 covers=f"depth {d}", part="first integrals")
    v = _cross(sp.Matrix(H).jacobian(s.state))
    Pd = sp.Mul(*a_)
    scale = (2 * LAM) ** (d - 1)
    flow = all(sp.expand(scale * fi - (alpha - beta * Pd) * vi) == 0
               for fi, vi in zip(s.rhs, v, strict=True))
    ctx.symbolic(sentence(f"depth {d}: the flow is {{f}}, with {{v}} the generalised cross "
                          "product of the gradients of the first integrals (the tangent of "
                          "the level curves): orbits run along their level curve at a speed "
                          "proportional to the error", f=sp.Eq(sp.Symbol("f"),
                          (alpha - beta * P) * v_ / (2 * lam) ** (d_ - 1)), v=v_),
                 flow, proof="exact classification", covers=f"depth {d}", part="orbits",
                 latex=sp.Eq(sp.Symbol("f"), (alpha - beta * P) * v_ / (2 * lam) ** (d - 1)))
    mono = [_monomial(a_, c_, j, d) for j in range(1, d + 1)]
    shape = all(sp.expand(v[j - 1] - scale * mono[j - 1]) == 0
                for j in range(1, d + 1)) and all(
        sp.expand(v[d + h] - LAM * v[h + 1]) == 0 for h in range(d - 1))
    ctx.symbolic(sentence(f"depth {d}: the components of {{v}} are {{m}} up to constant "
                          "factors, and they all vanish exactly on the union {S} of the "
                          "subspaces {sub} over {ik} (checked over every pattern of vanishing "
                          "variables); so the gradients lose rank exactly on {S}, and the "
                          "equilibria are the optimal set {opt} and {S}, disjoint for {an}",
                          v=v_, m=Math(r"a_1 \cdots a_{j-1}\allowbreak\, c_j \cdots c_{d-1}",
                                       "a_1...a_(j-1) c_j...c_(d-1)"),
                          S=sp.Symbol("S"), sub=equalities(a[i_], c[k_], 0), ik=i_ <= k_,
                          opt=sp.Eq(P, alpha / beta), an=sp.Ne(alpha, 0)),
                 shape and _zero_patterns(d), proof="exact classification",
                 covers=f"depth {d}", part="orbits")
    grow = sp.expand(2 * a_[-1] * s.rhs[d - 1] - 2 * Pd * (alpha - beta * Pd)) == 0
    K, L = sp.symbols("K L")
    # L_h = lam a_h^2 - (lam a_{h+1} + K_h)^2 identically, K_h and L_h the laws
    level = all(sp.expand(H[d - 1 + g] - (LAM * a_[g] ** 2 - (LAM * a_[g + 1] + H[g]) ** 2))
                == 0 for g in range(d - 1))
    sos = sp.expand((x_ + y_) ** 2 - x_ ** 2 / 2 + y_ ** 2
                    - (x_ / sp.sqrt(2) + sp.sqrt(2) * y_) ** 2) == 0
    ctx.symbolic(sentence(f"depth {d}: {{grow}}; on a level set {{lev}}, and {{sos}}: where "
                          "the last weight grows on a level set every weight grows with it, "
                          "the product too, and then the last weight shrinks. Every orbit is "
                          "bounded for {lp} and {bp}", grow=sp.Eq(sp.Derivative(
                              a[d_] ** 2, sp.Symbol("t")), 2 * P * (alpha - beta * P)),
                          lev=sp.Eq(lam * a[h] ** 2, L + (lam * a[h + 1] + K) ** 2),
                          sos=sp.Eq((x_ + y_) ** 2 - x_ ** 2 / 2 + y_ ** 2,
                                    (x_ / sp.sqrt(2) + sp.sqrt(2) * y_) ** 2),
                          lp=lam > 0, bp=beta > 0),
                 grow and level and sos, proof="a-priori bound", covers=f"depth {d}",
                 part="orbits")


def _cell(ctx, d: int, lam_v: float, scale: float, starts: int, values: dict) -> dict:
    """Starts classified by their level curves, and by the trajectory (the independent
    route) where the trajectory decides."""
    s = chain(d, "arbp", rate_ratio=lam_v)
    H = laws(s, d, lam_v)
    y0 = scale * np.random.default_rng(1000 * d + int(100 * scale)).normal(size=(starts,
                                                                               s.size))
    curves = [follow_level_curve(s, y, values, laws=H) for y in y0]
    out = {k: 0 for k in ("periodic", "optimal", "critical", "singular", "unbounded",
                          "undecided", "agree", "compared", "by_curve_only", "returns",
                          "periodic_checked")}
    for lc in curves:
        if lc.outcome == "periodic":
            out["periodic"] += 1
        elif lc.outcome == "converges":
            loss = excess_loss(s, lc.point[None], values)[0]
            out["optimal" if loss <= 1e-6 else "critical"] += 1
            out["singular"] += lc.limit == "singular"
        else:
            out[lc.outcome if lc.outcome == "unbounded" else "undecided"] += 1
    # the trajectory route is the costly one (rows near the singular set creep): it checks
    # the first 8 starts of each cell
    r = integrate_batch(s, y0[:8], 2000.0, values, tol=1e-8)
    cls = classify(s, r, values, tail=1000.0, samples=2000, decide=0)
    for i, lc in enumerate(curves[:8]):
        if cls.end[i] == "undecided":
            out["by_curve_only"] += 1
            continue
        out["compared"] += 1
        if cls.end[i] == "periodic":
            out["agree"] += bool(lc.outcome == "periodic"
                                 and abs(lc.period - cls.period[i]) <= 1e-2 * cls.period[i])
        elif cls.end[i] == "converged":
            out["agree"] += bool(lc.outcome == "converges"
                                 and np.max(np.abs(lc.point - cls.y_end[i])) <= 1e-3)
    # a closed curve is a closed orbit: back at the start after one period of the flow (the
    # two shortest periods: near the singular set periods reach 10^6)
    closed = sorted((lc.period, i) for i, lc in enumerate(curves) if lc.outcome == "periodic")
    for _, i in closed[:2]:
        one = integrate(s, y0[i], curves[i].period, values, rtol=1e-11, atol=1e-13,
                        stop_on_convergence=False)
        out["periodic_checked"] += 1
        out["returns"] += bool(np.max(np.abs(one.y_final - y0[i])) <= 1e-4 * (
            1 + np.max(np.abs(y0[i]))))
    return out


@proof("deep-arbp-orbits",
       title="Deep ARBP chains: bounded orbits, closed or convergent, classified by level "
             "curves",
       hypotheses=sentence("Scalar ARBP chains of depth {d}, {ab}, rate ratio {lp}; "
                           "numerically {ab1}, {lam} in a few values, initial weights "
                           "independent, distributed as {dist}.", d=ranging(d_, 3, 6),
                           ab=sp.And(beta > 0, sp.Ne(alpha, 0)), lp=lam > 0,
                           ab1=equalities(alpha, beta, 1), lam=lam, dist=normal(s_**2)),
       claim=sentence("The 2(d - 1) functions {H1} and {H2} are first integrals with "
                      "independent gradients off the set {S} where some {sub} with {ik}; the "
                      "flow is the tangent of their level curves times the error {e}, so the "
                      "equilibria are the optimal set {opt} and {S}. Every orbit is bounded. "
                      "Hence every orbit either runs on a closed level curve (periodic), or "
                      "converges to a point of {opt}, or to a point of {S} (only from the "
                      "null set of starts whose level set meets {S}); none diverges, none is "
                      "quasi-periodic. Each start is classified by tracing its level curve, "
                      "with no time horizon; shares by depth, scale and {lam} in the notes.",
                      H1=c[h] - lam * a[h + 1], H2=lam * a[h] ** 2 - c[h] ** 2,
                      S=sp.Symbol("S"), sub=equalities(a[i_], c[k_], 0), ik=i_ <= k_,
                      e=alpha - beta * P, opt=sp.Eq(P, alpha / beta), lam=lam))
def deep_arbp(ctx):
    depths = (3, 4) if ctx.quick else (3, 4, 5, 6)
    for d in depths:
        _symbolic_steps(ctx, d)
    values = {"alpha": 1.0, "beta": 1.0}
    ctx.oracle_rhs(chain(3, "arbp"), values)
    ctx.oracle_trajectories(chain(3, "arbp"), values, 2, t=5.0)
    # negative control: the certificate refuses the diagonal level curve a_h = c_h = t of
    # the depth-3 chain at lam = 1, which holds the fixed point t = 1 (reached by its stall
    # test, the speed along the curve falling to zero, not by a solver failure)
    s = chain(3, "arbp")
    cert = certify_periodic(s, np.full(5, 0.5), values, laws=laws(s, 3, 1))
    ctx.control("the certificate refuses the diagonal level curve through the fixed point",
                not cert.certified and "equilibrium" in cert.message, kind="numeric")
    lc = follow_level_curve(s, np.full(5, 0.5), values, laws=laws(s, 3, 1))
    ctx.numeric("its level curve carries the start one half on the diagonal to the fixed "
                "point one, a regular point of the level set", int(
                    lc.outcome == "converges" and lc.limit == "regular"
                    and np.max(np.abs(lc.point - 1)) < 1e-6), 1)
    numeric_depths = (3,) if ctx.quick else (3, 4, 5, 6)
    lams = (1.0,) if ctx.quick else (0.5, 1.0, 2.0)
    starts = ctx.cases(8, 24)  # the full grid (sweeps) is `symdyn sweep`, not verify
    totals: dict[str, int] = {}
    planned, done = len(numeric_depths) * len(lams) * 2, 0
    ctx.progress(0, planned, "cells")
    for d in numeric_depths:
        for lam_v in lams:
            for scale in (0.1, 1.0):
                out = _cell(ctx, d, lam_v, scale, starts, values)
                totals = {k: totals.get(k, 0) + v for k, v in out.items()}
                done += 1
                ctx.progress(done, planned, "cells")
                ctx.note(sentence(
                    "{cell}: " + f"periodic {out['periodic']}, converging to the optimum "
                    f"{out['optimal']}, to a non-optimal equilibrium {out['critical']} (at a "
                    f"singular point {out['singular']}), undecided {out['undecided']}; the "
                    f"trajectory left {out['by_curve_only']} of the first 8 undecided",
                    cell=Math(rf"d = {d},\ \lambda = {lam_v:g},\ s = {scale:g}",
                              f"d={d} lam={lam_v:g} s={scale:g}")))
    total = len(numeric_depths) * len(lams) * 2 * starts
    ctx.numeric("every start classified by its level curve: a closed curve, or a stall at "
                "an equilibrium, within the arc length traced", total - totals["undecided"]
                - totals["unbounded"], total, part="each start")
    ctx.numeric("no level curve leaves the ball in the direction of the flow (the a-priori "
                "bound, tested)", total - totals["unbounded"], total, part="each start")
    ctx.numeric("where the trajectory decides (its section returns, or the integrator's "
                "convergence test), it agrees with the level curve: the same period within "
                "one percent, or the same limit", totals["agree"], totals["compared"],
                check="oracle")
    ctx.numeric("a closed level curve is a closed orbit: integrated over the curve's period, "
                "the flow returns to its start", totals["returns"], totals["periodic_checked"],
                check="oracle")
