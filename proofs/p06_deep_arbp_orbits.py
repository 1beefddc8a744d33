"""Deep ARBP chains: the trajectories that do not converge are periodic orbits.

The question left open by ``adaptive-deep-chains``: limit cycles, quasi-periodic motion, or
something else? The first integrals answer it: an ARBP chain of depth d has 2d - 1 state
components and 2(d - 1) independent polynomial first integrals, so its orbits are curves
(the level sets, where regular) and no orbit can be quasi-periodic; a bounded orbit that
does not reach an equilibrium is a closed curve. The numerics classify where trajectories
end and certify the closed ones."""

from __future__ import annotations

import random

import numpy as np
import sympy as sp
from _common import a, alpha, beta, c, chain, h, lam, normal, ranging

from symdyn.analysis import verify_invariant
from symdyn.numerics import certify_periodic, classify, integrate_batch
from symdyn.report import Math, equalities
from symdyn.verify import proof, sentence

LAM = lam
P, d_, s_, n_ = sp.symbols("P d s n")


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


@proof("deep-arbp-orbits",
       title="Deep ARBP chains: non-converging trajectories are periodic orbits",
       hypotheses=sentence("Scalar ARBP chains of depth {d}, {ab}, rate ratio {lam}; initial "
                           "weights independent, distributed as {dist}.", d=ranging(d_, 3, 6),
                           ab=equalities(alpha, beta, 1), lam=lam, dist=normal(s_**2)),
       claim=sentence("The 2(d - 1) functions {H1} and {H2} are first integrals with "
                      "independent gradients, so in the (2d - 1)-dimensional state every orbit "
                      "lies on a curve and none is quasi-periodic. Numerically every start "
                      "either converges to {P}, or runs on a closed orbit (periodic; certified: "
                      "the level curve through it is closed and holds no equilibrium), or is "
                      "still creeping near the origin at the end of the horizon, in shares "
                      "that depend on d, s and {lam}. No start diverges.",
                      H1=c[h] - lam * a[h + 1], H2=lam * a[h] ** 2 - c[h] ** 2,
                      P=sp.Eq(P, alpha / beta), lam=lam))
def deep_arbp(ctx):
    depths = (3, 4) if ctx.quick else (3, 4, 5, 6)
    for d in depths:
        s = chain(d, "arbp", rate_ratio=LAM)
        H = laws(s, d, LAM)
        ok = all(verify_invariant(s, h).holds for h in H)
        ctx.symbolic(sentence(f"depth {d}: {{H1}} and {{H2}} for {{hs}} are first integrals",
                              H1=c[h] - lam * a[h + 1], H2=lam * a[h] ** 2 - c[h] ** 2,
                              hs=ranging(h, 1, d - 1)), ok,
                     covers=f"depth {d}", part="first integrals")
        r = _rank_at_random_point(s, H, d)
        ctx.symbolic(sentence(f"depth {d}: their gradients have rank {r}, that is {{rank}} with "
                              "{n} the state dimension, at a random rational point (orbits are "
                              "curves)", rank=sp.Eq(2 * d_ - 2, n_ - 1), n=n_), r == 2 * d - 2,
                     covers=f"depth {d}", part="first integrals")
    numeric_depths = (3,) if ctx.quick else depths
    scales = (0.1, 1.0)
    lams = (1.0,) if ctx.quick else (0.5, 1.0, 2.0)
    starts = ctx.cases(12, 24)  # the full grid (sweeps) is `symdyn sweep`, not verify
    values = {"alpha": 1.0, "beta": 1.0}
    oracle_system = chain(3, "arbp", rate_ratio=1.0)  # the machinery, by independent routes
    ctx.oracle_rhs(oracle_system, values)
    ctx.oracle_trajectories(oracle_system, values, 2, t=5.0)
    tested = certified = diverged = total = 0
    shares = []
    for d in numeric_depths:
        for lam_v in lams:
            s = chain(d, "arbp", rate_ratio=lam_v)
            H = laws(s, d, lam_v)
            for scale in scales:
                y0 = scale * np.random.default_rng(1000 * d + int(100 * scale)).normal(
                    size=(starts, s.size))
                r = integrate_batch(s, y0, 2000.0, values, tol=1e-8)
                cls = classify(s, r, values, tail=1000.0, samples=2000, laws=H,
                             certify=ctx.cases(1, 3))
                per = np.flatnonzero(cls.end == "periodic")
                tested += min(len(per), ctx.cases(1, 3))
                certified += int(cls.certified.sum())
                diverged += int(np.sum(cls.end == "diverged"))
                total += starts
                conv_min = int(np.sum((cls.end == "converged") & (cls.endpoint == "minimum")))
                periods = ", ".join(f"{p:.4g}" for p in np.sort(cls.period[per])[:3])
                shares.append(sentence(
                    "{cell}: " + f"converged {conv_min} of {starts}, periodic {len(per)} "
                    f"({int(cls.certified.sum())} certified"
                    + (f"; periods {periods}" if len(per) else "") + "), undecided "
                    f"{int(np.sum(cls.end == 'undecided'))}",
                    cell=Math(rf"d = {d},\ \lambda = {lam_v:g},\ s = {scale:g}",
                              f"d={d} lam={lam_v:g} s={scale:g}")))
    ctx.numeric("detected periodic orbits certified closed, free of equilibria, with the "
                "certificate's period within 1% of the detected one", certified, tested,
                part="orbits")
    ctx.numeric("no start diverges", total - diverged, total, part="orbits")
    for line in shares:
        ctx.note(line)
    # the certificate refuses a level set that holds an equilibrium: at lam = 1 the diagonal
    # a_h = c_h = t is a level curve of the depth-3 chain through the fixed point t = 1; the
    # start t = 0.5 flows along it into that point
    s = chain(3, "arbp")
    cert = certify_periodic(s, np.full(5, 0.5), values, laws=laws(s, 3, 1))
    r = integrate_batch(s, np.full((1, 5), 0.5), 2000.0, values, tol=1e-8)
    ctx.numeric("the certificate refuses the diagonal level curve through the fixed point "
                "(which the start 0.5 converges to)", int(
                    not cert.certified and "equilibrium" in cert.message
                    and bool(r.converged[0]) and abs(r.y[0, 0] - 1) < 1e-6), 1, part="orbits")
