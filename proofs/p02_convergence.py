"""Convergence of linear chains: the 1-1-1 RBP reduction to a cubic, and BP, RBP, SRBP
chains of depth 2 to 5 (symbolic fixed-point set, numerical convergence from random starts)."""

from __future__ import annotations

import numpy as np
import sympy as sp
from _common import (
    K,
    L,
    a,
    a1,
    a2,
    alpha,
    beta,
    c1,
    chain,
    invariant_steps,
    parameter_examples,
    random_values,
    ranging,
    seeds,
)
from hypothesis import strategies as st

import symdyn as sd
from symdyn.analysis import reduce
from symdyn.numerics import integrate_batch
from symdyn.report import Math, dot, equalities, latex_math
from symdyn.verify import proof, sentence

P = sp.Symbol("P")
HYPERBOLA = sp.Eq(a1 * a2, alpha / beta)
CUBIC = alpha * c1 - beta / 2 * a1 * (a1**2 - K)


def _converges_to_optimum(system, depth, example, starts, t_final=2e4, scale=0.7):
    """All ``starts`` random starts converge (|f| < 1e-9) with P = alpha/beta to 1e-6."""
    params, seed = example
    values = random_values(system, params)
    y0 = np.random.default_rng(seed).normal(scale=scale, size=(starts, system.size))
    r = integrate_batch(system, y0, t_final, values, rtol=1e-9, atol=1e-12, tol=1e-9)
    P = np.prod(r.y[:, :depth], axis=1)
    target = values["alpha"] / values["beta"]
    return bool(np.all(r.converged & (np.abs(P - target) < 1e-6 * max(1.0, abs(target)))))


@proof("rbp-111-convergence", title="1-1-1 RBP reduces to a cubic and converges",
       hypotheses=sentence("{b}, {a}, {c}.", b=beta > 0, a=sp.Ne(alpha, 0), c=sp.Ne(c1, 0)),
       claim=sentence("With {K} (a first integral), 1-1-1 RBP reduces to {ode}, a cubic with "
                      "leading coefficient {lc}; hence every trajectory converges to a point "
                      "of the hyperbola {hyperbola}.", K=sp.Eq(K, a1**2 - 2 * c1 * a2),
                      ode=dot(a1, CUBIC), lc=-beta / 2 < 0, hyperbola=HYPERBOLA))
def rbp_111(ctx):
    s = sd.derive("1-1-1", "rbp")
    assert s.state == (a1, a2)
    H = a1**2 - 2 * c1 * a2
    invariant_steps(ctx, s, [H], "1-1-1 RBP")
    red = reduce(s, invariants=[H], solve_for=[a2])
    (Kr,) = red.constants
    g = red.rhs[0].subs(Kr, K)
    ctx.symbolic(sentence("the reduction (checked by substitution back) is the cubic {g}",
                          g=CUBIC),
                 red.verified and sp.expand(g - CUBIC) == 0,
                 latex=dot(a1, sp.collect(sp.expand(g), a1)))
    ctx.symbolic(sentence("its leading coefficient in {a1} is {lc}, negative for {b}", a1=a1,
                          lc=-beta / 2, b=beta > 0),
                 sp.Poly(g, a1).LC() == -beta / 2)
    ctx.symbolic(sentence("at {a0} the cubic is {g0}, non-zero: every equilibrium has {ne}",
                          a0=sp.Eq(a1, 0), g0=alpha * c1, ne=sp.Ne(a1, 0)),
                 sp.simplify(g.subs(a1, 0) - alpha * c1) == 0)
    ctx.symbolic(sentence("{ode}: equilibria with {ne} lie on {hyperbola}",
                          ode=dot(a2, a1 * (alpha - beta * a1 * a2)), ne=sp.Ne(a1, 0),
                          hyperbola=HYPERBOLA),
                 sp.expand(s.rhs[1] - a1 * (alpha - beta * a1 * a2)) == 0)
    ctx.note(sentence("A scalar autonomous differential equation whose right-hand side is a "
                      "polynomial of odd degree with negative leading coefficient has bounded, "
                      "monotone solutions, which converge to an equilibrium; {a2} then "
                      "converges too. With the steps above, every trajectory converges to a "
                      "point of {hyperbola} (necessarily of its stable part, where the "
                      "transverse eigenvalue {ev} is negative).",
                      a2=sp.Eq(a2, (a1**2 - K) / (2 * c1)), hyperbola=HYPERBOLA,
                      ev=-beta * (a1**2 + c1 * a2)))
    values = {"alpha": 1.0, "beta": 2.0, "c1": -0.8}
    ctx.oracle_fixed_point(s, values, np.random.default_rng(0).normal(scale=0.7, size=(4, 2)),
                           2e4, tol=1e-9, rtol=1e-9, atol=1e-12)
    ctx.sample(sentence("random {a} and {b}, {c}: 50 random starts each converge to "
                        "{hyperbola}", a=alpha, b=beta > 0, c=sp.Ne(c1, 0),
                        hyperbola=HYPERBOLA), st.tuples(parameter_examples(s), seeds),
               lambda ex: _converges_to_optimum(s, 2, ex, 50), ctx.cases(5, 40))


@proof("chain-convergence", title="Linear chains converge under BP, RBP and SRBP",
       hypotheses=sentence("{b}; random non-zero channel weights of random signs; random "
                           "initial weights.", b=beta > 0),
       claim=sentence("Linear chains of depth {L} trained by BP, RBP or SRBP converge to a "
                      "fixed point with {P} from almost every initial condition. "
                      "Symbolically: every equation vanishes where {eq}; numerically: random "
                      "parameters and starts.", L=ranging(L, 2, 5),
                      P=equalities(P, Math(rf"{latex_math(a[L])} \cdots {latex_math(a[1])}",
                                           "a[L] ... a[1]"), alpha / beta),
                      eq=sp.Eq(alpha, beta * P)))
def chains(ctx):
    depths = (2, 3) if ctx.quick else (2, 3, 4, 5)
    s = chain(3, "srbp")
    values = {"alpha": 1.0, "beta": 1.5, "c1": 0.7, "c2": -1.3}
    ctx.oracle_rhs(s, values)
    ctx.oracle_fixed_point(s, values, np.random.default_rng(0).normal(scale=0.7, size=(4, 3)),
                           2e4, tol=1e-9, rtol=1e-9, atol=1e-12)
    for rule in ("bp", "rbp", "srbp"):
        for depth in range(2, 6):
            s = chain(depth, rule)
            prod = sp.Mul(*s.state[:depth])
            ctx.symbolic(sentence(f"{rule.upper()} depth {depth}: every equation vanishes "
                                  "on {eq}", eq=sp.Eq(beta * P, alpha)),
                         all(sp.expand(e.subs(alpha, beta * prod)) == 0 for e in s.rhs))
        for depth in depths:
            s = chain(depth, rule)
            ctx.sample(sentence(f"{rule.upper()} depth {depth}: 20 random starts per case "
                                "converge to {eq}", eq=sp.Eq(P, alpha / beta)),
                       st.tuples(parameter_examples(s), seeds),
                       lambda ex, s=s, depth=depth: _converges_to_optimum(s, depth, ex, 20),
                       ctx.cases(2, 5))
