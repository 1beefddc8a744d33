"""Convergence of linear chains: the 1-1-1 RBP reduction to a cubic, and BP, RBP, SRBP
chains of depth 2 to 5 (symbolic fixed-point set, numerical convergence from random starts)."""

from __future__ import annotations

import numpy as np
import sympy as sp
from _common import chain, invariant_steps, parameter_examples, random_values, seeds
from hypothesis import strategies as st

import symdyn as sd
from symdyn.analysis import reduce
from symdyn.numerics import integrate_batch
from symdyn.verify import proof

alpha, beta = sp.symbols("alpha beta")


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
       hypotheses=r"$\beta > 0$, $\alpha \neq 0$, $c_1 \neq 0$.",
       claim=r"With $K = a_1^2 - 2 c_1 a_2$ (a first integral), 1-1-1 RBP reduces to "
             r"$\dot a_1 = \alpha c_1 - \frac{\beta}{2} a_1 (a_1^2 - K)$, a cubic with leading "
             r"coefficient $-\beta/2 < 0$; hence every trajectory converges to a point of the "
             r"hyperbola $a_1 a_2 = \alpha/\beta$.")
def rbp_111(ctx):
    s = sd.derive("1-1-1", "rbp")
    a1, a2 = s.state
    c1 = sp.Symbol("c1")
    H = a1**2 - 2 * c1 * a2
    invariant_steps(ctx, s, [H], "1-1-1 RBP")
    red = reduce(s, invariants=[H], solve_for=[a2])
    (K,) = red.constants
    g = red.rhs[0]
    ctx.symbolic("the reduction (checked by substitution back) is the cubic "
                 "alpha c1 - beta/2 a1 (a1^2 - K)",
                 red.verified and sp.expand(g - (alpha * c1 - beta / 2 * a1 * (a1**2 - K))) == 0,
                 latex=rf"\dot a_1 = {sp.latex(sp.collect(sp.expand(g), a1))}")
    ctx.symbolic("its leading coefficient in a1 is -beta/2, negative for beta > 0",
                 sp.Poly(g, a1).LC() == -beta / 2)
    ctx.symbolic("at a1 = 0 the cubic is alpha c1, non-zero: every equilibrium has a1 != 0",
                 sp.simplify(g.subs(a1, 0) - alpha * c1) == 0)
    ctx.symbolic("da2/dt = a1 (alpha - beta a1 a2): equilibria with a1 != 0 lie on "
                 "a1 a2 = alpha/beta", sp.expand(s.rhs[1] - a1 * (alpha - beta * a1 * a2)) == 0)
    ctx.note("A scalar autonomous ODE whose right-hand side is a polynomial of odd degree with "
             "negative leading coefficient has bounded, monotone solutions, which converge to "
             "an equilibrium; a2 = (a1^2 - K)/(2 c1) then converges too. With the steps above, "
             "every trajectory converges to a point of a1 a2 = alpha/beta (necessarily of its "
             "stable part, where the transverse eigenvalue -beta (a1^2 + c1 a2) is negative).")
    ctx.sample("random alpha, beta > 0, c1 != 0: 50 random starts each converge to "
               "a1 a2 = alpha/beta", st.tuples(parameter_examples(s), seeds),
               lambda ex: _converges_to_optimum(s, 2, ex, 50), ctx.cases(5, 40))


@proof("chain-convergence", title="Linear chains converge under BP, RBP and SRBP",
       hypotheses=r"$\beta > 0$; random non-zero channel weights of random signs; random "
                  r"initial weights.",
       claim=r"Linear chains of depth $L = 2, \dots, 5$ trained by BP, RBP or SRBP converge to "
             r"a fixed point with $P = a_L \cdots a_1 = \alpha/\beta$ from almost every initial "
             r"condition. Symbolically: every equation vanishes where $\alpha = \beta P$; "
             r"numerically: random parameters and starts.")
def chains(ctx):
    depths = (2, 3) if ctx.quick else (2, 3, 4, 5)
    for rule in ("bp", "rbp", "srbp"):
        for depth in range(2, 6):
            s = chain(depth, rule)
            P = sp.Mul(*s.state[:depth])
            ctx.symbolic(f"{rule.upper()} depth {depth}: every equation vanishes on "
                         "beta P = alpha",
                         all(sp.expand(e.subs(alpha, beta * P)) == 0 for e in s.rhs))
        for depth in depths:
            s = chain(depth, rule)
            ctx.sample(f"{rule.upper()} depth {depth}: 20 random starts per case converge "
                       "to P = alpha/beta", st.tuples(parameter_examples(s), seeds),
                       lambda ex, s=s, depth=depth: _converges_to_optimum(s, depth, ex, 20),
                       ctx.cases(2, 5))
